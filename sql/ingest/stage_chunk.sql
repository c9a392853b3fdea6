-- One converted chunk of a kind without personal ids (registered by flowlib.ingest as
-- ingest_chunk) joins the staging, by column name: its columns are the kind's, whatever the
-- kind (hence noqa AM04). A kind with personal ids is staged by stage_pseudonymised_chunk.
insert into ingest_rows by name
select * from ingest_chunk  -- noqa: AM04
