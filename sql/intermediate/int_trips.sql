-- materialized: daily
-- depends_on: int_stops
-- One row per trip: size, origin and destination, times and the ordered route
-- ("a > b > c"). The route of up to five stops is assembled from facility codes packed
-- by stop number into one integer (an order-free sum, so a plain hash aggregation);
-- longer trips use an ordered string_agg over their few rows.
with stops as (
    select * from intermediate.int_stops
    where service_date between getvariable('first_service_date') and getvariable('last_service_date')
),

facility_codes as (
    select
        facility_id,
        cast(row_number() over (order by facility_id) - 1 as hugeint) as facility_code
    from (select distinct facility_id from stops)
),

facility_list as (
    select list(facility_id order by facility_code) as facility_ids from facility_codes
),

trips as (
    select
        stops.service_date,
        stops.source_kind,
        stops.visitor_id,
        stops.trip_index,
        any_value(stops.visitor_key) as visitor_key,
        any_value(stops.segment) as segment,
        any_value(stops.ticket_type) as ticket_type,
        count(*) as n_stops,
        arg_min(facility_codes.facility_code, stops.stop_number) as origin_code,
        arg_max(facility_codes.facility_code, stops.stop_number) as destination_code,
        min(stops.arrived_at) as started_at,
        max(stops.last_seen_at) as ended_at,
        sum(case
            when stops.stop_number <= 5
                then facility_codes.facility_code << cast(16 * (stops.stop_number - 1) as hugeint)
            else 0
        end) as route_code
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
        string_agg(facility_id, ' > ' order by stop_number) as route
    from stops
    where trip_stops > 5
    group by all
),

routes as (
    select
        trips.*,
        coalesce(
            long_routes.route,
            array_to_string(
                list_transform(
                    range(least(trips.n_stops, 5)),
                    lambda i: facility_list.facility_ids[cast((trips.route_code >> cast(16 * i as hugeint)) & 65535 as integer) + 1]
                ),
                ' > '
            )
        ) as route,
        facility_list.facility_ids[cast(trips.origin_code as integer) + 1] as origin_facility_id,
        facility_list.facility_ids[cast(trips.destination_code as integer) + 1] as destination_facility_id
    from trips
    cross join facility_list
    left join long_routes using (service_date, source_kind, visitor_id, trip_index)
),

final as (
    select
        service_date,
        source_kind,
        visitor_key,
        visitor_id,
        trip_index,
        segment,
        ticket_type,
        cast(n_stops as integer) as n_stops,
        cast(len(list_distinct(string_split(route, ' > '))) as integer) as n_facilities,
        route,
        origin_facility_id,
        destination_facility_id,
        started_at,
        ended_at,
        date_diff('second', started_at, ended_at) / 60.0 as trip_minutes
    from routes
)

select * from final
