-- materialized: daily
-- depends_on: facility_visits_by_period
-- Admissions and distinct visitors per facility, source kind and service day, split by
-- where the card was issued: the day rows of facility_visits_by_period (already
-- suppressed there, so both tables hide the same cells). A segment column is null when
-- its own cell is hidden (it holds fewer than k cards, or hides one that does); the
-- segment split is unknown (null) for Wi-Fi sensors.
with cells as (
    select *
    from period_days('marts.facility_visits_by_period', getvariable('first_service_date'), getvariable('last_service_date'))
    where hour_of_day is null
        and segment_kind in ('all', 'residence')
),

pivoted as (
    select
        service_date,
        day_type,
        source_kind,
        facility_id,
        max(entries) filter (where segment_kind = 'all') as entries,
        max(visitors) filter (where segment_kind = 'all') as visitors,
        bool_or(is_suppressed) filter (where segment_kind = 'all') as is_suppressed,
        max(suppression) filter (where segment_kind = 'all') as suppression,
        max(visitors) filter (where segment = 'domestic') as domestic_visitors,
        max(visitors) filter (where segment = 'international') as international_visitors,
        max(visitors) filter (where segment = 'unknown') as unknown_visitors,
        coalesce(bool_or(is_suppressed) filter (where segment = 'domestic'), false) as domestic_hidden,
        coalesce(bool_or(is_suppressed) filter (where segment = 'international'), false) as international_hidden,
        coalesce(bool_or(is_suppressed) filter (where segment = 'unknown'), false) as unknown_hidden
    from cells
    group by all
),

final as (
    select
        pivoted.service_date,
        pivoted.source_kind,
        pivoted.facility_id,
        pivoted.entries,
        pivoted.visitors,
        case
            when pivoted.source_kind <> 'entry_log' or pivoted.is_suppressed or pivoted.domestic_hidden then null
            else coalesce(pivoted.domestic_visitors, 0)
        end as domestic_visitors,
        case
            when pivoted.source_kind <> 'entry_log' or pivoted.is_suppressed or pivoted.international_hidden then null
            else coalesce(pivoted.international_visitors, 0)
        end as international_visitors,
        case
            when pivoted.source_kind <> 'entry_log' or pivoted.is_suppressed or pivoted.unknown_hidden then null
            else coalesce(pivoted.unknown_visitors, 0)
        end as unknown_visitors,
        pivoted.is_suppressed,
        pivoted.suppression,
        pivoted.day_type
    from pivoted
    order by pivoted.source_kind, pivoted.facility_id
)

select * from final
