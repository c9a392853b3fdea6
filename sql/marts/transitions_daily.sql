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

final as (
    select
        service_date,
        source_kind,
        from_facility_id,
        to_facility_id,
        transitions,
        visitors,
        transfer_minutes_p25,
        transfer_minutes_median,
        transfer_minutes_p75,
        next_probability,
        is_suppressed,
        suppression,
        day_type
    from cells
    order by source_kind, from_facility_id, to_facility_id
)

select * from final
