-- A measure's panel when its outcome is circulation: the rate per residence segment and day.
-- Variables: first_service_date, last_service_date.
select
    segment as unit,
    service_date,
    circulation_rate as value,
    is_suppressed or circulation_rate is null as hidden
from marts.circulation_daily
where
    source_kind = 'entry_log' and segment != 'all'
    and service_date between getvariable('first_service_date') and getvariable('last_service_date')
