-- Every cut's published day cells within its period (a hidden day cell's moves are null),
-- keyed by the cut's five columns: the gravity model is fitted on these.
-- Variables: period_grains (a list); segments, the (segment_kind, segment) structs of the
-- cuts fitted_cells found (flowlib.opportunities: that file alone says which segments).
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
    and list_contains(getvariable('segments'), { 'segment_kind': d.segment_kind, 'segment': d.segment })
order by all
