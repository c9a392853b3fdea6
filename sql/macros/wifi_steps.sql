-- Steps the Wi-Fi count marts (wifi_area_hourly, wifi_h3_hourly) share, as DuckDB macros
-- (flowlib.models creates them on the build connection before the models).

-- hour_devices(devices_counted, devices, connections): an aggregate over an hour's bins,
-- the devices of the hour: those of its busiest bin; unknown when an access point of the
-- hour does not count devices; a connection has a device behind it, whatever a feed's
-- rounding says.
create or replace temp macro hour_devices(devices_counted, devices, connections) as
case when bool_and(devices_counted) then greatest(max(devices), least(sum(connections), 1)) end;

-- wifi_hidden(connections, devices): a cell is hidden below k connections or, where the
-- feed counts them, below k devices.
create or replace temp macro wifi_hidden(connections, devices) as
connections < getvariable('min_cell_count') or coalesce(devices < getvariable('min_cell_count'), false);

-- ap_bins(place): the day's access-point counts (getvariable('service_date')) per `place`, a
-- column of ref.wifi_access_points (area_id, h3_cell), and time bin: connections and devices
-- summed over the place's access points, devices_counted where every one of them counts
-- devices, and their coordinates as whole 1e-7 degrees summed with the number of rows (an
-- integer sum does not depend on the order the threads add rows in, so a rerun gives the same
-- last digit; a double sum does not).
create or replace temp macro ap_bins(place) as table
    select
        counts.service_date,
        place,
        counts.hour_of_day,
        counts.bin_start,
        sum(round(access_points.lat * 1e7)::bigint) as lat_sum,
        sum(round(access_points.lon * 1e7)::bigint) as lon_sum,
        count(*) as ap_rows,
        sum(counts.connections) as connections,
        sum(counts.unique_devices) as devices,
        bool_and(counts.unique_devices is not null) as devices_counted
    from staging.stg_wifi_ap_count as counts
    inner join ref.wifi_access_points as access_points using (ap_id)
    where counts.service_date = getvariable('service_date')
    group by all;
