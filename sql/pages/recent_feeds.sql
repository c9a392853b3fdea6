-- The deliveries of the latest service days any run checked, per source.
-- Variable: days (how many of the latest days).
with recent as (
    select distinct service_date
    from ops.feed_status
    order by service_date desc
    limit getvariable('days')
)

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
where service_date in (select service_date from recent)
order by source, service_date
