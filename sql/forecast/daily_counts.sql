-- Daily counts per source kind and facility, the series the forecast fits.
select
    service_date,
    source_kind,
    facility_id,
    entries,
    visitors,
    is_suppressed
from marts.facility_daily
