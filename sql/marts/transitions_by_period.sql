-- materialized: rollup
-- depends_on: int_transitions, int_codes
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
with codes as (
    select * from period_codes(intermediate.int_codes)
),

names as (
    select * from period_names(intermediate.int_codes)
),

transitions as not materialized (  -- noqa: ST03
    -- the cells' columns as integers (period_codes), decoded once the cells are counted:
    -- grouping on the id strings cost about twice as much
    select
        moves.service_date,
        moves.source_code,
        moves.segment_code as residence,
        codes.ticket_codes[moves.ticket_code] as ticket_type,
        codes.facility_codes[moves.from_facility_code] as from_facility_code,
        codes.facility_codes[moves.to_facility_code] as to_facility_code,
        moves.visitor_id,
        moves.transfer_minutes
    from intermediate.int_transitions as moves
    inner join codes using (service_date)
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
            partition by period_start, source_code, day_type, segment_kind, segment, from_facility_code
        ) as next_probability
    from counted
),

cells as (  -- noqa: ST03
    select
        with_probability.period_start,
        with_probability.source_code,
        with_probability.day_type,
        with_probability.segment_kind,
        with_probability.segment,
        names.facility_ids[with_probability.from_facility_code] as from_facility_id,
        names.facility_ids[with_probability.to_facility_code] as to_facility_id,
        with_probability.transitions,
        with_probability.visitors,
        with_probability.minutes_p25 as transfer_minutes_p25,
        with_probability.minutes_median as transfer_minutes_median,
        with_probability.minutes_p75 as transfer_minutes_p75,
        round(with_probability.next_probability, 4) as next_probability
    from with_probability
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
