-- One row per survey answer 1-5 in a measure's window: treated (1), comparison (0) or neither
-- (null, dropped by the caller), and whether the respondent was satisfied (4 or 5).
-- A respondent is grouped by segment or by the facilities visited (group_by); treated when
-- a treated value matches, comparison when a comparison value does, or, without comparison
-- values (null), every other respondent.
-- Variables: group_by ('segment' | 'facility'), treated_values, comparison_values (lists),
-- first_service_date, last_service_date.
with answers as (
    select
        service_date,
        (info_satisfaction >= 4)::integer as satisfied,
        case getvariable('group_by')
            when 'segment' then [segment]
            else coalesce(facilities_visited, []::varchar[])
        end as group_values
    from staging.stg_survey_response
    where
        service_date between getvariable('first_service_date') and getvariable('last_service_date')
        and info_satisfaction between 1 and 5
),

final as (
    select
        service_date,
        satisfied,
        case
            when list_has_any(group_values, getvariable('treated_values')) then 1
            when getvariable('comparison_values') is null then 0
            when list_has_any(group_values, getvariable('comparison_values')) then 0
        end as treated
    from answers
)

select
    service_date,
    treated,
    satisfied
from final
