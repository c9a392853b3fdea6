-- Visitor-days by month and residence segment from the entry logs (issuer country known):
-- the visitor mix the KPI path weights the survey answers to.
select
    date_trunc('month', service_date)::date as month,
    segment,
    count(*) as visitor_days
from intermediate.int_visitor_days
where source_kind = 'entry_log' and segment in ('domestic', 'international')
group by all
