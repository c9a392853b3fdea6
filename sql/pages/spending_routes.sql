-- Revenue by route and by first facility in one period (all day types), largest per unit first.
-- Every published column (hence the wildcard).
-- Variables: period_grain, period_start.
select * from period_cut('marts.spending_routes_by_period', getvariable('period_grain'), getvariable('period_start'))  -- noqa: AM04
order by revenue_per_unit_jpy desc nulls last, facility_id, route
