-- materialized: daily
-- Wi-Fi sensor detections sessionised into stays, one row per stay. Per device and
-- facility, detections are ordered by time; a gap of more than sensor_stay_gap_minutes
-- (default 30) starts a new stay, and a stay never crosses the service-day boundary (the
-- day is part of the partition). A stay runs from its first to its last detection, so a
-- single detection is a stay of zero minutes. Repeated identical detections count once.
-- Resident devices (staff phones, fixed equipment) are flagged, not dropped: a device
-- detected on at least sensor_resident_min_days (default 10) of the
-- sensor_resident_window_days (default 28) service days ending with this one is resident
-- on this day, and its stays are no visitor's stops (int_stops leaves them out), unless
-- resident_device_rule is 0 (FLOW_RESIDENT_DEVICE_RULE=off: no device is resident). Devices are
-- told apart by the 64-bit id stored at ingest beside the pseudonym (flowlib.visitor_ids).
with window_detections as (
    select distinct
        service_date,
        device_key,
        device_id,
        facility_id,
        detected_at
    from raw.wifi_sensor
    where service_date between getvariable('first_service_date') - (getvariable('sensor_resident_window_days') - 1)
                           and getvariable('last_service_date')
),

device_days as (
    select distinct
        device_id,
        service_date
    from window_detections
),

residency as (
    select
        device_id,
        service_date,
        count(*) over (
            partition by device_id
            order by service_date
            range between to_days(getvariable('sensor_resident_window_days') - 1) preceding and current row
        ) as days_seen_in_window
    from device_days
),

detections as (
    select * from window_detections
    where service_date between getvariable('first_service_date') and getvariable('last_service_date')
),

ordered_detections as (
    select
        *,
        lag(detected_at) over device_at_facility as previous_detected_at
    from detections
    window device_at_facility as (partition by service_date, device_id, facility_id order by detected_at)
),

flagged_detections as (
    select
        *,
        case
            when previous_detected_at is null then 1
            when detected_at - previous_detected_at > to_minutes(getvariable('sensor_stay_gap_minutes')) then 1
            else 0
        end as starts_stay
    from ordered_detections
),

numbered_detections as (
    select
        *,
        -- default frame (range): detections are distinct per device, facility and time
        sum(starts_stay) over (
            partition by service_date, device_id, facility_id order by detected_at
        ) as stay_number
    from flagged_detections
),

stays as (
    select
        service_date,
        device_key,
        device_id,
        facility_id,
        stay_number,
        min(detected_at) as started_at,
        max(detected_at) as ended_at,
        count(*) as detections
    from numbered_detections
    group by all
),

final as (
    select
        stays.service_date,
        stays.device_key,
        stays.device_id,
        stays.facility_id,
        cast(stays.stay_number as integer) as stay_number,
        stays.started_at,
        stays.ended_at,
        date_diff('second', stays.started_at, stays.ended_at) / 60.0 as dwell_minutes,
        cast(stays.detections as integer) as detections,
        cast(residency.days_seen_in_window as integer) as days_seen_in_window,
        getvariable('resident_device_rule') = 1
        and residency.days_seen_in_window >= getvariable('sensor_resident_min_days') as is_resident_device
    from stays
    inner join residency using (device_id, service_date)
)

select * from final
