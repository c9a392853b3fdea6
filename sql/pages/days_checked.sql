-- Every service day a run recorded deliveries for, oldest first.
select distinct service_date
from ops.feed_status
order by service_date
