-- The latest service day with all-visitor estimates.
select max(service_date) as service_date
from marts.all_visitors_facility_daily
