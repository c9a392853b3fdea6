-- materialized: daily
-- The in-trip information item (旅ナカでの情報取得満足度) per day: top-two-box share among
-- respondents who answered 1-5. A row is suppressed when its respondents, its satisfied
-- or its not-satisfied answers are fewer than k (published respondents and satisfied give
-- the not-satisfied by subtraction). The 'all' row is suppressed too whenever a segment
-- (unknown residence included, never published) is suppressed, so that no hidden segment
-- can be recovered as all minus the others.
with answers as (
    select * from staging.stg_survey_response
    where service_date = getvariable('service_date')
        and info_satisfaction between 1 and 5
),

segmented as (
    select service_date, segment, info_satisfaction from answers
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

checked as (
    select
        *,
        respondents < getvariable('min_cell_count')
        or satisfied < getvariable('min_cell_count')
        or respondents - satisfied < getvariable('min_cell_count') as small
    from counted
),

flagged as (
    select
        *,
        small
        or (segment = 'all' and bool_or(segment <> 'all' and small) over ()) as suppressed
    from checked
),

final as (
    select
        service_date,
        segment,
        case when not suppressed then respondents end as respondents,
        case when not suppressed then satisfied end as satisfied,
        case when not suppressed then round(satisfied / respondents, 4) end as satisfied_share,
        suppressed as is_suppressed,
        case when small then 'primary' when suppressed then 'secondary' end as suppression
    from flagged
    where segment <> 'unknown'
    order by segment
)

select * from final
