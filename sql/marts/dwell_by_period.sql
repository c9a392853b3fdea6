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
with sensor_dwell as (
    select
        service_date,
        source_kind,
        segment as residence,
        ticket_type,
        facility_id,
        'sensor_stay' as dwell_method,
        visitor_id,
        date_diff('second', arrived_at, last_seen_at) / 60.0 as dwell_minutes
    from intermediate.int_stops
    where source_kind = 'wifi_sensor'
),

estimated_dwell as (
    select
        service_date,
        source_kind,
        segment as residence,
        ticket_type,
        from_facility_id as facility_id,
        'entry_gap_estimate' as dwell_method,
        visitor_id,
        dwell_estimate_minutes as dwell_minutes
    from intermediate.int_transitions
    where dwell_estimate_minutes is not null
),

dwell as not materialized (  -- noqa: ST03
    select * from sensor_dwell
    union all
    select * from estimated_dwell
),

typed as not materialized (  -- noqa: ST03
    select * from period_rows(dwell)
),

segmented as not materialized (
    select * from segment_rows(typed)
),

visitor_stops as (  -- noqa: ST03
    -- each visitor's rows per cell, before the segments multiply them (visitor_cells)
    select
        * exclude (service_date, dwell_minutes),
        count(*) as events
    from typed
    group by all
),

grouped_dwell as (
    -- distinct visitors per cell; the mean and the quartiles are separate aggregations
    select * exclude (events) from visitor_cells(visitor_stops)
),

dwell_means as (
    select
        * exclude (service_date, visitor_id, dwell_minutes),
        -- averaged as whole milliseconds: an integer sum is exact, so the mean does not
        -- depend on the order parallel threads add the rows in (a double sum does)
        avg(round(dwell_minutes * 60000)::bigint) / 60000 as dwell_minutes_mean
    from segmented
    group by all
),

stop_minutes as not materialized (  -- noqa: ST03
    select * rename (dwell_minutes as minutes) from segmented
),

counted as (  -- noqa: ST03
    -- natural joins: the cells' columns are the only ones the three share
    select
        * exclude (visitors, minutes_p25, minutes_median, minutes_p75, dwell_minutes_mean),
        visitors,
        columns('^minutes_(.*)') as 'dwell_minutes_\1',  -- noqa: RF05
        round(dwell_minutes_mean, 1) as dwell_minutes_mean
    from grouped_dwell
    natural join dwell_means
    natural join minute_quartiles(stop_minutes)
),

final as (
    select * from published_cells(counted)
)

-- noqa: disable=AM04
select * from final
