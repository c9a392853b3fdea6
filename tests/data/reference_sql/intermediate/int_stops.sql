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
-- further sort. A visitor's segment (issuing country) and ticket type for the day are
-- those of the first event in that order.
-- Speed: two ordered passes over compact rows (a 64-bit visitor-day id, one sortable
-- integer holding the time and the facility, one holding the day's attributes), then a
-- hash aggregation and join for trip sizes. Strings are decoded only at the end.
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

ticket_codes as (
    select
        ticket_type,
        cast(row_number() over (order by ticket_type) as bigint) as ticket_code
    from (select distinct ticket_type from events)
),

decoding as (
    select
        (select list(facility_id order by facility_code) from facility_codes) as facility_ids,
        (select list(ticket_type order by ticket_code) from ticket_codes) as ticket_types,
        ['entry_log', 'wifi_sensor'] as source_kinds,
        ['domestic', 'international', 'unknown'] as segments,
        case
            when (select count(*) from facility_codes) <= 65535 and (select count(*) from ticket_codes) <= 16777215
                then true
            else error('int_stops: over 65,535 facilities or 16,777,215 ticket types on these days; '
                       'the sort keys hold 16 and 24 bits')
        end as codes_fit
),

ordered_events as not materialized (
    select
        -- the visitor on this service day in this source kind
        xor(hash(events.visitor_key), hash(events.service_date, events.source_kind)) as visitor_day_id,
        -- arrival in epoch milliseconds, then the facility code in the low 16 bits
        (epoch_ms(events.arrived_at) << 16) | facility_codes.facility_code as event_order,
        epoch_ms(events.left_at) as left_ms,
        -- day number, source kind, segment and ticket type in one integer
        (cast(events.service_date - date '1970-01-01' as bigint) << 32)
            | (case events.source_kind when 'entry_log' then 1 else 2 end << 28)
            | (case events.segment when 'domestic' then 1 when 'international' then 2 else 3 end << 24)
            | ticket_codes.ticket_code as event_attributes,
        -- an independent hash of the key's first 48 bits: two keys behind one id disagree
        hash(left(events.visitor_key, 12)) as key_check
    from events
    inner join facility_codes using (facility_id)
    inner join ticket_codes using (ticket_type)
),

event_sequence as (
    -- first ordered pass: each event, the one before it, whether it is the last, and the
    -- attributes of the visitor's first event
    select
        visitor_day_id,
        event_order,
        left_ms,
        lag(event_order) over by_visitor as previous_event_order,
        lag(left_ms) over by_visitor as previous_left_ms,
        lead(event_order) over by_visitor is null as is_last_event,
        row_number() over by_visitor as event_number,
        first_value(event_attributes) over by_visitor as visitor_attributes,
        lag(key_check) over by_visitor <> key_check as is_collision
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
        visitor_attributes,
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
    where case
        when is_collision then error('int_stops: two pseudonyms share a 64-bit id on one day; see docs/routes.md')
        else starts_stop or is_last_event
    end
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
        visitor_attributes,
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

decoded as (
    select
        stops.*,
        trip_sizes.first_stop_rank,
        trip_sizes.trip_stops,
        date '1970-01-01' + cast(stops.visitor_attributes >> 32 as integer) as service_date,
        decoding.source_kinds[(stops.visitor_attributes >> 28) & 15] as source_kind,
        decoding.segments[(stops.visitor_attributes >> 24) & 15] as segment,
        decoding.ticket_types[stops.visitor_attributes & 16777215] as ticket_type,
        decoding.facility_ids
    from stops
    inner join trip_sizes using (visitor_day_id, trip_index)
    cross join decoding
    where decoding.codes_fit
),

final as (
    select
        service_date,
        source_kind,
        -- hash(visitor_key), given back by the xor that made the day id
        xor(visitor_day_id, hash(service_date, source_kind)) as visitor_id,
        cast(trip_index as integer) as trip_index,
        cast(stop_rank - first_stop_rank + 1 as integer) as stop_number,
        cast(trip_stops as integer) as trip_stops,
        facility_ids[event_order & 65535] as facility_id,
        epoch_ms(event_order >> 16) as arrived_at,
        epoch_ms(last_seen_ms) as last_seen_at,
        cast(events as integer) as taps,
        facility_ids[next_event_order & 65535] as next_facility_id,
        epoch_ms(next_event_order >> 16) as next_arrived_at,
        segment,
        ticket_type
    from decoded
)

select * from final
