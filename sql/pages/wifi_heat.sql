-- Published Wi-Fi connections per H3 cell and clock hour, summed over first..last.
-- Variables: first_service_date, last_service_date.
select
    h3_cell,
    hour_of_day,
    avg(lat) as lat,
    avg(lon) as lon,
    sum(connections) as connections
from marts.wifi_h3_hourly
where service_date between getvariable('first_service_date') and getvariable('last_service_date')
    and not is_suppressed
    and connections > 0
group by h3_cell, hour_of_day
