-- materialized: daily
-- Admissions per facility and JST clock hour: the day's rhythm at each gate.
with entries as (
    select * from staging.stg_entry_log
    where service_date = getvariable('service_date')
),

counted as (
    select
        service_date,
        facility_id,
        cast(hour(entered_at) as smallint) as hour_of_day,
        count(*) as entries,
        count(distinct visitor_key) as visitors
    from entries
    group by all
),

final as (
    select
        service_date,
        facility_id,
        hour_of_day,
        case when visitors >= getvariable('min_cell_count') then entries end as entries,
        case when visitors >= getvariable('min_cell_count') then visitors end as visitors,
        visitors < getvariable('min_cell_count') as is_suppressed
    from counted
    order by facility_id, hour_of_day
)

select * from final
