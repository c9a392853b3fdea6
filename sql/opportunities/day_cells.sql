-- One cut's published day cells within the period (a hidden day cell's moves are null): the
-- gravity model is fitted on these.
-- Variables: period_grain, period_start, source_kind, segment_kind, segment.
select
    d.from_facility_id,
    d.to_facility_id,
    d.period_start as day,
    case when d.is_suppressed or d.transitions is null then null else d.transitions end as moves
from marts.transitions_by_period as d
inner join ref.calendar_periods as p on d.period_start = p.calendar_date
where
    d.period_grain = 'day' and p.period_grain = getvariable('period_grain')
    and p.period_start = getvariable('period_start') and d.source_kind = getvariable('source_kind')
    and d.day_type = 'all' and d.segment_kind = getvariable('segment_kind') and d.segment = getvariable('segment')
order by all
