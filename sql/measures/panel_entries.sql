-- A measure's panel when its outcome is visits: card-tap visitors per facility and day.
-- Variables: first_service_date, last_service_date.
select
    facility_id as unit,
    service_date,
    visitors as value,
    is_suppressed or visitors is null as hidden
from marts.facility_daily
where
    source_kind = 'entry_log'
    and service_date between getvariable('first_service_date') and getvariable('last_service_date')
