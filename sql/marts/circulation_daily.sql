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

final as (
    select
        service_date,
        source_kind,
        segment,
        visitors,
        multi_facility_visitors,
        circulation_rate,
        facilities_per_visitor,
        revisits,
        is_suppressed,
        suppression,
        day_type
    from cells
    order by source_kind, segment
)

select * from final
