-- materialized: rollup
-- depends_on: int_stops, int_transitions, int_codes
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
with codes as (
    select * from period_codes(intermediate.int_codes)
),

names as (
    select * from period_names(intermediate.int_codes)
),

sensor_dwell as (
    -- the cells' columns as integers (period_codes), decoded once the cells are counted:
    -- grouping on the id strings cost about twice as much
    select
        stops.service_date,
        stops.source_code,
        stops.segment_code as residence,
        codes.ticket_codes[stops.ticket_code] as ticket_type,
        codes.facility_codes[stops.facility_code] as facility_code,
        1 as dwell_method,
        stops.visitor_id,
        date_diff('second', stops.arrived_at, stops.last_seen_at) / 60.0 as dwell_minutes
    from intermediate.int_stops as stops
    inner join codes using (service_date)
    where stops.source_code = 2  -- wifi_sensor, read as a code: the scan skips the card taps' row groups
),

estimated_dwell as (
    select
        moves.service_date,
        moves.source_code,
        moves.segment_code as residence,
        codes.ticket_codes[moves.ticket_code] as ticket_type,
        codes.facility_codes[moves.from_facility_code] as facility_code,
        2 as dwell_method,
        moves.visitor_id,
        moves.dwell_estimate_minutes as dwell_minutes
    from intermediate.int_transitions as moves
    inner join codes using (service_date)
    where moves.dwell_estimate_minutes is not null
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
    select * from grouped_dwell
    natural join dwell_means
    natural join minute_quartiles(stop_minutes)
),

cells as (  -- noqa: ST03
    select
        counted.period_start,
        counted.source_code,
        counted.day_type,
        counted.segment_kind,
        counted.segment,
        names.facility_ids[counted.facility_code] as facility_id,
        ['sensor_stay', 'entry_gap_estimate'][counted.dwell_method] as dwell_method,
        counted.visitors,
        counted.minutes_p25 as dwell_minutes_p25,
        counted.minutes_median as dwell_minutes_median,
        counted.minutes_p75 as dwell_minutes_p75,
        round(counted.dwell_minutes_mean, 1) as dwell_minutes_mean
    from counted
    cross join names
),

named as (  -- noqa: ST03
    select * from named_cells(cells, intermediate.int_codes)
),

final as (
    select * from published_cells(named)
)

-- noqa: disable=AM04
select * from final
