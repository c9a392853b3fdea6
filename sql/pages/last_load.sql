-- When the latest load into the warehouse happened.
select max(loaded_at) as loaded_at
from ops.load_log
