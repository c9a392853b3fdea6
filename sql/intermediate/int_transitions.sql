-- materialized: view
-- depends_on: int_stops
-- Consecutive stops of the same trip: a trip of n stops gives n - 1 transitions. Minutes
-- between the two arrivals (transfer), between leaving the origin and arriving (gap), the
-- walking time between the two facilities and, for card taps, the dwell estimate at the
-- origin: arrival-to-arrival minus walking, never below zero. Walking time is the
-- great-circle (haversine) distance between the facilities in ref.facilities times a
-- detour factor of 1.3, walked at 4.5 km/h; null when a facility has no coordinates.
-- A view: each stop already carries the next stop of its trip, so a transition is a
-- filtered stop plus arithmetic, cheaper to compute on read than to store again. The walking
-- minutes join on the day's facility codes, not on the ids: integers, and the ids are then
-- decoded only for the columns a reader keeps. A reader grouping one day's moves can group
-- on source_code, from_facility_code and to_facility_code and decode the cells after
-- (int_codes); the codes hold for their service day only.
with stops as (
    select * from intermediate.int_stops
    where next_facility_code is not null
),

places as (
    -- each service day's facility codes, with the coordinates of those in ref.facilities
    select
        codes.service_date,
        day_facilities.facility_code,
        facilities.lat,
        facilities.lon
    from intermediate.int_codes as codes,
        unnest(codes.facility_ids) with ordinality as day_facilities (facility_id, facility_code)
    inner join ref.facilities as facilities on day_facilities.facility_id = facilities.facility_id
),

walking as (
    -- minutes on foot between every two facilities of a day with coordinates, computed per
    -- pair rather than per move
    select
        origin.service_date,
        origin.facility_code,
        destination.facility_code as next_facility_code,
        2 * 6371.0088 * asin(sqrt(
            pow(sin(radians(destination.lat - origin.lat) / 2), 2)
            + cos(radians(origin.lat)) * cos(radians(destination.lat))
            * pow(sin(radians(destination.lon - origin.lon) / 2), 2)
        )) * 1.3 / 4.5 * 60 as walking_minutes
    from places as origin
    inner join places as destination on origin.service_date = destination.service_date
),

paired as (
    select
        stops.*,
        date_diff('second', stops.arrived_at, stops.next_arrived_at) / 60.0 as transfer_minutes,
        date_diff('second', stops.last_seen_at, stops.next_arrived_at) / 60.0 as gap_minutes,
        walking.walking_minutes
    from stops
    left join walking using (service_date, facility_code, next_facility_code)
),

final as (
    select
        service_date,
        source_kind,
        source_code,
        visitor_id,
        trip_index,
        stop_number,
        segment,
        ticket_type,
        facility_id as from_facility_id,
        next_facility_id as to_facility_id,
        facility_code as from_facility_code,
        next_facility_code as to_facility_code,
        segment_code,
        ticket_code,
        arrived_at as from_arrived_at,
        last_seen_at as from_last_seen_at,
        next_arrived_at as to_arrived_at,
        transfer_minutes,
        gap_minutes,
        round(walking_minutes, 2) as walking_minutes,
        case
            when source_kind = 'entry_log' and walking_minutes is not null
                then round(greatest(transfer_minutes - walking_minutes, 0), 2)
        end as dwell_estimate_minutes
    from paired
)

select * from final
