-- What was loaded per source, service day and outcome since a moment (the last night's run).
-- Variable: loaded_after (the earliest load time counted, exclusive).
select
    source,
    service_date,
    outcome,
    count(*) as files,
    coalesce(sum(rows_read), 0) as rows_read,
    coalesce(sum(rows_loaded), 0) as rows_loaded,
    coalesce(sum(rows_quarantined), 0) as rows_quarantined
from ops.load_log
where loaded_at > getvariable('loaded_after')
group by source, service_date, outcome
