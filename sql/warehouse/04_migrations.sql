-- Columns added after the first release: warehouses created earlier gain them here.
alter table raw.survey_response add column if not exists answer_place varchar;
alter table raw.survey_response add column if not exists answer_municipality varchar;
alter table ops.load_log add column if not exists key_fingerprint varchar;
-- The 64-bit visitor id stored beside each pseudonym (issue 17): the route models sort and
-- join on it instead of the 64-hex text. flowlib.visitor_ids fills it at ingest (and for
-- rows written before this column existed, at the next build) and checks collisions.
alter table raw.entry_log add column if not exists card_id ubigint;
alter table raw.wifi_sensor add column if not exists device_id ubigint;
-- The id of a pseudonym (64 lower-case hex characters of a keyed HMAC-SHA-256): its first
-- 64 bits. Part of the pseudonym already, so it reveals nothing new, and it is the same in
-- every DuckDB version (hash() is not promised to be). raw.digest_id reads them from a
-- digest sha256() has just written (the staging's: checking its form took staging 3 M
-- rows from 7.0 to 8.3 s, one run each), raw.pseudonym_id from a stored value, refusing
-- any other text.
create or replace macro raw.digest_id(digest) as ('0x' || left(digest, 16))::ubigint;

create or replace macro raw.pseudonym_id(pseudonym) as
case
    when regexp_full_match(pseudonym, '[0-9a-f]{64}') then raw.digest_id(pseudonym)
    else error('not a pseudonym (64 lower-case hex characters): ' || left(pseudonym, 8) || '...')
end;
