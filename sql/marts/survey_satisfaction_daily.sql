-- materialized: daily
-- The in-trip information item (旅ナカでの情報取得満足度) per day: top-two-box share among
-- respondents who answered 1-5.
with answers as (
    select * from staging.stg_survey_response
    where service_date = getvariable('service_date')
      and info_satisfaction between 1 and 5
),

segmented as (
    select service_date, segment, info_satisfaction from answers where segment <> 'unknown'
    union all
    select service_date, 'all' as segment, info_satisfaction from answers
),

counted as (
    select
        service_date,
        segment,
        count(*) as respondents,
        count(*) filter (where info_satisfaction >= 4) as satisfied
    from segmented
    group by all
),

final as (
    select
        service_date,
        segment,
        case when respondents >= getvariable('min_cell_count') then respondents end as respondents,
        case when respondents >= getvariable('min_cell_count') then satisfied end as satisfied,
        case when respondents >= getvariable('min_cell_count') then round(satisfied / respondents, 4) end as satisfied_share,
        respondents < getvariable('min_cell_count') as is_suppressed
    from counted
    order by segment
)

select * from final
