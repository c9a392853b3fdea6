-- Entries and visitors per facility on one service day, measured by one source kind.
-- Variables: service_date, source_kind.
select
    facility_id,
    entries,
    visitors,
    domestic_visitors,
    international_visitors,
    unknown_visitors,
    is_suppressed
from marts.facility_daily
where service_date = getvariable('service_date') and source_kind = getvariable('source_kind')
order by facility_id
