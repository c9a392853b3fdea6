-- materialized: daily
-- depends_on: int_sensor_stays
-- One row per stop of every visitor's trips on a service day, for card taps (entry_log)
-- and Wi-Fi sensor stays (wifi_sensor) alike; source_kind keeps the two apart everywhere.
-- A visitor's events (taps, or stays of non-resident devices) are ordered by time with the
-- facility id as a deterministic tie-break. An event at the same facility as the previous
-- one, at most reentry_gap_minutes after the previous event ended, is a re-entry: the
-- same stop. A gap longer than trip_max_gap_minutes after the previous stop's last event
-- starts a new trip; trips never cross the service-day boundary (the day is part of the
-- partition). Each stop carries the next stop of the same trip, so transitions need no
-- further sort.
-- Speed: two ordered passes over compact rows (a 64-bit visitor id and one sortable
-- integer holding the time and the facility), the rest is hash joins and aggregations.
with entry_events as not materialized (
    select
        service_date,
        'entry_log' as source_kind,
        visitor_key,
        facility_id,
        entered_at as arrived_at,
        entered_at as left_at,
        segment,
        coalesce(ticket_type, 'unknown') as ticket_type
    from staging.stg_entry_log
    where service_date between getvariable('first_service_date') and getvariable('last_service_date')
),

sensor_events as not materialized (
    select
        service_date,
        'wifi_sensor' as source_kind,
        device_key as visitor_key,
        facility_id,
        started_at as arrived_at,
        ended_at as left_at,
        'unknown' as segment,
        'unknown' as ticket_type
    from intermediate.int_sensor_stays
    where service_date between getvariable('first_service_date') and getvariable('last_service_date')
      and not is_resident_device
),

events as not materialized (
    -- read again by each consumer (each needs only a few columns) rather than copied
    select * from entry_events
    union all
    select * from sensor_events
),

facility_codes as (
    -- a small number per facility, in facility-id order, so that one integer sorts by time
    -- and then by facility
    select
        facility_id,
        cast(row_number() over (order by facility_id) as bigint) as facility_code
    from (select distinct facility_id from events)
),

facility_list as (
    select list(facility_id order by facility_code) as facility_ids from facility_codes
),

coded_events as not materialized (
    select
        events.service_date,
        events.source_kind,
        events.visitor_key,
        events.segment,
        events.ticket_type,
        events.arrived_at,
        -- the visitor on this service day in this source kind
        xor(hash(events.visitor_key), hash(events.service_date, events.source_kind)) as visitor_day_id
    from events
),

visitor_days as (
    -- one row per visitor and day: the card's segment (issuing country) and the ticket type
    -- of its first admission that day (equal times: a fixed order of the ticket types)
    select
        visitor_day_id,
        any_value(service_date) as service_date,
        any_value(source_kind) as source_kind,
        any_value(visitor_key) as visitor_key,
        min(case segment when 'domestic' then 1 when 'international' then 2 else 3 end) as segment_code,
        arg_min(ticket_type, (epoch_ms(arrived_at)::hugeint << 8) | (hash(ticket_type) & 255)) as ticket_type,
        -- two pseudonyms behind one id: they collided (the 48-bit prefix hash is independent
        -- of the full-key hash the id is made of)
        min(hash(left(visitor_key, 12))) <> max(hash(left(visitor_key, 12))) as is_collision
    from coded_events
    group by visitor_day_id
),

id_check as (
    select count(*) filter (where is_collision) as colliding_ids
    from visitor_days
),

ordered_events as not materialized (
    select
        xor(hash(events.visitor_key), hash(events.service_date, events.source_kind)) as visitor_day_id,
        -- arrival in epoch milliseconds, then the facility code in the low 16 bits
        (epoch_ms(events.arrived_at) << 16) | facility_codes.facility_code as event_order,
        epoch_ms(events.left_at) as left_ms
    from events
    inner join facility_codes using (facility_id)
),

