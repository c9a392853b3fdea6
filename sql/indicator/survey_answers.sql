-- The survey answers the indicator is estimated from (flowlib.indicator_mart): every item the
-- definition may name (flowlib.indicator.ITEM_COLUMNS), the strata and the driver columns.
select
    source,
    service_date,
    answered_at,
    form_language,
    residence_country,
    residence_prefecture,
    info_satisfaction,
    overall_satisfaction,
    weight,
    info_sources,
    facilities_visited
from staging.stg_survey_response
