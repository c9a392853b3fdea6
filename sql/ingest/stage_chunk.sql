-- One converted chunk (registered by flowlib.ingest as ingest_chunk) joins the staging, by
-- column name: its columns are the kind's, whatever the kind (hence noqa AM04).
insert into ingest_rows by name
select * from ingest_chunk  -- noqa: AM04
