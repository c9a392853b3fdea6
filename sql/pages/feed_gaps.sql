-- Facilities, areas and the city whose coverage was incomplete on a day of first..last, with
-- the deliveries that left the gap (per source kind).
-- Variables: first_service_date, last_service_date.
select
    scope,
    scope_id,
    source_kind,
    list(
        struct_pack(source := source, service_date := service_date, status := status)
        order by service_date, source
    ) as feeds
from marts.feed_coverage
where
    service_date between getvariable('first_service_date') and getvariable('last_service_date')
    and not is_complete
group by all
order by scope, scope_id, source_kind
