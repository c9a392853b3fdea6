-- Per facility: entries and distinct visitors of one period (all day types, card taps),
-- in total and per residence segment.
-- Variables: period_grain, period_start.
select
    facility_id,
    segment_kind,
    segment,
    entries,
    visitors,
    is_suppressed
from period_cut('marts.facility_visits_by_period', getvariable('period_grain'), getvariable('period_start'))
where source_kind = 'entry_log' and hour_of_day is null and segment_kind in ('all', 'residence')
order by facility_id
