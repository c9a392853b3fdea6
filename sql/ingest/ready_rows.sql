-- The staged rows that passed every check, with their source and file name, in delivery
-- order: what flowlib.ingest inserts into the raw table in one statement. Its columns are
-- the raw table's, whatever the kind (hence noqa AM04).
create or replace temp view ingest_ready as
select
    getvariable('source') as source,
    ingest_files.file_name,
    ingest_rows.* exclude (file_index)  -- noqa: AM04
from ingest_rows
inner join ingest_files on ingest_rows.file_index = ingest_files.file_index
order by ingest_rows.file_index, ingest_rows.line_number
