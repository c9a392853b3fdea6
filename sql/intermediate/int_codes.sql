-- materialized: daily
-- depends_on: int_sensor_stays
-- The facility ids and ticket types of each service day's events (card taps and stays of
-- non-resident sensor devices), sorted: an event's facility code is the position of its id
-- in facility_ids, its ticket code the position in ticket_types. int_stop_rows stores these
-- small integers instead of strings (writing strings cost more than computing the stops);
-- int_stops and int_trips decode them. Sorted, so that a code sorts like its id (the
-- tie-break of events at the same time).
with entry_events as (
    select service_date, facility_id, coalesce(ticket_type, 'unknown') as ticket_type
    from staging.stg_entry_log
    where service_date between getvariable('first_service_date') and getvariable('last_service_date')
),

sensor_events as (
    select service_date, facility_id, 'unknown' as ticket_type
    from intermediate.int_sensor_stays
    where service_date between getvariable('first_service_date') and getvariable('last_service_date')
        and not is_resident_device
),

events as (
    select * from entry_events
    union all
    select * from sensor_events
),

day_facilities as (
    select service_date, list(facility_id order by facility_id) as facility_ids
    from (select distinct service_date, facility_id from events)
    group by service_date
),

day_tickets as (
    select service_date, list(ticket_type order by ticket_type) as ticket_types
    from (select distinct service_date, ticket_type from events)
    group by service_date
),

final as (
    select
        service_date,
        case
            when len(facility_ids) <= 4095 then facility_ids
            else error('int_codes: over 4,095 facilities on ' || service_date || '; route codes hold 12 bits per stop')
        end as facility_ids,
        case
            when len(ticket_types) <= 16777215 then ticket_types
            else error('int_codes: over 16,777,215 ticket types on ' || service_date || '; the sort key holds 24 bits')
        end as ticket_types
    from day_facilities
    inner join day_tickets using (service_date)
)

select * from final
