-- materialized: view
-- depends_on: int_stop_rows, int_codes
-- One row per trip: size, origin and destination, times and the ordered route
-- ("a > b > c"), read from the trip's last stop in int_stop_rows (no next stop), which
-- carries the trip. Routes of up to ten stops are on that row (route_codes, 12 bits per
-- stop, the last stop lowest); the rare longer trips join their ten-stop parts in stop
-- order. The day's codes (int_codes) are kept beside the ids, the route of a trip of up to
-- five stops as one integer (short_route_codes).
-- A view, not a table: the marts group on the codes and read none of the texts, so writing
-- every trip's decoded row (2.4-3.2 s at 10 M taps) cost more than decoding what a reader
-- keeps (DuckDB computes only the columns a query selects).
with parts as not materialized (
    -- the rows that carry route codes (a trip's last stop, and every tenth stop of a longer
    -- trip), each part spelled out: inlined where read, so only a reader of the route
    -- spells it
    select
        stop_rows.*,
        concat_ws(
            ' > ',
            codes.facility_ids[((stop_rows.route_codes >> 108) & 4095)::integer],
            codes.facility_ids[((stop_rows.route_codes >> 96) & 4095)::integer],
            codes.facility_ids[((stop_rows.route_codes >> 84) & 4095)::integer],
            codes.facility_ids[((stop_rows.route_codes >> 72) & 4095)::integer],
            codes.facility_ids[((stop_rows.route_codes >> 60) & 4095)::integer],
            codes.facility_ids[((stop_rows.route_codes >> 48) & 4095)::integer],
            codes.facility_ids[((stop_rows.route_codes >> 36) & 4095)::integer],
            codes.facility_ids[((stop_rows.route_codes >> 24) & 4095)::integer],
            codes.facility_ids[((stop_rows.route_codes >> 12) & 4095)::integer],
            codes.facility_ids[(stop_rows.route_codes & 4095)::integer]
        ) as route_part,
        codes.facility_ids,
        codes.ticket_types
    from intermediate.int_stop_rows as stop_rows
    inner join intermediate.int_codes as codes using (service_date)
    where stop_rows.route_codes is not null
),

long_routes as (
    -- trips longer than ten stops: their tenth, twentieth, ... stops (which have a next
    -- stop) and their last stop (numbered above ten)
    select
        service_date,
        source_code,
        visitor_id,
        trip_index,
        string_agg(route_part, ' > ' order by stop_number) as route,
        -- the first part (stop ten) holds the first ten stops, the first in bits 108-119
        min_by(((route_codes >> 108) & 4095)::smallint, stop_number) as origin_facility_code
    from parts
    where next_facility_code is not null or stop_number > 10
    group by all
),

trips as (
    select
        parts.*,
        coalesce(long_routes.route, parts.route_part) as route,
        coalesce(
            long_routes.origin_facility_code, ((parts.route_codes >> (12 * (parts.stop_number - 1))) & 4095)::smallint
        ) as origin_facility_code,
        -- up to ten stops counted in int_stop_rows, longer trips here
        coalesce(parts.trip_facilities, len(list_distinct(string_split(long_routes.route, ' > '))))::integer
            as n_facilities
    from parts
    left join long_routes using (service_date, source_code, visitor_id, trip_index)
    where parts.next_facility_code is null
),

final as (
    select
        service_date,
        ['entry_log', 'wifi_sensor'][source_code] as source_kind,
        visitor_id,
        trip_index,
        ['domestic', 'international', 'unknown'][segment_code] as segment,
        ticket_types[ticket_code] as ticket_type,
        stop_number as n_stops,
        n_facilities,
        route,
        facility_ids[origin_facility_code] as origin_facility_id,
        facility_ids[facility_code] as destination_facility_id,
        trip_started_at as started_at,
        trip_ended_at as ended_at,
        date_diff('second', trip_started_at, trip_ended_at) / 60.0 as trip_minutes,
        trip_revisits as revisits,
        -- the codes beside what they decode to (int_stops): the period marts group on them
        source_code,
        segment_code,
        ticket_code,
        origin_facility_code,
        facility_code as destination_facility_code,
        -- a trip of up to five stops (a route the marts rank): its stops' codes, 12 bits
        -- each, the last stop lowest
        case when stop_number <= 5 then route_codes::bigint end as short_route_codes
    from trips
)

select * from final
