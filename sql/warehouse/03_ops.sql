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

-- Rows that the disclosure settlement (flowlib.pipeline.build_marts) withholds besides the
-- suppressions of the rules: chosen by the programs of the audit (flowlib.disclosure_audit.complements)
-- so that no hidden cell of the published files can be narrowed to less than k. Every build
-- of a *_by_period mart hides them again (flowlib.privacy.withhold_settled), and a build of a
-- day forgets the rows of its day and of the periods containing it, and settles them anew.
create table if not exists ops.withheld_cells (
    mart varchar not null,
    period_grain varchar not null,
    period_start date not null,
    period_end date not null,
    cell_key varchar not null,
    settlement_round integer not null,
    primary key (mart, cell_key)
);
