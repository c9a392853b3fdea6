-- The latest ISO week fitted for all visitors' card taps, starting on or before a day
-- (null: any).
-- Variable: up_to.
select max(period_start) as period_start
from marts.opportunity_pairs
where
    period_grain = 'iso_week' and source_kind = 'entry_log' and segment = 'all'
    and (getvariable('up_to') is null or period_start <= getvariable('up_to'))
