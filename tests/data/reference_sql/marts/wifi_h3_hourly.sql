-- materialized: daily
-- Wi-Fi connections per H3 cell (resolution 10) and JST hour: the heatmap's input,
-- aggregated so a page never carries one point per raw record.
with counts as (
    select * from staging.stg_wifi_ap_count
    where service_date = getvariable('service_date')
),

access_points as (
    select ap_id, h3_cell, lat, lon from ref.wifi_access_points
),

counted as (
    select
        counts.service_date,
        access_points.h3_cell,
        counts.hour_of_day,
        avg(access_points.lat) as lat,
        avg(access_points.lon) as lon,
        sum(counts.connections) as connections
    from counts
    inner join access_points using (ap_id)
    group by all
),

final as (
    select
        service_date,
        h3_cell,
        hour_of_day,
        round(lat, 6) as lat,
        round(lon, 6) as lon,
        case when connections >= getvariable('min_cell_count') then connections end as connections,
        connections < getvariable('min_cell_count') as is_suppressed
    from counted
    order by h3_cell, hour_of_day
)

select * from final
