-- The stops of int_stop_rows (sql/intermediate/int_stop_rows.sql), as a DuckDB table macro
-- (see period_steps.sql for how the macros are loaded): stop_rows(entry_log, sensor_stays,
-- codes, first_day, last_day, visitor_parts, visitor_part) gives the stops of the service
-- days first_day .. last_day of the visitors whose id hashes to visitor_part modulo
-- visitor_parts, from the card taps in the table named entry_log (staging.stg_entry_log),
-- the sensor stays in sensor_stays (intermediate.int_sensor_stays) and the day's codes in
-- codes (intermediate.int_codes): passed by the model, because a macro is created before
-- the tables it reads. A macro so that the model can compute two parts of its visitors side
-- by side in one statement (the model says why).
-- One row per stop of every visitor's trips on a service day, as integers (int_stops is
-- the readable view of this table, the view int_trips reads the trips from it). Card taps
-- (source_code 1, entry_log) and Wi-Fi sensor stays (2, wifi_sensor) alike.
-- Rules: a visitor's events (taps, or stays of non-resident devices) are ordered by time
-- with the facility id as a deterministic tie-break. An event at the same facility as the
-- previous one, at most reentry_gap_minutes after the previous event ended, is a re-entry:
-- the same stop. A later event at the same facility as the previous stop is, by
-- FLOW_SELF_TRANSITIONS, another stop (keep: an A -> A move) or, by default (revisit), the
-- same stop again, counted in revisits (same_facility_gap_minutes is the re-entry gap under
-- keep, the trip gap under revisit; docs/routes.md, "Self-transitions"). A gap longer than trip_max_gap_minutes after the previous stop's last
-- event starts a new trip; trips never cross the service-day boundary. Each stop carries the
-- next stop of the same trip. A visitor's segment (issuing country) and ticket type for the
-- day are those of the first event in that order.
-- The trip's last stop (next_facility_code null) also carries the trip: trip_started_at,
-- trip_ended_at, trip_facilities (distinct facilities, trips of up to ten stops) and
-- route_codes, the facility codes of the stops since the previous part, 12 bits each, the
-- latest stop in the lowest bits. A part is written at every tenth stop and at the trip's
-- last, so a trip of up to ten stops has its whole route on its last stop.
-- Speed: ONE sort. Events become integer rows (the 64-bit visitor id stored at ingest, a
-- day-and-kind number, one integer holding arrival time and facility code), sorted once;
-- every further step is a streaming window over that order (over (): lag, lead and running
-- sums and maxima, which DuckDB computes in one sequential scan, without sorting again):
-- stop and trip boundaries from the neighbouring events, stop and trip numbers as running
-- counts, each stop emitted at its last event, route codes from the previous nine stops.
-- Those windows run in one thread; a window over the whole part then collects the stops so
-- that the stored columns are computed and written on every core, and so that DuckDB runs
-- two parts of one statement side by side (int_stop_rows.sql). Every rule above is within
-- one visitor's events, so any split of the visitors into parts gives the same rows.
-- Facilities, ticket types, source kinds and segments stay codes (see int_codes).
create or replace temp macro stop_rows(entry_log, sensor_stays, codes, first_day, last_day, visitor_parts, visitor_part) as table
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
        from query_table(entry_log)
        where service_date between first_day and last_day
          and hash(visitor_id) % visitor_parts::ubigint = visitor_part::ubigint
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
        from query_table(sensor_stays)
        where service_date between first_day and last_day
          and not is_resident_device
          and hash(device_id) % visitor_parts::ubigint = visitor_part::ubigint
    ),

    events as not materialized (
        select * from entry_events
        union all
        select * from sensor_events
    ),

    facility_codes as (
        select service_date, unnest(facility_ids) as facility_id, generate_subscripts(facility_ids, 1) as facility_code
        from query_table(codes)
        where service_date between first_day and last_day
    ),

    ticket_codes as (
        select service_date, unnest(ticket_types) as ticket_type, generate_subscripts(ticket_types, 1) as ticket_code
        from query_table(codes)
        where service_date between first_day and last_day
    ),

    coded_events as not materialized (
        select
            -- the service day and source kind in one number
            cast((events.service_date - date '1970-01-01') * 2 + events.kind_code - 1 as integer) as day_kind,
            case
                when events.visitor_id is null
                    then error('int_stop_rows: a row has no visitor id; raw rows get theirs from flowlib.visitor_ids')
                else events.visitor_id
            end as visitor_id,
            -- arrival in epoch milliseconds, then the facility code in the low 16 bits
            (epoch_ms(events.arrived_at) << 16) | facility_codes.facility_code as event_order,
            -- how long the event lasted (0 for a tap; a sensor stay stays within its service day)
            cast(epoch_ms(events.left_at) - epoch_ms(events.arrived_at) as integer) as duration_ms,
            -- segment and ticket type in one integer
            cast((case events.segment when 'domestic' then 1 when 'international' then 2 else 3 end << 24)
                 | ticket_codes.ticket_code as integer) as event_attributes
        from events
        inner join facility_codes using (service_date, facility_id)
        inner join ticket_codes using (service_date, ticket_type)
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
            (event_order >> 16) + duration_ms as left_ms,
            lag(day_kind) over () as previous_day_kind,
            lag(visitor_id) over () as previous_visitor_id,
            lag(event_order) over () as previous_event_order,
            lag((event_order >> 16) + duration_ms) over () as previous_left_ms,
            lead(day_kind) over () as next_day_kind,
            lead(visitor_id) over () as next_visitor_id,
            lead(event_order) over () as next_event_order
        from sorted_events
    ),

    boundaries as not materialized (
        select
            *,
            coalesce(previous_day_kind <> day_kind or previous_visitor_id <> visitor_id, true) as starts_visitor,
            coalesce(next_day_kind <> day_kind or next_visitor_id <> visitor_id, true) as ends_visitor,
            (event_order & 65535) <> (previous_event_order & 65535)
                or (event_order >> 16) - previous_left_ms > getvariable('same_facility_gap_minutes')::bigint * 60000
                as other_stop_than_previous,
            (next_event_order & 65535) <> (event_order & 65535)
                or (next_event_order >> 16) - left_ms > getvariable('same_facility_gap_minutes')::bigint * 60000
                as other_stop_than_next,
            -- a return to the facility of the same stop after the re-entry gap (a revisit;
            -- only under FLOW_SELF_TRANSITIONS=revisit, else it starts another stop)
            coalesce(
                (event_order & 65535) = (previous_event_order & 65535)
                and (event_order >> 16) - previous_left_ms > getvariable('reentry_gap_minutes')::bigint * 60000
                and (event_order >> 16) - previous_left_ms <= getvariable('same_facility_gap_minutes')::bigint * 60000
                and previous_day_kind = day_kind and previous_visitor_id = visitor_id,
                false
            ) as is_revisit
        from neighbours
    ),

    flagged as not materialized (
        select
            *,
            starts_visitor or other_stop_than_previous as starts_stop,
            starts_visitor
                or other_stop_than_previous
                   and (event_order >> 16) - previous_left_ms > getvariable('trip_max_gap_minutes')::bigint * 60000
                as starts_trip,
            ends_visitor or other_stop_than_next as ends_stop,
            ends_visitor
                or other_stop_than_next
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
            sum(is_revisit::bigint) over (rows between unbounded preceding and current row) as revisit_sequence,
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
            last_value(case when starts_stop then revisit_sequence end ignore nulls)
                over (rows between unbounded preceding and current row) as stop_first_revisit,
            last_value(case when starts_trip then revisit_sequence end ignore nulls)
                over (rows between unbounded preceding and current row) as trip_first_revisit,
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
            cast(revisit_sequence - stop_first_revisit as integer) as revisits,
            cast(revisit_sequence - trip_first_revisit as integer) as trip_revisits,
            case when not ends_trip then next_event_order end as next_event_order,
            ends_trip,
            cast(trip_latest_end & 18446744073709551615 as bigint) as trip_ended_ms
        from anchored
        where ends_stop
    ),

    paired as not materialized (
        -- each stop's facility code with the previous stop's above it (12 bits each), and the
        -- trip's first arrival
        select
            *,
            facility_code | (coalesce(lag(facility_code, 1) over (), 0) << 12) as code_pair,
            last_value(case when stop_number = 1 then arrived_ms end ignore nulls)
                over (rows between unbounded preceding and current row) as trip_started_ms
        from stops
    ),

    routed as not materialized (
        -- the previous nine stops' facility codes (used where they belong to the same trip),
        -- two at a time
        select
            *,
            (stop_number - 1) % 10 + 1 as part_stops,
            code_pair >> 12 as code_1,
            lag(code_pair, 2) over () as pair_2,
            lag(code_pair, 4) over () as pair_4,
            lag(code_pair, 6) over () as pair_6,
            lag(code_pair, 8) over () as pair_8
        from paired
    ),

    collected as (
        -- a window over the whole part, which DuckDB cannot stream: it collects the part's
        -- stops and hands them on to every core, so that what follows (unpacking the codes,
        -- the stored columns, the write) no longer runs in the one thread of the windows above;
        -- and, a pipeline of its own, the windows of another part of the same statement can run
        -- beside it (without it, two parts of a union ran one after the other)
        select *, count(*) over () as stops_in_part
        from routed
    ),

    unpacked as not materialized (
        select
            *,
            pair_2 & 4095 as code_2,
            pair_2 >> 12 as code_3,
            pair_4 & 4095 as code_4,
            pair_4 >> 12 as code_5,
            pair_6 & 4095 as code_6,
            pair_6 >> 12 as code_7,
            pair_8 & 4095 as code_8,
            pair_8 >> 12 as code_9
        from collected
        -- the window's column is read, so that the optimiser keeps the window
        where stops_in_part > 0
    ),

    final as (
        select
            date '1970-01-01' + cast(day_kind // 2 as integer) as service_date,
            cast(day_kind % 2 + 1 as tinyint) as source_code,
            visitor_id,
            trip_index,
            stop_number,
            cast(facility_code as smallint) as facility_code,
            epoch_ms(arrived_ms) as arrived_at,
            epoch_ms(last_seen_ms) as last_seen_at,
            taps,
            revisits,
            cast(next_event_order & 65535 as smallint) as next_facility_code,
            epoch_ms(next_event_order >> 16) as next_arrived_at,
            cast(visitor_attributes >> 24 as tinyint) as segment_code,
            visitor_attributes & 16777215 as ticket_code,
            case when ends_trip or stop_number % 10 = 0 then
                (
                    code_pair::hugeint
                    | (coalesce(pair_2, 0)::hugeint << 24)
                    | (coalesce(pair_4, 0)::hugeint << 48)
                    | (coalesce(pair_6, 0)::hugeint << 72)
                    | (coalesce(pair_8, 0)::hugeint << 96)
                ) & ((1::hugeint << (12 * part_stops)) - 1)
            end as route_codes,
            -- the trip's distinct facilities (trips of up to ten stops): each stop counted unless
            -- an earlier stop of the trip was at the same facility. Comparisons of the codes at
            -- hand: list_distinct of a list built per trip took about 0.8 s more at 10 M taps.
            case when ends_trip and stop_number <= 10 then
                cast(
                    1
                    + case when stop_number > 1 and code_1 <> facility_code then 1 else 0 end
                    + case when stop_number > 2 and code_2 not in (facility_code, code_1) then 1 else 0 end
                    + case when stop_number > 3 and code_3 not in (facility_code, code_1, code_2) then 1 else 0 end
                    + case when stop_number > 4 and code_4 not in (facility_code, code_1, code_2, code_3) then 1 else 0 end
                    + case when stop_number > 5 and code_5 not in (facility_code, code_1, code_2, code_3, code_4) then 1 else 0 end
                    + case when stop_number > 6 and code_6 not in (facility_code, code_1, code_2, code_3, code_4, code_5) then 1 else 0 end
                    + case when stop_number > 7 and code_7 not in (facility_code, code_1, code_2, code_3, code_4, code_5, code_6) then 1 else 0 end
                    + case when stop_number > 8 and code_8 not in (facility_code, code_1, code_2, code_3, code_4, code_5, code_6, code_7) then 1 else 0 end
                    + case when stop_number > 9 and code_9 not in (facility_code, code_1, code_2, code_3, code_4, code_5, code_6, code_7, code_8) then 1 else 0 end
                    as smallint
                )
            end as trip_facilities,
            case when ends_trip then epoch_ms(trip_started_ms) end as trip_started_at,
            case when ends_trip then epoch_ms(trip_ended_ms) end as trip_ended_at,
            case when ends_trip then trip_revisits end as trip_revisits
        from unpacked
    )

    select * from final;
