-- The latest ISO week with moves (the flows-by-kind section of the opportunities page).
select
    max(period_start) as period_start,
    any_value(period_label order by period_start desc) as period_label
from marts.transitions_by_period
where period_grain = 'iso_week'
