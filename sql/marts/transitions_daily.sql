-- materialized: daily
-- Facility-to-facility moves within trips, with transfer-time quartiles and the share of
-- all moves leaving the origin (next-facility probability).
with transitions as (
    select * from intermediate.int_transitions
    where service_date = getvariable('service_date')
),

counted as (
    select
        service_date,
        from_facility_id,
        to_facility_id,
        count(*) as transitions,
        count(distinct visitor_key) as visitors,
        quantile_cont(transfer_minutes, 0.25) as transfer_minutes_p25,
        quantile_cont(transfer_minutes, 0.5) as transfer_minutes_median,
        quantile_cont(transfer_minutes, 0.75) as transfer_minutes_p75
    from transitions
    group by all
),

with_probability as (
    select
        *,
        transitions / sum(transitions) over (partition by from_facility_id) as next_probability
    from counted
),

final as (
    select
        service_date,
        from_facility_id,
        to_facility_id,
        case when visitors >= getvariable('min_cell_count') then transitions end as transitions,
        case when visitors >= getvariable('min_cell_count') then visitors end as visitors,
        case when visitors >= getvariable('min_cell_count') then round(transfer_minutes_p25, 1) end as transfer_minutes_p25,
        case when visitors >= getvariable('min_cell_count') then round(transfer_minutes_median, 1) end as transfer_minutes_median,
        case when visitors >= getvariable('min_cell_count') then round(transfer_minutes_p75, 1) end as transfer_minutes_p75,
        case when visitors >= getvariable('min_cell_count') then round(next_probability, 4) end as next_probability,
        visitors < getvariable('min_cell_count') as is_suppressed
    from with_probability
    order by from_facility_id, to_facility_id
)

select * from final
