-- The latest fitted period of the gravity model, months before weeks.
select
    period_grain,
    period_start,
    period_label
from marts.opportunity_fit
where status = 'fitted'
order by case period_grain when 'month' then 0 else 1 end, period_start desc
limit 1
