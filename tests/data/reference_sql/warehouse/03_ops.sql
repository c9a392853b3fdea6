-- Operations: what was loaded from which file, and every row that was set aside.
-- service_date is null for snapshot sources (cumulative exports spanning many days).
create table if not exists ops.load_log (
    source varchar not null,
    service_date date,
    file_name varchar not null,
    file_bytes bigint not null,
    file_sha256 varchar not null,
    rows_read integer not null,
    rows_loaded integer not null,
    rows_quarantined integer not null,
    outcome varchar not null,
    message varchar,
    loaded_at timestamp not null
);

create table if not exists ops.quarantine (
    source varchar not null,
    service_date date,
    file_name varchar not null,
    line_number integer not null,
    reason varchar not null,
    expectation varchar,
    raw_values varchar,
    quarantined_at timestamp not null
);
