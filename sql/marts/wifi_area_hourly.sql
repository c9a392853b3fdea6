-- materialized: daily
-- Wi-Fi connections per tourism area and JST hour.
-- A cell is published when it has k connections and, where the feed counts distinct devices
-- (unique_devices), k devices: one phone reconnecting all hour makes many connections. A
-- device is taken to connect to one access point per time bin (the devices of a bin add up
-- over the area's access points) and to stay across bins, so the hour's devices are those of
-- its busiest bin: a count of people that never overstates them (a bin's sum could only
-- count one device twice across access points, which does not happen within a bin).
with counted as (
    select
        service_date,
        area_id,
        hour_of_day,
        sum(connections) as connections,
        hour_devices(devices_counted, devices, connections) as devices
    from ap_bins(area_id)
    group by all
),

final as (
    select
        service_date,
        area_id,
        hour_of_day,
        case when not wifi_hidden(connections, devices) then connections end as connections,
        wifi_hidden(connections, devices) as is_suppressed
    from counted
    order by area_id, hour_of_day
)

select * from final
