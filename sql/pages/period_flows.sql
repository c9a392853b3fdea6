-- Moves between facilities in one period (all day types, all visitors), one source kind.
-- Variables: period_grain, period_start, source_kind.
select
    from_facility_id,
    to_facility_id,
    transitions,
    visitors,
    next_probability,
    transfer_minutes_median,
    is_suppressed
from period_cut('marts.transitions_by_period', getvariable('period_grain'), getvariable('period_start'))
where source_kind = getvariable('source_kind') and segment_kind = 'all'
