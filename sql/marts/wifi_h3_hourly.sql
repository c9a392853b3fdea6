-- materialized: daily
-- Wi-Fi connections per H3 cell (resolution 10) and JST hour: the heatmap's input,
-- aggregated so a page never carries one point per raw record. Protected like
-- wifi_area_hourly: k connections and, where the feed counts them, k devices (those of the
-- hour's busiest bin, summed over the cell's access points).
with counted as (
    select
        service_date,
        h3_cell,
        hour_of_day,
        sum(lat_sum) / sum(ap_rows) / 1e7 as lat,
        sum(lon_sum) / sum(ap_rows) / 1e7 as lon,
        sum(connections) as connections,
        hour_devices(devices_counted, devices, connections) as devices
    from ap_bins(h3_cell)
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
