-- materialized: daily
-- depends_on: routes_by_period
-- Whole-trip routes of 2 to 5 stops per service day and source kind, ranked by distinct
-- visitors (the day rows, all visitors, of routes_by_period). Suppressed routes are kept
-- (marked) but not ranked.
with cells as (
    select *
    from period_days('marts.routes_by_period', getvariable('first_service_date'), getvariable('last_service_date'))
    where segment_kind = 'all'
        and route is not null
),

final as (
    select
        service_date,
        source_kind,
        route_rank,
        route,
        n_stops,
        visitors,
        is_suppressed,
        suppression
    from cells
    order by source_kind, route_rank nulls last, route
)

select * from final
