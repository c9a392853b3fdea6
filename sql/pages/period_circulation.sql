-- Circulation per residence segment of one period (all day types, card taps).
-- Variables: period_grain, period_start.
select
    segment,
    visitors,
    multi_facility_visitors,
    circulation_rate,
    is_suppressed
from period_cut('marts.circulation_by_period', getvariable('period_grain'), getvariable('period_start'))
where source_kind = 'entry_log' and facility_role = 'all' and segment_kind in ('all', 'residence')
