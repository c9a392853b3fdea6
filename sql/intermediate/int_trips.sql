-- materialized: view
-- depends_on: int_stops
-- One row per trip: size, origin and destination, times and the ordered route
-- ("a > b > c"). A view over the trip's last stop in int_stops (next_facility_id null),
-- which carries the trip (see int_stops): nothing is stored twice. Routes of up to ten
-- stops are on that row; the rare longer trips join their ten-stop parts in stop order.
with trip_ends as (
    select * from intermediate.int_stops
    where next_facility_id is null
),

long_routes as (
    -- the parts of trips longer than ten stops: their tenth, twentieth, ... stops (which
    -- have a next stop) and their last stop (numbered above ten)
    select
        service_date,
        source_kind,
        visitor_id,
        trip_index,
        string_agg(route_part, ' > ' order by stop_number) as route
    from intermediate.int_stops
    where route_part is not null
      and (next_facility_id is not null or stop_number > 10)
    group by all
),

routes as (
    select
        trip_ends.*,
        coalesce(long_routes.route, trip_ends.route_part) as route
    from trip_ends
    left join long_routes using (service_date, source_kind, visitor_id, trip_index)
),

final as (
    select
        service_date,
        source_kind,
        visitor_id,
        trip_index,
        segment,
        ticket_type,
        stop_number as n_stops,
        coalesce(trip_facilities, cast(len(list_distinct(string_split(route, ' > '))) as integer)) as n_facilities,
        route,
        split_part(route, ' > ', 1) as origin_facility_id,
        facility_id as destination_facility_id,
        trip_started_at as started_at,
        trip_ended_at as ended_at,
        date_diff('second', trip_started_at, trip_ended_at) / 60.0 as trip_minutes
    from routes
)

select * from final
