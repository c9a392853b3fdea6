-- materialized: daily
-- depends_on: int_stops, int_trips
-- One row per visitor and service day: how many trips and stops, whether a trip took in
-- two or more facilities (周遊), and the first and last facility of the day.
with stops as (
    select * from intermediate.int_stops
    where service_date between getvariable('first_service_date') and getvariable('last_service_date')
),

trips as (
    select * from intermediate.int_trips
    where service_date between getvariable('first_service_date') and getvariable('last_service_date')
),

per_visitor_stops as (
    select
        service_date,
        source_kind,
        visitor_id,
        any_value(segment) as segment,
        any_value(ticket_type) as ticket_type,
        count(*) as n_stops,
        arg_min(facility_id, trip_index * 1000000 + stop_number) as first_facility_id,
        arg_max(facility_id, trip_index * 1000000 + stop_number) as last_facility_id,
        min(arrived_at) as first_arrived_at,
        max(last_seen_at) as last_seen_at
    from stops
    group by service_date, source_kind, visitor_id
),

per_visitor_trips as (
    select
        service_date,
        source_kind,
        visitor_id,
        count(*) as n_trips,
        max(n_facilities) as most_facilities_in_a_trip,
        sum(n_facilities) as facilities_visited
    from trips
    group by all
),

final as (
    select
        s.service_date,
        s.source_kind,
        s.visitor_id,
        s.segment,
        s.ticket_type,
        cast(t.n_trips as integer) as n_trips,
        cast(s.n_stops as integer) as n_stops,
        cast(t.most_facilities_in_a_trip as integer) as most_facilities_in_a_trip,
        cast(t.facilities_visited as integer) as facilities_visited,
        s.first_facility_id,
        s.last_facility_id,
        s.first_arrived_at,
        s.last_seen_at
    from per_visitor_stops as s
    inner join per_visitor_trips as t using (service_date, source_kind, visitor_id)
)

select * from final
