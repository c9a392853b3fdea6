-- Hourly entries per facility; a hidden (suppressed) hour is null, neither fitted nor scored.
select
    service_date,
    source_kind,
    facility_id,
    hour_of_day,
    case when coalesce(is_suppressed, false) then null else entries end as count
from marts.facility_entries_hourly
