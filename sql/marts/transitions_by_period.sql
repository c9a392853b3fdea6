-- materialized: rollup
-- depends_on: int_transitions
-- Facility-to-facility moves per period (day, ISO week, month, fiscal year), source kind,
-- day type and segment: moves, distinct visitors, quartiles of the arrival-to-arrival
-- minutes and the next-facility probability (moves ÷ all moves leaving the origin in the
-- same cell). The origin-destination matrix of consecutive stops.
-- keys: period_grain, period_start, source_kind, day_type, segment_kind, segment, from_facility_id, to_facility_id
-- counts: visitors
-- suppress: transitions, visitors, transfer_minutes_p25, transfer_minutes_median, transfer_minutes_p75, next_probability
-- margin: residence | vary segment_kind, segment | parts segment_kind = 'residence' | total segment_kind = 'all'
-- margin: ticket_type | vary segment_kind, segment | parts segment_kind = 'ticket_type' | total segment_kind = 'all'
-- margin: day_types | vary day_type | parts day_type <> 'all' | total day_type = 'all'
-- margin: destinations | vary to_facility_id | parts true | total implied
-- additive: transitions, visitors
-- share: next_probability of destinations
with transitions as not materialized (  -- noqa: ST03
    select
        service_date,
        source_kind,
        segment as residence,
        ticket_type,
        from_facility_id,
        to_facility_id,
        visitor_id,
        transfer_minutes
    from intermediate.int_transitions
),

typed as not materialized (  -- noqa: ST03
    select * from period_rows(transitions)
),

segmented as not materialized (
    select * from segment_rows(typed)
),

visitor_moves as (  -- noqa: ST03
    -- each visitor's moves per cell, before the segments multiply the rows (visitor_cells)
    select
        * exclude (service_date, transfer_minutes),
        count(*) as events
    from typed
    group by all
),

grouped_moves as (
    -- moves and distinct visitors per cell; quartiles are a separate aggregation
    select * rename (events as transitions) from visitor_cells(visitor_moves)
),

move_minutes as not materialized (  -- noqa: ST03
    select * rename (transfer_minutes as minutes) from segmented
),

counted as (
    -- a natural join: the cells' columns are the only ones the two share
    select * from grouped_moves
    natural join minute_quartiles(move_minutes)
),

with_probability as (
    select
        *,
        transitions / sum(transitions) over (
            partition by period_start, source_kind, day_type, segment_kind, segment, from_facility_id
        ) as next_probability
    from counted
),

cells as (  -- noqa: ST03
    select
        * exclude (transitions, visitors, minutes_p25, minutes_median, minutes_p75, next_probability),
        transitions,
        visitors,
        columns('^minutes_(.*)') as 'transfer_minutes_\1',  -- noqa: RF05
        round(next_probability, 4) as next_probability
    from with_probability
),

final as (
    select * from published_cells(cells)
)

-- noqa: disable=AM04
select * from final
