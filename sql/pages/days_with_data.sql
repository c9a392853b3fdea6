-- Service days in first..last with card-tap facility rows (published or suppressed), from
-- facility_daily and the day rows of facility_visits_by_period (the same days, normally).
-- Variables: first_service_date, last_service_date, source_kind.
with days as (
    select service_date
    from marts.facility_daily
    where
        service_date between getvariable('first_service_date') and getvariable('last_service_date')
        and source_kind = getvariable('source_kind')
    union
    select period_start
    from marts.facility_visits_by_period
    where
        period_grain = 'day'
        and period_start between getvariable('first_service_date') and getvariable('last_service_date')
        and source_kind = getvariable('source_kind')
)

select count(*) as days
from days
