-- The latest service day with facility figures: the KPI path runs up to it.
select max(service_date) as last_service_date
from marts.facility_daily
