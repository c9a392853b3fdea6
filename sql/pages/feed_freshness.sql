-- Per source: the last day it loaded, and its delivery for the latest day any run checked.
with latest as (
    select max(service_date) as service_date
    from ops.feed_status
),

last_loaded as (
    select
        source,
        max(service_date) as last_loaded
    from ops.feed_status
    where status = 'loaded'
    group by source
)

select
    last_loaded.last_loaded,
    status.source,
    status.service_date,
    status.source_kind,
    status.status,
    status.reason,
    status.expected_at,
    status.delivered_at,
    status.arrived_on_time
from ops.feed_status as status
inner join latest using (service_date)
left join last_loaded using (source)
order by status.source
