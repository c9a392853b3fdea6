-- materialized: daily
-- depends_on: int_stop_rows, int_codes
-- One row per trip: size, origin and destination, times and the ordered route
-- ("a > b > c"), read from the trip's last stop in int_stop_rows (no next stop), which
-- carries the trip. Routes of up to ten stops are on that row (route_codes, 12 bits per
-- stop, the last stop lowest); the rare longer trips join their ten-stop parts in stop
-- order. The day's codes (int_codes) are kept beside the ids, the route of a trip of up to
-- five stops as one integer (short_route_codes). A table, not a view: the marts and visitor days read the routes as text several
-- times a night, and decoding them once is cheaper.
with codes as (
    select * from intermediate.int_codes
    where service_date between getvariable('first_service_date') and getvariable('last_service_date')
),

parts as (
    -- route_codes spelled out: the part's stops in order
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
        ) as route_part
    from intermediate.int_stop_rows as stop_rows
    inner join codes using (service_date)
    where stop_rows.service_date between getvariable('first_service_date') and getvariable('last_service_date')
        and stop_rows.route_codes is not null
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

routes as (
    -- the code lists joined here, not carried by every part: parts is read twice, so
    -- DuckDB stores it, and two lists on each of its rows cost more than the join
    select
        parts.*,
        coalesce(long_routes.route, parts.route_part) as route,
        coalesce(
            long_routes.origin_facility_code, ((parts.route_codes >> (12 * (parts.stop_number - 1))) & 4095)::smallint
        ) as origin_facility_code,
        codes.facility_ids,
        codes.ticket_types
    from parts
    inner join codes using (service_date)
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
        coalesce(trip_facilities, len(list_distinct(string_split(route, ' > '))))::integer as n_facilities,
        route,
        split_part(route, ' > ', 1) as origin_facility_id,
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
    from routes
)

select * from final
