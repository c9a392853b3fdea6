-- materialized: daily
-- 周遊率 (circulation rate): the share of visitors whose trip took in two or more
-- facilities, overall and per segment.
with trips as (
    select * from intermediate.int_trips
    where service_date = getvariable('service_date')
),

per_visitor as (
    select
        service_date,
        visitor_key,
        min(segment) as segment,
        max(n_facilities) as most_facilities_in_a_trip,
        sum(n_facilities) as facilities_visited
    from trips
    group by all
),

segmented as (
    select service_date, segment, most_facilities_in_a_trip, facilities_visited from per_visitor
    union all
    select service_date, 'all' as segment, most_facilities_in_a_trip, facilities_visited from per_visitor
),

counted as (
    select
        service_date,
        segment,
        count(*) as visitors,
        count(*) filter (where most_facilities_in_a_trip >= 2) as multi_facility_visitors,
        avg(facilities_visited) as facilities_per_visitor
    from segmented
    group by all
),

final as (
    select
        service_date,
        segment,
        case when not suppressed then visitors end as visitors,
        case when not suppressed then multi_facility_visitors end as multi_facility_visitors,
        case when not suppressed then round(multi_facility_visitors / visitors, 4) end as circulation_rate,
        case when not suppressed then round(facilities_per_visitor, 3) end as facilities_per_visitor,
        suppressed as is_suppressed
    from (
        select
            *,
            visitors < getvariable('min_cell_count')
            or multi_facility_visitors < getvariable('min_cell_count')
            or visitors - multi_facility_visitors < getvariable('min_cell_count') as suppressed
        from counted
    )
    order by segment
)

select * from final
