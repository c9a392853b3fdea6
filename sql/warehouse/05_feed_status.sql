-- Delivery status of every daily feed for every service day a run has looked at: what the
-- pages and the index show per source and day, and what the catch-up run compares the
-- landing folder against. One row per (source, service_date), replaced on each attempt.
--   status: loaded | late (missing after expected_at) | pending (missing, not yet due)
--           | rejected (the delivery was refused, reason from ops.load_log)
--           | failed (the load stopped for another reason, e.g. an I/O error)
--   files_digest: sha256 over the sorted (file name, file sha256) pairs last attempted,
--           null while nothing was delivered
create table if not exists ops.feed_status (
    source varchar not null,
    service_date date not null,
    source_kind varchar not null,
    status varchar not null,
    reason varchar,
    files integer not null,
    files_digest varchar,
    expected_at timestamp not null,
    first_checked_at timestamp not null,
    delivered_at timestamp,
    arrived_on_time boolean,
    checked_at timestamp not null
);
