-- The staged rows that passed every check, with their source and file name: what
-- flowlib.ingest inserts into the raw table in one statement. Its columns are the raw
-- table's, whatever the kind (hence noqa AM04). The staging holds the rows in delivery
-- order (files in index order, each file's chunks and lines in turn), and the insert keeps
-- the order it reads (preserve_insertion_order): no sort, which spilled at the ingest's
-- memory limit. A file's name is looked up by its index ($file_names, null for a file not
-- loaded, whose rows drop_rows.sql took out).
create or replace temp view ingest_ready as
select
    getvariable('source') as source,
    getvariable('file_names')[file_index + 1] as file_name,
    * exclude (file_index)  -- noqa: AM04
from ingest_rows
