-- materialized: rollup
-- depends_on: int_stops, int_transitions
-- Minutes spent at each facility per period. Wi-Fi sensors measure it
-- (dwell_method 'sensor_stay': first to last detection of the stop); card taps only give
-- an estimate (dwell_method 'entry_gap_estimate': minutes from this admission to the
-- next one in the trip, minus the walking time between the two facilities, never below
-- zero; a trip's last stop has no estimate).
-- keys: period_grain, period_start, source_kind, day_type, segment_kind, segment, facility_id, dwell_method
-- counts: visitors
-- suppress: visitors, dwell_minutes_p25, dwell_minutes_median, dwell_minutes_p75, dwell_minutes_mean
-- margin: residence | vary segment_kind, segment | parts segment_kind = 'residence' | total segment_kind = 'all'
-- margin: ticket_type | vary segment_kind, segment | parts segment_kind = 'ticket_type' | total segment_kind = 'all'
-- margin: day_types | vary day_type | parts day_type <> 'all' | total day_type = 'all'
with periods as (
    select * from ref.calendar_periods
    where period_grain = getvariable('period_grain')
),

calendar as (
    select calendar_date, day_type from ref.calendar
),

sensor_dwell as (
    select
        service_date,
        source_kind,
        segment,
        ticket_type,
        facility_id,
        'sensor_stay' as dwell_method,
        visitor_id,
        date_diff('second', arrived_at, last_seen_at) / 60.0 as dwell_minutes
    from intermediate.int_stops
    where service_date between getvariable('period_first_day') and getvariable('period_last_day')
        and source_kind = 'wifi_sensor'
),

estimated_dwell as (
    select
        service_date,
        source_kind,
        segment,
        ticket_type,
        from_facility_id as facility_id,
        'entry_gap_estimate' as dwell_method,
        visitor_id,
        dwell_estimate_minutes as dwell_minutes
    from intermediate.int_transitions
    where service_date between getvariable('period_first_day') and getvariable('period_last_day')
        and dwell_estimate_minutes is not null
),

dwell as not materialized (
    select
        periods.period_start,
        periods.period_end,
        periods.period_label,
        calendar.day_type,
        d.source_kind,
        d.segment as residence,
        d.ticket_type,
        d.facility_id,
        d.dwell_method,
        d.visitor_id,
        d.dwell_minutes
    from (
        select * from sensor_dwell
        union all
        select * from estimated_dwell
    ) as d
    inner join periods on periods.calendar_date = d.service_date
    inner join calendar on calendar.calendar_date = d.service_date
),

typed as not materialized (
    -- every row counts for all days; in weeks, months and years also for its day type
    select * exclude (day_type), 'all' as day_type from dwell
    union all by name
    select * from dwell
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

grouped_dwell as (
    -- visitors and the mean; quartiles are read off a histogram below, because DuckDB
    -- holding a distinct set and a quantile state per cell runs out of memory on a month
    select
        period_start,
        period_end,
        period_label,
        source_kind,
        day_type,
        segment_kind,
        segment,
        facility_id,
        dwell_method,
        count(distinct visitor_id) as visitors,
        -- averaged as whole milliseconds: an integer sum is exact, so the mean does not
        -- depend on the order parallel threads add the rows in (a double sum does)
        avg(round(dwell_minutes * 60000)::bigint) / 60000 as dwell_minutes_mean
    from segmented
    group by all
),

minute_histogram as (
    -- how many stops lasted each number of minutes, per cell
    select
        period_start,
        source_kind,
        day_type,
        segment_kind,
        segment,
        facility_id,
        dwell_method,
        dwell_minutes as minutes,
        count(*) as stops
    from segmented
    group by all
),

minute_positions as (
    -- each value's first position (0-based) in the cell's sorted stops, and the cell's size
    select
        *,
        sum(stops) over (cell order by minutes) - stops as position,
        sum(stops) over cell as cell_stops
    from minute_histogram
    window cell as (partition by period_start, source_kind, day_type, segment_kind, segment, facility_id, dwell_method)
),

grouped_quartiles as (
    -- quantile_cont: the value at position (n - 1) q, interpolated between its neighbours
    select
        period_start,
        source_kind,
        day_type,
        segment_kind,
        segment,
        facility_id,
        dwell_method,
        list_transform([0.25, 0.5, 0.75], lambda q: (cell_stops - 1) * q) as targets,
        [
            min(minutes) filter (where position + stops > floor((cell_stops - 1) * 0.25)),
            min(minutes) filter (where position + stops > floor((cell_stops - 1) * 0.5)),
            min(minutes) filter (where position + stops > floor((cell_stops - 1) * 0.75))
        ] as below,
        [
            min(minutes) filter (where position + stops > ceil((cell_stops - 1) * 0.25)),
            min(minutes) filter (where position + stops > ceil((cell_stops - 1) * 0.5)),
            min(minutes) filter (where position + stops > ceil((cell_stops - 1) * 0.75))
        ] as above
    from minute_positions
    group by all
),

prep_1 as (
    select
        * exclude (targets, below, above),
        list_transform(range(1, 4), lambda i: below[i] + (targets[i] - floor(targets[i])) * (above[i] - below[i]))
            as dwell_quartiles
    from grouped_quartiles
),

counted as (
    select *
    from grouped_dwell
    inner join prep_1 using (period_start, source_kind, day_type, segment_kind, segment, facility_id, dwell_method)
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
        facility_id,
        dwell_method,
        visitors,
        round(dwell_quartiles[1], 1) as dwell_minutes_p25,
        round(dwell_quartiles[2], 1) as dwell_minutes_median,
        round(dwell_quartiles[3], 1) as dwell_minutes_p75,
        round(dwell_minutes_mean, 1) as dwell_minutes_mean,
        visitors < getvariable('min_cell_count') as is_suppressed,
        case when visitors < getvariable('min_cell_count') then 'primary' end as suppression
    from counted
)

select * from final
