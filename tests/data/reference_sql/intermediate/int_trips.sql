-- materialized: daily
-- depends_on: int_stops
-- One row per trip: size, origin and destination, times and the ordered route
-- ("a > b > c"). The first ten stops are packed by stop number into two 64-bit integers
-- of five 12-bit facility codes each (bitwise ors, order-free: a plain hash aggregation); the
-- rare longer trips use an ordered string_agg over their rows.
with stops as (
    select * from intermediate.int_stops
    where service_date between getvariable('first_service_date') and getvariable('last_service_date')
),

facility_codes as (
    select
        facility_id,
        cast(row_number() over (order by facility_id) - 1 as bigint) as facility_code
    from (select distinct facility_id from stops)
),

facility_list as (
    select
        list(facility_id order by facility_code) as facility_ids,
        case
            when count(*) <= 4096 then true
            else error('int_trips: more than 4096 facilities on these days; route codes hold 12 bits')
        end as codes_fit
    from facility_codes
),

trips as (
    select
        stops.service_date,
        stops.source_kind,
        stops.visitor_id,
        stops.trip_index,
        any_value(stops.segment) as segment,
        any_value(stops.ticket_type) as ticket_type,
        count(*) as n_stops,
        -- the last stop's code, in the low 16 bits of the largest (stop number, code) pair
        max((stops.stop_number::bigint << 16) | facility_codes.facility_code) & 65535 as destination_code,
        min(stops.arrived_at) as started_at,
        max(stops.last_seen_at) as ended_at,
        bit_or(case
            when stops.stop_number <= 5 then facility_codes.facility_code << (12 * (stops.stop_number - 1))
            else 0
        end) as route_code_1_5,
        bit_or(case
            when stops.stop_number between 6 and 10 then facility_codes.facility_code << (12 * (stops.stop_number - 6))
            else 0
        end) as route_code_6_10
    from stops
    inner join facility_codes using (facility_id)
    group by stops.service_date, stops.source_kind, stops.visitor_id, stops.trip_index
),

long_routes as (
    select
        service_date,
        source_kind,
        visitor_id,
        trip_index,
        string_agg(facility_id, ' > ' order by stop_number) as route,
        count(distinct facility_id) as n_facilities
    from stops
    where trip_stops > 10
    group by all
),

routes as (
    select
        trips.*,
        list_transform(
            range(least(trips.n_stops, 10)),
            lambda i: case
                when i < 5 then (trips.route_code_1_5 >> (12 * i)) & 4095
                else (trips.route_code_6_10 >> (12 * (i - 5))) & 4095
            end
        ) as short_codes,
        long_routes.route as long_route,
        long_routes.n_facilities as long_n_facilities,
        facility_list.facility_ids
    from trips
    cross join facility_list
    left join long_routes using (service_date, source_kind, visitor_id, trip_index)
    where facility_list.codes_fit
),

final as (
    select
        service_date,
        source_kind,
        visitor_id,
        trip_index,
        segment,
        ticket_type,
        cast(n_stops as integer) as n_stops,
        cast(coalesce(long_n_facilities, len(list_distinct(short_codes))) as integer) as n_facilities,
        coalesce(
            long_route,
            array_to_string(list_transform(short_codes, lambda code: facility_ids[code + 1]), ' > ')
        ) as route,
        facility_ids[(route_code_1_5 & 4095) + 1] as origin_facility_id,
        facility_ids[destination_code + 1] as destination_facility_id,
        started_at,
        ended_at,
        date_diff('second', started_at, ended_at) / 60.0 as trip_minutes
    from routes
)

select * from final
