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
