-- A measure's panel, card taps only: per unit and day the outcome's value, and whether it is
-- hidden (a suppressed cell, or no value). The unit of outcome 'entries' is a facility (its
-- visitors), of 'transition' a pair from>to (its moves), of 'circulation_rate' a residence
-- segment (its circulation rate).
-- Variables: outcome, first_service_date, last_service_date.
with outcomes as (
    select
        'entries' as outcome,
        source_kind,
        service_date,
        facility_id as unit,
        visitors as value,
        is_suppressed
    from marts.facility_daily
    union all
    select
        'transition' as outcome,
        source_kind,
        service_date,
        from_facility_id || '>' || to_facility_id as unit,
        transitions as value,
        is_suppressed
    from marts.transitions_daily
    union all
    select
        'circulation_rate' as outcome,
        source_kind,
        service_date,
        segment as unit,
        circulation_rate as value,
        is_suppressed
    from marts.circulation_daily
    where segment != 'all'
)

select
    unit,
    service_date,
    value,
    is_suppressed or value is null as hidden
from outcomes
where
    outcome = getvariable('outcome')
    and source_kind = 'entry_log'
    and service_date between getvariable('first_service_date') and getvariable('last_service_date')
