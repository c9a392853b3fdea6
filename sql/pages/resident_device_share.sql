-- The resident-device rule's reach per Wi-Fi sensor source and service day, for the index's
-- data-quality section: stays of devices flagged resident (staff phones, fixed equipment;
-- int_sensor_stays) are no visitor's stops, and on a real feed they can be most stays.
-- A stay is attributed to every source that delivered detections at its facility that day.
-- Variable: days (how many of the latest sensor days to show).
with source_facilities as (
    select distinct
        source,
        service_date,
        facility_id
    from raw.wifi_sensor
),

latest_days as (
    select distinct service_date
    from intermediate.int_sensor_stays
    order by service_date desc
    limit getvariable('days')
),

stays as (
    select
        service_date,
        facility_id,
        device_id,
        is_resident_device
    from intermediate.int_sensor_stays
    where service_date in (select service_date from latest_days)
),

per_source_day as (
    select
        source_facilities.source,
        stays.service_date,
        count(*) as stays,
        count(*) filter (where stays.is_resident_device) as resident_stays,
        count(distinct stays.device_id) as devices,
        count(distinct stays.device_id) filter (where stays.is_resident_device) as resident_devices
    from stays
    inner join source_facilities using (service_date, facility_id)
    group by all
),

final as (
    select
        source,
        service_date,
        stays,
        resident_stays,
        devices,
        resident_devices,
        resident_stays / stays as resident_stay_share
    from per_source_day
)

select * from final
order by service_date desc, source
