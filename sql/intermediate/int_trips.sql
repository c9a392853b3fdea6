-- materialized: daily
-- depends_on: int_stops
-- One row per trip: its ordered route and size.
with stops as (
    select * from intermediate.int_stops
    where service_date = getvariable('service_date')
),

final as (
    select
        service_date,
        source_kind,
        visitor_key,
        trip_index,
        min(segment) as segment,
        cast(count(*) as integer) as n_stops,
        cast(count(distinct facility_id) as integer) as n_facilities,
        string_agg(facility_id, ' > ' order by stop_number) as route,
        min(arrived_at) as started_at,
        max(last_seen_at) as ended_at
    from stops
    group by all
)

select * from final
