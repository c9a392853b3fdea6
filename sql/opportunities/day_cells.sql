-- Every cut's published day cells within its period (a hidden day cell's moves are null),
-- keyed by the cut's five columns: the gravity model is fitted on these.
-- Variable: period_grains (a list).
select
    p.period_grain,
    p.period_start,
    d.source_kind,
    d.segment_kind,
    d.segment,
    d.from_facility_id,
    d.to_facility_id,
    d.period_start as day,
    case when d.is_suppressed or d.transitions is null then null else d.transitions end as moves
from marts.transitions_by_period as d
inner join ref.calendar_periods as p on d.period_start = p.calendar_date
where
    d.period_grain = 'day' and list_contains(getvariable('period_grains'), p.period_grain)
    and d.day_type = 'all'
    and (d.segment_kind = 'all' or (d.segment_kind = 'residence' and d.segment in ('domestic', 'international')))
order by all
