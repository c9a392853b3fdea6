-- materialized: daily
-- depends_on: int_stops, int_trips, int_codes
-- One row per visitor and service day: how many trips and stops, whether a trip took in
-- two or more facilities (周遊), the first and last facility of the day, and revisits. Aggregated
-- from the trips (one row per trip), never from the stops. Grouped on the day's codes and
-- decoded once per visitor-day (int_codes), not once per trip.
with trips as (
    select * from intermediate.int_trips
    where service_date between getvariable('first_service_date') and getvariable('last_service_date')
),

codes as (
    select * from intermediate.int_codes
    where service_date between getvariable('first_service_date') and getvariable('last_service_date')
),

visitor_days as (
    select
        service_date,
        source_code,
        visitor_id,
        any_value(segment_code) as segment_code,
        any_value(ticket_code) as ticket_code,
        cast(count(*) as integer) as n_trips,
        cast(sum(n_stops) as integer) as n_stops,
        cast(max(n_facilities) as integer) as most_facilities_in_a_trip,
        cast(sum(n_facilities) as integer) as facilities_visited,
        arg_min(origin_facility_code, trip_index) as first_facility_code,
        arg_max(destination_facility_code, trip_index) as last_facility_code,
        min(started_at) as first_arrived_at,
        max(ended_at) as last_seen_at,
        -- returns to a facility later in the same trip (FLOW_SELF_TRANSITIONS=revisit)
        cast(sum(revisits) as integer) as revisits
    from trips
    group by service_date, source_code, visitor_id
),

final as (
    select
        visitor_days.service_date,
        source_name(visitor_days.source_code) as source_kind,
        visitor_days.visitor_id,
        ['domestic', 'international', 'unknown'][visitor_days.segment_code] as segment,
        codes.ticket_types[visitor_days.ticket_code] as ticket_type,
        visitor_days.n_trips,
        visitor_days.n_stops,
        visitor_days.most_facilities_in_a_trip,
        visitor_days.facilities_visited,
        codes.facility_ids[visitor_days.first_facility_code] as first_facility_id,
        codes.facility_ids[visitor_days.last_facility_code] as last_facility_id,
        visitor_days.first_arrived_at,
        visitor_days.last_seen_at,
        visitor_days.revisits,
        -- the codes beside what they decode to (int_trips): the period marts group on them
        visitor_days.source_code,
        visitor_days.segment_code,
        visitor_days.ticket_code
    from visitor_days
    inner join codes using (service_date)
)

select * from final
