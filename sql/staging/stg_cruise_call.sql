-- materialized: view
-- Cruise-ship calls per day (the forecast's event calendar): ships, their passenger
-- capacity and the hours in port, from every cruise_call source. One row per day with a call.
with source_rows as (
    select * from raw.cruise_call
),

final as (
    select
        service_date,
        count(*) as calls,
        sum(passenger_capacity) as passenger_capacity,
        min(arrives_at) as first_arrival,
        max(departs_at) as last_departure,
        string_agg(ship_name, ' / ' order by arrives_at, ship_name) as ships
    from source_rows
    group by service_date
)

select * from final
