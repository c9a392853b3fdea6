-- Routes of one period (all day types, all visitors), one source kind, published ones first.
-- Variables: period_grain, period_start, source_kind.
select
    route_rank,
    route,
    visitors,
    is_suppressed
from period_cut('marts.routes_by_period', getvariable('period_grain'), getvariable('period_start'))
where source_kind = getvariable('source_kind') and segment_kind = 'all' and route is not null
order by is_suppressed, route_rank nulls last, route
