-- One converted chunk of a kind with personal ids (registered by flowlib.ingest as
-- ingest_chunk) joins the staging, by column name: its columns are the kind's, whatever the
-- kind. Its personal-id columns (getvariable('personal_id_columns'), already named as the
-- pseudonyms they become) still hold the delivered ids: each is replaced by its keyed
-- pseudonym (flow_pseudonym, stage_rows.sql) on the way in, so no delivered id enters the
-- staging table, which DuckDB may spill to disk.
insert into ingest_rows by name
select
    columns(lambda c: not list_contains(getvariable('personal_id_columns'), c)),
    flow_pseudonym(columns(lambda c: list_contains(getvariable('personal_id_columns'), c)))
from ingest_chunk
