-- The latest period of one grain in the spending mart (the spending page shows the latest
-- complete month, else ISO week, else day).
-- Variable: period_grain.
select
    period_start,
    any_value(period_label) as period_label
from marts.spending_by_period
where period_grain = getvariable('period_grain')
group by period_start
order by period_start desc
limit 1
