-- The latest service day with survey answers (the index's KPI headline).
select max(service_date) as service_date
from marts.survey_satisfaction_daily
