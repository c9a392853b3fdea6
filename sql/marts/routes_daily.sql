-- materialized: daily
-- Whole-trip routes of 2 to 5 stops, ranked by distinct visitors. Suppressed routes are
-- kept (marked) but not ranked.
with trips as (
    select * from intermediate.int_trips
    where service_date = getvariable('service_date')
      and n_stops between 2 and 5
),

counted as (
    select
        service_date,
        route,
        n_stops,
        count(distinct visitor_key) as visitors
    from trips
    group by all
),

ranked as (
    select
        *,
        visitors < getvariable('min_cell_count') as is_suppressed,
        case
            when visitors >= getvariable('min_cell_count')
                then row_number() over (
                    partition by visitors >= getvariable('min_cell_count')
                    order by visitors desc, route
                )
        end as route_rank
    from counted
),

final as (
    select
        service_date,
        cast(route_rank as integer) as route_rank,
        route,
        cast(n_stops as integer) as n_stops,
        case when not is_suppressed then visitors end as visitors,
        is_suppressed
    from ranked
    order by route_rank nulls last, route
)

select * from final
