-- One service day's survey answers per segment, as the mart protected them.
-- Variable: service_date.
select
    segment,
    respondents,
    satisfied,
    satisfied_share,
    is_suppressed
from marts.survey_satisfaction_daily
where service_date = getvariable('service_date')
