-- The survey answers the KPI path is computed from, as their count and the sum of their rows'
-- hashes, which does not depend on the order they are read in (flowlib.kpi_path keeps its
-- rows while this and its other inputs are the same). Every column: a superset of what it uses.
select
    count(*) as answers,
    coalesce(sum(hash(*columns(*))::hugeint), 0)::varchar as row_hashes
from staging.stg_survey_response
