-- materialized: daily
-- depends_on: facility_visits_by_period
-- Admissions per facility and JST clock hour: the day's rhythm at each gate (the hour
-- rows of facility_visits_by_period for the day; hours add up to facility_daily.entries,
-- so a hidden hour is protected against that total there).
with cells as (
    select *
    from period_days('marts.facility_visits_by_period', getvariable('first_service_date'), getvariable('last_service_date'))
    where segment_kind = 'all'
        and hour_of_day is not null
),

final as (
    select
        service_date,
        source_kind,
        facility_id,
        hour_of_day,
        entries,
        visitors,
        is_suppressed,
        suppression
    from cells
    order by source_kind, facility_id, hour_of_day
)

select * from final
