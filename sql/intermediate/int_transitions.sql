-- materialized: view
-- depends_on: int_stops
-- Consecutive stops of the same trip: a trip of n stops gives n - 1 transitions. Minutes
-- between the two arrivals (transfer), between leaving the origin and arriving (gap), the
-- walking time between the two facilities and, for card taps, the dwell estimate at the
-- origin: arrival-to-arrival minus walking, never below zero. Walking time is the
-- great-circle (haversine) distance between the facilities in ref.facilities times a
-- detour factor of 1.3, walked at 4.5 km/h; null when a facility has no coordinates.
-- A view: each stop already carries the next stop of its trip, so a transition is a
-- filtered stop plus arithmetic, cheaper to compute on read than to store again.
with stops as (
    select * from intermediate.int_stops
    where next_facility_id is not null
),

walking as (
    -- minutes on foot between every two facilities with coordinates, computed per pair
    -- rather than per move
    select
        origin.facility_id,
        destination.facility_id as next_facility_id,
        2 * 6371.0088 * asin(sqrt(
            pow(sin(radians(destination.lat - origin.lat) / 2), 2)
            + cos(radians(origin.lat)) * cos(radians(destination.lat))
            * pow(sin(radians(destination.lon - origin.lon) / 2), 2)
        )) * 1.3 / 4.5 * 60 as walking_minutes
    from ref.facilities as origin
    cross join ref.facilities as destination
),

paired as (
    select
        stops.*,
        date_diff('second', stops.arrived_at, stops.next_arrived_at) / 60.0 as transfer_minutes,
        date_diff('second', stops.last_seen_at, stops.next_arrived_at) / 60.0 as gap_minutes,
        walking.walking_minutes
    from stops
    left join walking using (facility_id, next_facility_id)
),

final as (
    select
        service_date,
        source_kind,
        visitor_id,
        trip_index,
        stop_number,
        segment,
        ticket_type,
        facility_id as from_facility_id,
        next_facility_id as to_facility_id,
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
