-- materialized: daily
-- depends_on: transitions_by_period
-- Facility-to-facility moves within trips per service day and source kind, with
-- transfer-time quartiles and the share of all moves leaving the origin (next-facility
-- probability): the day rows, all visitors, of transitions_by_period.
with cells as (
    select *
    from period_days('marts.transitions_by_period', getvariable('first_service_date'), getvariable('last_service_date'))
    where segment_kind = 'all'
),

calendar as (
    select calendar_date, day_type from ref.calendar
),

final as (
    select
        cells.period_start as service_date,
        cells.source_kind,
        cells.from_facility_id,
        cells.to_facility_id,
        cells.transitions,
        cells.visitors,
        cells.transfer_minutes_p25,
        cells.transfer_minutes_median,
        cells.transfer_minutes_p75,
        cells.next_probability,
        cells.is_suppressed,
        cells.suppression,
        calendar.day_type
    from cells
    inner join calendar on calendar.calendar_date = cells.period_start
    order by cells.source_kind, cells.from_facility_id, cells.to_facility_id
)

select * from final
