-- Rows a check set aside (registered by flowlib.ingest as ingest_set_aside): drop_rows.sql
-- takes them out of the staging.
insert into ingest_dropped by name
select
    file_index,
    line_number
from ingest_set_aside
