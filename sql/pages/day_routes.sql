-- Routes of one service day, measured by one source kind, published ones first by rank.
-- Variables: service_date, source_kind.
select
    route_rank,
    route,
    visitors,
    is_suppressed
from marts.routes_daily
where service_date = getvariable('service_date') and source_kind = getvariable('source_kind')
order by is_suppressed, route_rank nulls last, route
