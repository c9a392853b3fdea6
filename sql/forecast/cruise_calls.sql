-- Cruise passenger capacity by day (an exogenous regressor of the forecast).
select
    service_date,
    passenger_capacity
from staging.stg_cruise_call
