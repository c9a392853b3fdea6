-- Revenue by route and by first facility in one period (all day types), largest per unit first.
-- Every published column (hence the wildcard).
-- Variables: period_grain, period_start.
select * from marts.spending_routes_by_period  -- noqa: AM04
where period_grain = getvariable('period_grain') and period_start = getvariable('period_start') and day_type = 'all'
order by revenue_per_unit_jpy desc nulls last, facility_id, route
