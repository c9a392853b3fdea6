-- materialized: daily
-- depends_on: int_sensor_stays
-- One row per stop of every visitor's trips on a service day, for card taps (entry_log)
-- and Wi-Fi sensor stays (wifi_sensor) alike; source_kind keeps the two apart everywhere.
-- A visitor's events (taps, or stays of non-resident devices) are ordered by time with the
-- facility id as a deterministic tie-break. An event at the same facility as the previous
-- one, at most reentry_gap_minutes after the previous event ended, is a re-entry: the
-- same stop. A gap longer than trip_max_gap_minutes after the previous stop's last event
-- starts a new trip; trips never cross the service-day boundary (the day is part of the
-- order). Each stop carries the next stop of the same trip, so transitions need no further
-- sort. A visitor's segment (issuing country) and ticket type for the day are those of the
-- first event in that order.
-- The trip's last stop (next_facility_id null) also carries the trip: trip_started_at,
-- trip_ended_at, trip_facilities (distinct facilities, trips of up to ten stops) and
-- route_part, the facilities of the stops since the previous part (" > "-separated); a
-- part is written at every tenth stop and at the trip's last, so a trip of up to ten stops
-- has its whole route on its last stop (int_trips reads trips from these rows).
-- Speed: ONE sort. Events become integer rows (the 64-bit visitor id stored at ingest, a
-- day-and-kind number, one integer holding arrival time and facility code), are sorted
-- once, and every further step is a streaming window over that order (over (): lag, lead
-- and running sums, which DuckDB computes in one sequential scan without sorting again):
-- stop and trip boundaries from the neighbouring events, stop and trip numbers as running
-- counts, each stop emitted at its last event, route codes from the previous nine stops.
-- Strings are decoded only for the rows written.
with entry_events as not materialized (
    select
        service_date,
        1 as kind_code,
        visitor_id,
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
        2 as kind_code,
        device_id as visitor_id,
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

coded_events as not materialized (
    select
        -- the service day and source kind in one number
        cast(events.service_date - date '1970-01-01' as bigint) * 2 + events.kind_code - 1 as day_kind,
        case
            when events.visitor_id is null
                then error('int_stops: a row has no visitor id; raw rows get theirs from flowlib.visitor_ids')
            else events.visitor_id
        end as visitor_id,
        -- arrival in epoch milliseconds, then the facility code in the low 16 bits
        (epoch_ms(events.arrived_at) << 16) | facility_codes.facility_code as event_order,
        epoch_ms(events.left_at) as left_ms,
        -- segment and ticket type in one integer
        (case events.segment when 'domestic' then 1 when 'international' then 2 else 3 end << 24)
            | ticket_codes.ticket_code as event_attributes
    from events
    inner join facility_codes using (facility_id)
    inner join ticket_codes using (ticket_type)
),

sorted_events as not materialized (
    -- the one sort
    select * from coded_events
    order by day_kind, visitor_id, event_order
),

neighbours as not materialized (
    -- each event with the one before and the one after it in that order
    select
        *,
        lag(day_kind) over () as previous_day_kind,
        lag(visitor_id) over () as previous_visitor_id,
        lag(event_order) over () as previous_event_order,
        lag(left_ms) over () as previous_left_ms,
        lead(day_kind) over () as next_day_kind,
        lead(visitor_id) over () as next_visitor_id,
        lead(event_order) over () as next_event_order
    from sorted_events
),

boundaries as not materialized (
    select
        *,
        coalesce(previous_day_kind <> day_kind or previous_visitor_id <> visitor_id, true) as starts_visitor,
        coalesce(next_day_kind <> day_kind or next_visitor_id <> visitor_id, true) as ends_visitor
    from neighbours
),

flagged as not materialized (
    select
        *,
        starts_visitor
            or (event_order & 65535) <> (previous_event_order & 65535)
            or (event_order >> 16) - previous_left_ms > getvariable('reentry_gap_minutes')::bigint * 60000
            as starts_stop,
        starts_visitor
            or ((event_order & 65535) <> (previous_event_order & 65535)
                or (event_order >> 16) - previous_left_ms > getvariable('reentry_gap_minutes')::bigint * 60000)
               and (event_order >> 16) - previous_left_ms > getvariable('trip_max_gap_minutes')::bigint * 60000
            as starts_trip,
        ends_visitor
            or (next_event_order & 65535) <> (event_order & 65535)
            or (next_event_order >> 16) - left_ms > getvariable('reentry_gap_minutes')::bigint * 60000
            as ends_stop,
        ends_visitor
            or ((next_event_order & 65535) <> (event_order & 65535)
                or (next_event_order >> 16) - left_ms > getvariable('reentry_gap_minutes')::bigint * 60000)
               and (next_event_order >> 16) - left_ms > getvariable('trip_max_gap_minutes')::bigint * 60000
            as ends_trip
    from boundaries
),

counted as not materialized (
    -- running counts over the whole order: every stop, trip and event has a number
    select
        *,
        sum(starts_stop::bigint) over (rows between unbounded preceding and current row) as stop_sequence,
        sum(starts_trip::bigint) over (rows between unbounded preceding and current row) as trip_sequence,
        row_number() over () as event_sequence,
        last_value(case when starts_visitor then event_attributes end ignore nulls)
            over (rows between unbounded preceding and current row) as visitor_attributes,
        last_value(case when starts_stop then event_order end ignore nulls)
            over (rows between unbounded preceding and current row) as stop_event_order
    from flagged
),

anchored as not materialized (
    -- where the current stop, trip and visitor began, and the trip's latest end so far
    select
        *,
        last_value(case when starts_stop then event_sequence end ignore nulls)
            over (rows between unbounded preceding and current row) as stop_first_event,
        last_value(case when starts_trip then stop_sequence end ignore nulls)
            over (rows between unbounded preceding and current row) as trip_first_stop,
        last_value(case when starts_visitor then trip_sequence end ignore nulls)
            over (rows between unbounded preceding and current row) as visitor_first_trip,
        -- trip numbers grow along the order, so the running maximum of (trip, end) is the
        -- latest end within the current trip
        max((trip_sequence::hugeint << 64) | left_ms)
            over (rows between unbounded preceding and current row) as trip_latest_end
    from counted
),

stops as not materialized (
    -- one row per stop, emitted at its last event, still in order
    select
        day_kind,
        visitor_id,
        visitor_attributes,
        cast(trip_sequence - visitor_first_trip + 1 as integer) as trip_index,
        cast(stop_sequence - trip_first_stop + 1 as integer) as stop_number,
        stop_event_order & 65535 as facility_code,
        stop_event_order >> 16 as arrived_ms,
        left_ms as last_seen_ms,
        cast(event_sequence - stop_first_event + 1 as integer) as taps,
        case when not ends_trip then next_event_order end as next_event_order,
        ends_trip,
        cast(trip_latest_end & 18446744073709551615 as bigint) as trip_ended_ms
    from anchored
    where ends_stop
),

routed as not materialized (
    -- the previous nine stops' facility codes (used where they belong to the same trip) and
    -- the trip's first arrival
    select
        *,
        [
            lag(facility_code, 9) over (), lag(facility_code, 8) over (), lag(facility_code, 7) over (),
            lag(facility_code, 6) over (), lag(facility_code, 5) over (), lag(facility_code, 4) over (),
            lag(facility_code, 3) over (), lag(facility_code, 2) over (), lag(facility_code, 1) over (),
            facility_code
        ] as last_ten_codes,
        last_value(case when stop_number = 1 then arrived_ms end ignore nulls)
            over (rows between unbounded preceding and current row) as trip_started_ms
    from stops
),

final as (
    select
        date '1970-01-01' + cast(routed.day_kind // 2 as integer) as service_date,
        decoding.source_kinds[routed.day_kind % 2 + 1] as source_kind,
        routed.visitor_id,
        routed.trip_index,
        routed.stop_number,
        decoding.facility_ids[routed.facility_code] as facility_id,
        epoch_ms(routed.arrived_ms) as arrived_at,
        epoch_ms(routed.last_seen_ms) as last_seen_at,
        routed.taps,
        decoding.facility_ids[routed.next_event_order & 65535] as next_facility_id,
        epoch_ms(routed.next_event_order >> 16) as next_arrived_at,
        decoding.segments[(routed.visitor_attributes >> 24) & 15] as segment,
        decoding.ticket_types[routed.visitor_attributes & 16777215] as ticket_type,
        case when routed.ends_trip or routed.stop_number % 10 = 0 then
            array_to_string(
                list_transform(
                    routed.last_ten_codes[11 - ((routed.stop_number - 1) % 10 + 1):],
                    lambda code: decoding.facility_ids[code]
                ),
                ' > '
            )
        end as route_part,
        case when routed.ends_trip and routed.stop_number <= 10 then
            cast(len(list_distinct(routed.last_ten_codes[11 - routed.stop_number:])) as integer)
        end as trip_facilities,
        case when routed.ends_trip then epoch_ms(routed.trip_started_ms) end as trip_started_at,
        case when routed.ends_trip then epoch_ms(routed.trip_ended_ms) end as trip_ended_at
    from routed
    cross join decoding
    where decoding.codes_fit
)

select * from final
