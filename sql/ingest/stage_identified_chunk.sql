-- One converted chunk of a kind whose pseudonyms have a 64-bit id beside them in the raw
-- table (flowlib.visitor_ids.ID_COLUMNS: <name>_key and <name>_id) joins the staging, by
-- column name, as stage_pseudonymised_chunk stages it; and each id is computed from its
-- pseudonym on the way in (raw.digest_id of what flow_pseudonym has just written;
-- getvariable('visitor_key_pattern') matches the pseudonym columns that have one and
-- captures <name>). The staging runs on its own thread while Python converts the next
-- chunk; an update of every row after the insert took about 0.5 s per 3 M rows.
insert into ingest_rows by name
with pseudonymised as (
    select
        columns(lambda c: not list_contains(getvariable('personal_id_columns'), c)),
        flow_pseudonym(columns(lambda c: list_contains(getvariable('personal_id_columns'), c)))
    from ingest_chunk
)

select
    *,
    raw.digest_id(columns(getvariable('visitor_key_pattern'))) as '\1_id'  -- noqa: RF05
from pseudonymised
