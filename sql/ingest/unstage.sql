-- The staging of one delivery is dropped as soon as it is loaded or refused.
drop view if exists ingest_ready;

drop table if exists ingest_rows;

drop table if exists ingest_dropped;

drop macro if exists flow_pseudonym;

set variable hmac_inner_pad = null;

set variable hmac_outer_pad = null;
