-- What the last build of marts left: its days and its digest (no row: never built, or the
-- table predates it).
select service_dates, state_digest
from ops.build_state
