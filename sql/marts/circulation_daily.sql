-- materialized: daily
-- depends_on: circulation_by_period
-- 周遊率 (circulation rate) per service day and source kind: the share of visitors whose
-- trip took in two or more facilities, overall and per segment of card issuer (the day
-- rows of circulation_by_period).
with cells as (
    select *
    from period_days('marts.circulation_by_period', getvariable('first_service_date'), getvariable('last_service_date'))
    where segment_kind in ('all', 'residence')
        and facility_role = 'all'
),

calendar as (
    select calendar_date, day_type from ref.calendar
),

final as (
    select
        cells.period_start as service_date,
        cells.source_kind,
        cells.segment,
        cells.visitors,
        cells.multi_facility_visitors,
        cells.circulation_rate,
        cells.facilities_per_visitor,
        cells.revisits,
        cells.is_suppressed,
        cells.suppression,
        calendar.day_type
    from cells
    inner join calendar on calendar.calendar_date = cells.period_start
    order by cells.source_kind, cells.segment
)

select * from final
