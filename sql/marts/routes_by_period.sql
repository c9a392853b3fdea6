-- materialized: rollup
-- depends_on: int_trips
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
with periods as (
    select * from ref.calendar_periods
    where period_grain = getvariable('period_grain')
),

calendar as (
    select calendar_date, day_type from ref.calendar
),

trips as not materialized (
    select
        periods.period_start,
        periods.period_end,
        periods.period_label,
        calendar.day_type,
        t.source_kind,
        t.segment as residence,
        t.ticket_type,
        t.origin_facility_id,
        t.destination_facility_id,
        -- only trips of 2 to 5 stops are routes; longer ones count in their OD cell only
        case when t.n_stops <= 5 then t.route end as ranked_route,
        t.n_stops,
        t.visitor_id,
        t.trip_minutes
    from intermediate.int_trips as t
    inner join periods on periods.calendar_date = t.service_date
    inner join calendar on calendar.calendar_date = t.service_date
    where t.service_date between getvariable('period_first_day') and getvariable('period_last_day')
        and t.n_stops >= 2
),

typed as not materialized (
    -- every row counts for all days; in weeks, months and years also for its day type
    select * exclude (day_type), 'all' as day_type from trips
    union all by name
    select * from trips
    where getvariable('period_grain') <> 'day'
),

segmented as not materialized (
    -- each row counts for all visitors and, card taps only (sensors know no segment), for
    -- its residence and its ticket type
    select
        typed.* exclude (residence, ticket_type),
        kinds.segment_kind,
        case kinds.segment_kind
            when 'residence' then typed.residence
            when 'ticket_type' then typed.ticket_type
            else 'all'
        end as segment
    from typed
    cross join (values ('all'), ('residence'), ('ticket_type')) as kinds (segment_kind)
    where kinds.segment_kind = 'all' or typed.source_kind = 'entry_log'
),

grouped_trips as (
    -- trips and distinct visitors; the median is read off a histogram below, because
    -- DuckDB holding a distinct set and a quantile state for each of a month's routes runs
    -- out of memory and disk
    select
        period_start,
        period_end,
        period_label,
        source_kind,
        day_type,
        segment_kind,
        segment,
        origin_facility_id,
        destination_facility_id,
        grouping(ranked_route) = 0 as is_route,
        ranked_route as route,
        min(n_stops) as n_stops,
        count(*) as trips,
        count(distinct visitor_id) as visitors
    from segmented
    group by
        period_start, period_end, period_label, source_kind, day_type, segment_kind, segment,
        origin_facility_id, destination_facility_id,
        grouping sets ((), (ranked_route))
    having grouping(ranked_route) = 1 or ranked_route is not null
),

minute_histogram as (
    -- how many trips took each number of minutes, per cell
    select
        period_start,
        source_kind,
        day_type,
        segment_kind,
        segment,
        origin_facility_id,
        destination_facility_id,
        grouping(ranked_route) = 0 as is_route,
        ranked_route as route,
        trip_minutes as minutes,
        count(*) as trips
    from segmented
    group by
        period_start, source_kind, day_type, segment_kind, segment, origin_facility_id, destination_facility_id,
        trip_minutes,
        grouping sets ((), (ranked_route))
    having grouping(ranked_route) = 1 or ranked_route is not null
),

minute_positions as (
    -- each value's first position (0-based) in the cell's sorted trips, and the cell's size
    select
        *,
        sum(trips) over (cell order by minutes) - trips as position,
        sum(trips) over cell as cell_trips
    from minute_histogram
    window cell as (
        partition by
            period_start, source_kind, day_type, segment_kind, segment,
            origin_facility_id, destination_facility_id, is_route, route
    )
),

grouped_medians as (
    -- median (quantile_cont 0.5): the value at position (n - 1) / 2, or the mean of the two
    -- values around it
    select
        period_start,
        source_kind,
        day_type,
        segment_kind,
        segment,
        origin_facility_id,
        destination_facility_id,
        is_route,
        route,
        (
            min(minutes) filter (where position + trips > floor((cell_trips - 1) * 0.5))
            + min(minutes) filter (where position + trips > ceil((cell_trips - 1) * 0.5))
        ) / 2 as trip_minutes_median
    from minute_positions
    group by all
),

counted as (
    select
        grouped_trips.*,
        grouped_medians.trip_minutes_median
    from grouped_trips
    inner join grouped_medians
        on grouped_medians.period_start = grouped_trips.period_start
            and grouped_medians.source_kind = grouped_trips.source_kind
            and grouped_medians.day_type = grouped_trips.day_type
            and grouped_medians.segment_kind = grouped_trips.segment_kind
            and grouped_medians.segment = grouped_trips.segment
            and grouped_medians.origin_facility_id = grouped_trips.origin_facility_id
            and grouped_medians.destination_facility_id = grouped_trips.destination_facility_id
            and grouped_medians.is_route = grouped_trips.is_route
            and grouped_medians.route is not distinct from grouped_trips.route
),

final as (
    select
        getvariable('period_grain') as period_grain,
        period_start,
        period_end,
        period_label,
        source_kind,
        day_type,
        segment_kind,
        segment,
        origin_facility_id,
        destination_facility_id,
        route,
        case when is_route then cast(n_stops as integer) end as n_stops,
        cast(null as integer) as route_rank,
        trips,
        visitors,
        round(trip_minutes_median, 1) as trip_minutes_median,
        visitors < getvariable('min_cell_count') as is_suppressed,
        case when visitors < getvariable('min_cell_count') then 'primary' end as suppression
    from counted
)

select * from final
