-- Revenue of every day, all facilities and visitors. Every published column (hence the wildcard).
select * from marts.spending_by_period  -- noqa: AM04
where period_grain = 'day' and day_type = 'all' and facility_id = 'all' and segment_kind = 'all'
order by period_start
