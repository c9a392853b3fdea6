-- The five top routes of one ISO week per source kind (all day types, all visitors). Every
-- published column (hence the wildcard).
-- Variable: period_start.
select * from period_cut('marts.routes_by_period', 'iso_week', getvariable('period_start'))  -- noqa: AM04
where segment_kind = 'all' and route is not null and route_rank <= 5
order by source_kind, route_rank
