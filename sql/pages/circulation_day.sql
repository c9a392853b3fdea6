-- Circulation per segment on one service day, measured by one source kind.
-- Variables: service_date, source_kind.
select
    segment,
    visitors,
    multi_facility_visitors,
    circulation_rate,
    is_suppressed
from marts.circulation_daily
where service_date = getvariable('service_date') and source_kind = getvariable('source_kind')
