-- How many of the service days $1 .. $2 have been built (intermediate.model_build_days, which
-- log_built_days.sql fills): `make run` loads the demo's history only when some of its days
-- are not, so that a deleted or replaced warehouse gets its history again.
select count(*) as days_built
from intermediate.model_build_days
where service_date between $1 and $2
