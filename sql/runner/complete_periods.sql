-- The periods of grain $1 touching the days being built whose last day is at most $2 (the
-- latest day built): the periods a roll-up model rebuilds.
select distinct
    period_start,
    period_end
from ref.calendar_periods
where period_grain = $1
    and calendar_date between getvariable('first_service_date') and getvariable('last_service_date')
    and period_end <= $2
order by period_start
