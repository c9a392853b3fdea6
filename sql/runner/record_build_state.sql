-- The build that is committing: its days ($1) and the digest of what it leaves ($2).
delete from ops.build_state;

insert into ops.build_state
values ($1::date[], $2, now()::timestamp);