event_sequence as (
    -- first ordered pass: each event, the one before it, and whether it is the last
    select
        visitor_day_id,
        event_order,
        left_ms,
        lag(event_order) over by_visitor as previous_event_order,
        lag(left_ms) over by_visitor as previous_left_ms,
        lead(event_order) over by_visitor is null as is_last_event,
        row_number() over by_visitor as event_number
    from ordered_events
    window by_visitor as (partition by visitor_day_id order by event_order)
),

stop_starts as (
    -- events that start a stop (the first, a change of facility, a re-entry after the gap),
    -- plus each visitor's last event, which closes the last stop
    select
        visitor_day_id,
        event_order,
        event_number,
        left_ms,
        previous_left_ms,
        starts_stop,
        previous_event_order is null
            or (event_order >> 16) - previous_left_ms > getvariable('trip_max_gap_minutes')::bigint * 60000
            as starts_trip
    from (
        select
            *,
            previous_event_order is null
                or (event_order & 65535) <> (previous_event_order & 65535)
                or (event_order >> 16) - previous_left_ms > getvariable('reentry_gap_minutes')::bigint * 60000
                as starts_stop
        from event_sequence
    )
    where starts_stop or is_last_event
),

stop_sequence as (
    -- second ordered pass: trip numbers, stop numbers and what follows each stop
    select
        *,
        sum(case when starts_stop and starts_trip then 1 else 0 end) over by_visitor as trip_index,
        sum(case when starts_stop then 1 else 0 end) over by_visitor as stop_rank,
        lead(event_order) over by_visitor as following_event_order,
        lead(starts_stop) over by_visitor as following_starts_stop,
        lead(starts_trip) over by_visitor as following_starts_trip,
        lead(previous_left_ms) over by_visitor as following_previous_left_ms,
        lead(left_ms) over by_visitor as following_left_ms,
        lead(event_number) over by_visitor as following_event_number
    from stop_starts
    -- event_number keeps the first pass's order among equal times (a stop before the
    -- repeated tap that closes it)
    window by_visitor as (partition by visitor_day_id order by event_order, event_number)
),

stops as (
    select
        visitor_day_id,
        trip_index,
        stop_rank,
        event_order,
        case
            when following_starts_stop then following_previous_left_ms   -- the event before the next stop
            when following_starts_stop = false then following_left_ms    -- the visitor's last event
            else left_ms                                                 -- a last stop of one event
        end as last_seen_ms,
        case
            when following_starts_stop then following_event_number - event_number
            when following_starts_stop = false then following_event_number - event_number + 1
            else 1
        end as events,
        case when following_starts_stop and not following_starts_trip then following_event_order end
            as next_event_order
    from stop_sequence
    where starts_stop
),

trip_sizes as (
    select
        visitor_day_id,
        trip_index,
        min(stop_rank) as first_stop_rank,
        count(*) as trip_stops
    from stops
    group by all
),

final as (
    select
        visitor_days.service_date,
        visitor_days.source_kind,
        visitor_days.visitor_key,
        hash(visitor_days.visitor_key) as visitor_id,
        cast(stops.trip_index as integer) as trip_index,
        cast(stops.stop_rank - trip_sizes.first_stop_rank + 1 as integer) as stop_number,
        cast(trip_sizes.trip_stops as integer) as trip_stops,
        facility_list.facility_ids[stops.event_order & 65535] as facility_id,
        epoch_ms(stops.event_order >> 16) as arrived_at,
        epoch_ms(stops.last_seen_ms) as last_seen_at,
        cast(stops.events as integer) as taps,
        facility_list.facility_ids[stops.next_event_order & 65535] as next_facility_id,
        epoch_ms(stops.next_event_order >> 16) as next_arrived_at,
        ['domestic', 'international', 'unknown'][visitor_days.segment_code] as segment,
        visitor_days.ticket_type
    from stops
    inner join trip_sizes using (visitor_day_id, trip_index)
    inner join visitor_days using (visitor_day_id)
    cross join facility_list
    where case
        when (select colliding_ids from id_check) = 0 then true
        else error('int_stops: two pseudonyms share a 64-bit id on one day; see docs/routes.md')
    end
)

select * from final
