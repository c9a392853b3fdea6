-- Admission revenue per facility and segment in one period (all day types), largest first.
-- Every published column (hence the wildcard).
-- Variables: period_grain, period_start.
select * from marts.spending_by_period  -- noqa: AM04
where period_grain = getvariable('period_grain') and period_start = getvariable('period_start') and day_type = 'all'
order by revenue_jpy desc nulls last, facility_id, segment
