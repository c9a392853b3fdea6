-- materialized: view
-- Wi-Fi connections per access point and time bin, with the JST clock hour of the bin.
with source_rows as (
    select * from raw.wifi_ap_count
),

final as (
    select
        source,
        service_date,
        ap_id,
        bin_start,
        bin_minutes,
        cast(hour(bin_start) as smallint) as hour_of_day,
        connections,
        unique_devices
    from source_rows
)

select * from final
