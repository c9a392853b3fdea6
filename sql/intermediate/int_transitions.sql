-- materialized: daily
-- depends_on: int_stops
-- Consecutive stops of the same trip: a trip of n stops gives n - 1 transitions.
with stops as (
    select * from intermediate.int_stops
    where service_date = getvariable('service_date')
),

paired as (
    select
        service_date,
        source_kind,
        visitor_key,
        trip_index,
        stop_number,
        segment,
        facility_id as from_facility_id,
        arrived_at as from_arrived_at,
        lead(facility_id) over trip_stops as to_facility_id,
        lead(arrived_at) over trip_stops as to_arrived_at
    from stops
    window trip_stops as (partition by visitor_key, trip_index order by stop_number)
),

final as (
    select
        service_date,
        source_kind,
        visitor_key,
        trip_index,
        stop_number,
        segment,
        from_facility_id,
        to_facility_id,
        date_diff('second', from_arrived_at, to_arrived_at) / 60.0 as transfer_minutes
    from paired
    where to_facility_id is not null
)

select * from final
