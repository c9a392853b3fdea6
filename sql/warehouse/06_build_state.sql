-- What the last build of marts left (flowlib.build_state): the service days it built and one
-- digest of the warehouse as it stood when the build committed, with the code and the
-- settings. A night whose digest is the same has nothing to build. One row at most.
create table if not exists ops.build_state (
    service_dates date[] not null,
    state_digest varchar not null,
    built_at timestamp not null
);
