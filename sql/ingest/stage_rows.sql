-- One delivery's canonical rows wait here, converted chunk by chunk (flowlib.ingest), until
-- the repeat, conflict and Great Expectations checks are done; one insert then loads them.
-- A temporary table is private to the writer's connection and gone with it, and DuckDB
-- spills it to disk beyond FLOW_INGEST_MEMORY_LIMIT: a big file never sits in memory.
-- Its columns are the raw table's ($raw_table), the source and file name aside, whatever
-- the kind (hence noqa AM04); limit 0 copies the columns, no rows (noqa AM09).
create or replace temp table ingest_rows as
select
    0::integer as file_index,
    * exclude (source, file_name)  -- noqa: AM04
from query_table(getvariable('raw_table'))
limit 0;  -- noqa: AM09

create or replace temp table ingest_dropped (
    file_index integer,
    line_number integer
);
