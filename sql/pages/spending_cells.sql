-- Admission revenue per facility and segment in one period (all day types), largest first.
-- Every published column (hence the wildcard).
-- Variables: period_grain, period_start.
select * from period_cut('marts.spending_by_period', getvariable('period_grain'), getvariable('period_start'))  -- noqa: AM04
order by revenue_jpy desc nulls last, facility_id, segment
