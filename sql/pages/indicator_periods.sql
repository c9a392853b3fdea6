-- The indicator's domestic and international cells of one period type, latest period first,
-- for periods starting on or before a date (null: any).
-- Variables: period_type, as_of (a date or null).
select
    period_type,
    period_label,
    period_start,
    period_end,
    months_with_answers,
    segment,
    respondents,
    share,
    ci_low,
    ci_high,
    too_few_answers,
    baseline_share,
    target_share,
    progress_to_target,
    change_significant,
    change_vs_baseline_p_value
from marts.info_satisfaction_indicator
where
    period_type = getvariable('period_type') and segment in ('domestic', 'international')
    and (getvariable('as_of') is null or period_start <= getvariable('as_of'))
order by period_start desc
