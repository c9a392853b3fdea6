-- materialized: view
-- Survey answers with the respondent's segment: domestic = lives in Japan.
with source_rows as (
    select * from raw.survey_response
),

final as (
    select
        source,
        service_date,
        response_key,
        answered_at,
        form_language,
        residence_country,
        residence_prefecture,
        case
            when residence_country = 'JP' then 'domestic'
            when residence_country is not null then 'international'
            else 'unknown'
        end as segment,
        info_satisfaction,
        overall_satisfaction,
        recommend_score,
        info_sources,
        facilities_visited,
        coalesce(weight, 1.0) as weight,
        free_text,
        answer_place,
        answer_municipality
    from source_rows
)

select * from final
