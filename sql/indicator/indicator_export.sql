-- marts.info_satisfaction_indicator in the order of the published CSV: fiscal years first,
-- then calendar years, quarters and months; domestic before international. Every column, in
-- the mart's order (hence the wildcard).
select * from marts.info_satisfaction_indicator  -- noqa: AM04
order by
    case period_type
        when 'fiscal_year' then 1 when 'calendar_year' then 2
        when 'quarter' then 3 else 4
    end,
    period_start,
    case segment when 'domestic' then 1 when 'international' then 2 else 3 end
