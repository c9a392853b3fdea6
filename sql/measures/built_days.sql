-- The first and last service day with facility figures: the window measures are estimated in.
select
    min(service_date) as first_service_date,
    max(service_date) as last_service_date
from marts.facility_daily
