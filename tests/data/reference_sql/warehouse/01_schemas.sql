-- Schemas of the warehouse. raw: canonical rows written only by ingest (ids already
-- pseudonymised). ref: reference geodata. ops: load log and quarantine. staging,
-- intermediate, marts: the SQL models in sql/.
create schema if not exists raw;
create schema if not exists ref;
create schema if not exists ops;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;
