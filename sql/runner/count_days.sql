-- Rows a daily model ($1, schema.name) holds for the days being built, and how many a
-- scan that reads every column finds: flowlib.models checks that they agree.
select
    count(*) as stored,
    (
        select count(hash(r)) from query_table($1) as r
        where r.service_date between getvariable('first_service_date') and getvariable('last_service_date')
    ) as scanned
from query_table($1)
where service_date between getvariable('first_service_date') and getvariable('last_service_date')
