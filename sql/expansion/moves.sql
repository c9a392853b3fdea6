-- Every card-tap count the all-visitor expansion scales: transitions, routes and the
-- circulation's visitors and multi-facility visitors, one row per cell and day.
select
    service_date,
    'transition' as measure,
    from_facility_id,
    to_facility_id,
    cast(null as varchar) as route,
    visitors,
    is_suppressed
from marts.transitions_daily
where source_kind = 'entry_log'
union all
select
    service_date,
    'route' as measure,
    null as from_facility_id,
    null as to_facility_id,
    route,
    visitors,
    is_suppressed
from marts.routes_daily
where source_kind = 'entry_log'
union all
select
    service_date,
    'circulation_visitors' as measure,
    null as from_facility_id,
    null as to_facility_id,
    null as route,
    visitors,
    is_suppressed
from marts.circulation_daily
where source_kind = 'entry_log' and segment = 'all'
union all
select
    service_date,
    'multi_facility_visitors' as measure,
    null as from_facility_id,
    null as to_facility_id,
    null as route,
    multi_facility_visitors as visitors,
    is_suppressed
from marts.circulation_daily
where source_kind = 'entry_log' and segment = 'all'
order by all
