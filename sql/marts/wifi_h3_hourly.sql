-- materialized: daily
-- Wi-Fi connections per H3 cell (resolution 10) and JST hour: the heatmap's input,
-- aggregated so a page never carries one point per raw record. Protected like
-- wifi_area_hourly: k connections and, where the feed counts them, k devices (those of the
-- hour's busiest bin, summed over the cell's access points).
with counts as (
    select * from staging.stg_wifi_ap_count
    where service_date = getvariable('service_date')
),

access_points as (
    select ap_id, h3_cell, lat, lon from ref.wifi_access_points
),

bins as (
    select
        counts.service_date,
        access_points.h3_cell,
        counts.hour_of_day,
        counts.bin_start,
        -- coordinates as whole 1e-7 degrees: an integer sum does not depend on the order the
        -- threads add rows in, so a rerun gives the same last digit (a double sum does not)
        sum(round(access_points.lat * 1e7)::bigint) as lat_sum,
        sum(round(access_points.lon * 1e7)::bigint) as lon_sum,
        count(*) as ap_rows,
        sum(counts.connections) as connections,
        sum(counts.unique_devices) as devices,
        bool_and(counts.unique_devices is not null) as devices_counted
    from counts
    inner join access_points using (ap_id)
    group by all
),

counted as (
    select
        service_date,
        h3_cell,
        hour_of_day,
        sum(lat_sum) / sum(ap_rows) / 1e7 as lat,
        sum(lon_sum) / sum(ap_rows) / 1e7 as lon,
        sum(connections) as connections,
        hour_devices(devices_counted, devices, connections) as devices
    from bins
    group by all
),

final as (
    select
        service_date,
        h3_cell,
        hour_of_day,
        round(lat, 6) as lat,
        round(lon, 6) as lon,
        case when not wifi_hidden(connections, devices) then connections end as connections,
        wifi_hidden(connections, devices) as is_suppressed
    from counted
    order by h3_cell, hour_of_day
)

select * from final
