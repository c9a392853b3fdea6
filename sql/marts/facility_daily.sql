-- materialized: daily
-- Admissions and distinct visitors per facility and day, split by where the card was issued.
with entries as (
    select * from staging.stg_entry_log
    where service_date = getvariable('service_date')
),

counted as (
    select
        service_date,
        facility_id,
        count(*) as entries,
        count(distinct visitor_key) as visitors,
        count(distinct visitor_key) filter (where segment = 'domestic') as domestic_visitors,
        count(distinct visitor_key) filter (where segment = 'international') as international_visitors,
        count(distinct visitor_key) filter (where segment = 'unknown') as unknown_visitors
    from entries
    group by all
),

final as (
    select
        service_date,
        facility_id,
        case when visitors >= getvariable('min_cell_count') then entries end as entries,
        case when visitors >= getvariable('min_cell_count') then visitors end as visitors,
        case when visitors >= getvariable('min_cell_count') then domestic_visitors end as domestic_visitors,
        case when visitors >= getvariable('min_cell_count') then international_visitors end as international_visitors,
        case when visitors >= getvariable('min_cell_count') then unknown_visitors end as unknown_visitors,
        visitors < getvariable('min_cell_count') as is_suppressed
    from counted
    order by facility_id
)

select * from final
