-- Every source that was ever loaded (a source absent from the last run is then missing).
select distinct source
from ops.load_log
order by source
