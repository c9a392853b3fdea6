-- Every delivery recorded for the service days first..last (the page's feed panel).
-- Variables: first_service_date, last_service_date.
select
    source,
    service_date,
    source_kind,
    status,
    reason,
    expected_at,
    delivered_at,
    arrived_on_time
from ops.feed_status
where service_date between getvariable('first_service_date') and getvariable('last_service_date')
order by service_date, source
