-- The staging of one delivery is dropped as soon as it is loaded or refused.
drop view if exists ingest_ready;

drop table if exists ingest_rows;

drop table if exists ingest_dropped;
