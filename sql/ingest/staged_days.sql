-- The service days of the rows being loaded (flowlib.ingest checks their 64-bit ids for
-- two pseudonyms sharing one, in the partition as written).
select distinct service_date
from ingest_rows
order by service_date
