-- The five top routes of one ISO week per source kind (all day types, all visitors). Every
-- published column (hence the wildcard).
-- Variable: period_start.
select * from marts.routes_by_period  -- noqa: AM04
where
    period_grain = 'iso_week' and period_start = getvariable('period_start') and day_type = 'all'
    and segment_kind = 'all' and route is not null and route_rank <= 5
order by source_kind, route_rank
