-- Moves between facilities on one service day, measured by one source kind.
-- Variables: service_date, source_kind.
select
    from_facility_id,
    to_facility_id,
    transitions,
    visitors,
    next_probability,
    transfer_minutes_median,
    is_suppressed
from marts.transitions_daily
where service_date = getvariable('service_date') and source_kind = getvariable('source_kind')
