-- materialized: daily
-- Wi-Fi connections per tourism area and JST hour.
with counts as (
    select * from staging.stg_wifi_ap_count
    where service_date = getvariable('service_date')
),

access_points as (
    select ap_id, area_id from ref.wifi_access_points
),

counted as (
    select
        counts.service_date,
        access_points.area_id,
        counts.hour_of_day,
        sum(counts.connections) as connections
    from counts
    inner join access_points using (ap_id)
    group by all
),

final as (
    select
        service_date,
        area_id,
        hour_of_day,
        case when connections >= getvariable('min_cell_count') then connections end as connections,
        connections < getvariable('min_cell_count') as is_suppressed
    from counted
    order by area_id, hour_of_day
)

select * from final
