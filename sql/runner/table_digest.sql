-- One table's content ($1, schema.name): its rows and the sum of their hashes, which does not
-- depend on the order DuckDB stores them in (flowlib.build_state). A column named checked_at
-- only says when a run last looked (ops.feed_status), not what it found, so it is left out.
select
    count(*) as row_count,
    coalesce(sum(hash(*columns(lambda c: c <> 'checked_at'))::hugeint), 0)::varchar as row_hashes
from query_table($1)
