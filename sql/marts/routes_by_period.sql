-- materialized: rollup
-- depends_on: int_trips, int_codes
-- Trips with two or more stops per period: the origin-destination matrix (first and last
-- stop of the trip; route null) and, inside each origin-destination cell, the ranked
-- routes of 2 to 5 stops (the whole trip, in order). One table so that a route hidden
-- below k cannot be recovered from its origin-destination total.
-- keys: period_grain, period_start, source_kind, day_type, segment_kind, segment, origin_facility_id, destination_facility_id, route
-- counts: visitors
-- suppress: trips, visitors, trip_minutes_median
-- margin: residence | vary segment_kind, segment | parts segment_kind = 'residence' | total segment_kind = 'all'
-- margin: ticket_type | vary segment_kind, segment | parts segment_kind = 'ticket_type' | total segment_kind = 'all'
-- margin: day_types | vary day_type | parts day_type <> 'all' | total day_type = 'all'
-- margin: routes | vary route | parts route is not null | total route is null
-- additive: trips, visitors
-- rank: route_rank | within period_grain, period_start, source_kind, day_type, segment_kind, segment | order visitors desc, route | where route is not null
with codes as (
    select * from period_codes(intermediate.int_codes)
),

names as (
    select * from period_names(intermediate.int_codes)
),

trips as not materialized (  -- noqa: ST03
    -- the cells' columns as integers (period_codes), decoded once the cells are counted:
    -- grouping on the id and route strings cost about twice as much
    select
        trips.service_date,
        trips.source_code,
        trips.segment_code as residence,
        codes.ticket_codes[trips.ticket_code] as ticket_type,
        codes.facility_codes[trips.origin_facility_code] as origin_facility_code,
        codes.facility_codes[trips.destination_facility_code] as destination_facility_code,
        -- only trips of 2 to 5 stops are routes; longer ones count in their OD cell only
        period_route_codes(trips.short_route_codes, codes.facility_codes) as ranked_route,
        trips.n_stops,
        trips.visitor_id,
        trips.trip_minutes
    from intermediate.int_trips as trips
    inner join codes using (service_date)
    where trips.n_stops >= 2
),

typed as not materialized (  -- noqa: ST03
    select * from period_rows(trips)
),

segmented as not materialized (
    select * from segment_rows(typed)
),

cells as not materialized (
    -- each trip counts in its origin-destination cell (route 0 until the final step, so
    -- the cells join on equal keys) and, if it is a route, in its route's cell
    select * exclude (ranked_route), 0::bigint as route from segmented
    union all
    select * exclude (ranked_route), ranked_route as route from segmented
    where ranked_route is not null
),

visitor_trips as (  -- noqa: ST03
    -- the same cells before the segments: each visitor's trips per cell (visitor_cells). A
    -- route's stops are its length, so n_stops is a key of a route's cell; an
    -- origin-destination cell publishes none
    select
        * exclude (service_date, ranked_route, n_stops, trip_minutes),
        0::bigint as route,
        null::bigint as n_stops,
        count(*) as events
    from typed
    group by all
    union all by name
    select
        * exclude (service_date, ranked_route, trip_minutes),
        ranked_route as route,
        count(*) as events
    from typed
    where ranked_route is not null
    group by all
),

grouped_trips as materialized (
    -- trips and distinct visitors per cell; the median is a separate aggregation (stored:
    -- read twice, by the median's cells too)
    select * rename (events as trips) from visitor_cells(visitor_trips)
),

trip_minutes as not materialized (  -- noqa: ST03
    -- the minutes of the cells of k visitors or more only: a cell of fewer is hidden
    -- (published_cells) and its median nulled (suppress header), so its quartiles are never
    -- read, and most cells are such (426k of the 442k day cells of a 2 M-tap night)
    select cells.* exclude (n_stops) rename (trip_minutes as minutes)
    from cells
    semi join grouped_trips as shown
        on shown.visitors >= getvariable('min_cell_count')
            and cells.period_start = shown.period_start
            and cells.source_code = shown.source_code
            and cells.day_type = shown.day_type
            and cells.segment_kind = shown.segment_kind
            and cells.segment = shown.segment
            and cells.origin_facility_code = shown.origin_facility_code
            and cells.destination_facility_code = shown.destination_facility_code
            and cells.route = shown.route
),

counted as (  -- noqa: ST03
    -- a natural join: the cells' columns are the only ones the two share; a cell without
    -- quartiles (fewer than k visitors) keeps its counts
    select * from grouped_trips
    natural left join minute_quartiles(trip_minutes)
),

decoded as (  -- noqa: ST03
    select
        counted.period_start,
        counted.source_code,
        counted.day_type,
        counted.segment_kind,
        counted.segment,
        names.facility_ids[counted.origin_facility_code] as origin_facility_id,
        names.facility_ids[counted.destination_facility_code] as destination_facility_id,
        case when counted.route <> 0 then route_name(counted.route, names.facility_ids) end as route,
        case when counted.route <> 0 then cast(counted.n_stops as integer) end as n_stops,
        cast(null as integer) as route_rank,
        counted.trips,
        counted.visitors,
        counted.minutes_median as trip_minutes_median
    from counted
    cross join names
),

named as (  -- noqa: ST03
    select * from named_cells(decoded, intermediate.int_codes)
),

final as (
    select * from published_cells(named)
)

-- noqa: disable=AM04
select * from final
