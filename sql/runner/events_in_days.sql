-- Events the stops of the service days $1 .. $2 are made of (int_stop_rows): card taps and
-- the sensor stays of devices that are not residents'. The runner builds the stops in batches
-- of visitors of at most FLOW_STOP_BATCH_EVENTS of them.
with taps as (
    select count(*) as events
    from staging.stg_entry_log
    where service_date between $1 and $2
),

stays as (
    select count(*) as events
    from intermediate.int_sensor_stays
    where
        service_date between $1 and $2
        and not is_resident_device
)

select taps.events + stays.events as events
from taps
cross join stays
