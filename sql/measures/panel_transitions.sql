-- A measure's panel when its outcome is a move: card-tap transitions per pair and day.
-- Variables: first_service_date, last_service_date.
select
    from_facility_id || '>' || to_facility_id as unit,
    service_date,
    transitions as value,
    is_suppressed or transitions is null as hidden
from marts.transitions_daily
where
    source_kind = 'entry_log'
    and service_date between getvariable('first_service_date') and getvariable('last_service_date')
