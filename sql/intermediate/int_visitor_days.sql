-- materialized: daily
-- depends_on: int_stops, int_trips
-- One row per visitor and service day: how many trips and stops, whether a trip took in
-- two or more facilities (周遊), the first and last facility of the day, and revisits. Aggregated
-- from the trips (one row per trip), never from the stops.
with trips as (
    select * from intermediate.int_trips
    where service_date between getvariable('first_service_date') and getvariable('last_service_date')
),

final as (
    select
        service_date,
        source_kind,
        visitor_id,
        any_value(segment) as segment,
        any_value(ticket_type) as ticket_type,
        cast(count(*) as integer) as n_trips,
        cast(sum(n_stops) as integer) as n_stops,
        cast(max(n_facilities) as integer) as most_facilities_in_a_trip,
        cast(sum(n_facilities) as integer) as facilities_visited,
        arg_min(origin_facility_id, trip_index) as first_facility_id,
        arg_max(destination_facility_id, trip_index) as last_facility_id,
        min(started_at) as first_arrived_at,
        max(ended_at) as last_seen_at,
        -- returns to a facility later in the same trip (FLOW_SELF_TRANSITIONS=revisit)
        cast(sum(revisits) as integer) as revisits,
        -- the codes beside what they decode to (int_trips): the period marts group on them
        any_value(source_code) as source_code,
        any_value(segment_code) as segment_code,
        any_value(ticket_code) as ticket_code
    from trips
    group by service_date, source_kind, visitor_id
)

select * from final
