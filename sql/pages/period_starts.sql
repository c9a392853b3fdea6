-- Every period of one grain that a drawn period mart has rows of one source kind for.
-- Variables: period_grain (iso_week | month), source_kind.
with starts as (
    select period_start, period_grain, source_kind from marts.facility_visits_by_period
    union
    select period_start, period_grain, source_kind from marts.transitions_by_period
    union
    select period_start, period_grain, source_kind from marts.routes_by_period
    union
    select period_start, period_grain, source_kind from marts.circulation_by_period
)

select distinct period_start
from starts
where period_grain = getvariable('period_grain') and source_kind = getvariable('source_kind')
order by period_start
