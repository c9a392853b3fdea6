-- One cut's published moves of the period, hidden ones included (is_suppressed, suppression).
-- Variables: period_grain, period_start, source_kind, segment_kind, segment.
select
    from_facility_id,
    to_facility_id,
    transitions,
    is_suppressed,
    suppression
from marts.transitions_by_period
where
    period_grain = getvariable('period_grain') and period_start = getvariable('period_start')
    and source_kind = getvariable('source_kind') and day_type = 'all'
    and segment_kind = getvariable('segment_kind') and segment = getvariable('segment')
order by all
