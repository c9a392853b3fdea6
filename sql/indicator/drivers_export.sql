-- marts.info_satisfaction_drivers in the order of the published CSV: per period and segment,
-- each driver's values by respondents, the pooled 'other' last. Every column, in the
-- mart's order (hence the wildcard).
select * from marts.info_satisfaction_drivers  -- noqa: AM04
order by
    period_type,
    period_start,
    case segment when 'domestic' then 1 when 'international' then 2 else 3 end,
    driver_type,
    driver_value = 'other',
    respondents desc nulls last,
    driver_value
