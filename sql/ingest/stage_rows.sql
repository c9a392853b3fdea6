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

-- The keyed pseudonym of a delivered id: HMAC-SHA-256 (RFC 2104) as 64 lower-case hex
-- characters, from the inner and outer padded keys flowlib.pseudonym.hmac_pads makes of
-- the key (session variables of the writer's connection, dropped with the staging). It is
-- computed here, on every core, as each chunk is staged: the delivered ids never enter a
-- table, and tests/test_pseudonym_sql.py holds it to Python's hmac for any id and key.
create or replace temp macro flow_pseudonym(delivered_id) as
sha256(
    getvariable('hmac_outer_pad')
    || unhex(sha256(getvariable('hmac_inner_pad') || encode(delivered_id::varchar)))
);
