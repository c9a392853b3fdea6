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
with periods as (
    select * from ref.calendar_periods
    where period_grain = getvariable('period_grain')
),

calendar as (
    select calendar_date, day_type from ref.calendar
),

transitions as not materialized (
    select
        periods.period_start,
        periods.period_end,
        periods.period_label,
        calendar.day_type,
        t.source_kind,
        t.segment as residence,
        t.ticket_type,
        t.from_facility_id,
        t.to_facility_id,
        t.visitor_id,
        t.transfer_minutes
    from intermediate.int_transitions as t
    inner join periods on periods.calendar_date = t.service_date
    inner join calendar on calendar.calendar_date = t.service_date
    where t.service_date between getvariable('period_first_day') and getvariable('period_last_day')
),

typed as not materialized (
    -- every row counts for all days; in weeks, months and years also for its day type
    select * exclude (day_type), 'all' as day_type from transitions
    union all by name
    select * from transitions
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

grouped_moves as (
    -- moves and distinct visitors; quartiles are a separate aggregation because DuckDB
    -- holding both a distinct set and a quantile state per group runs out of memory on a
    -- month of moves
    select
        period_start,
        period_end,
        period_label,
        source_kind,
        day_type,
        segment_kind,
        segment,
        from_facility_id,
        to_facility_id,
        count(*) as transitions,
        count(distinct visitor_id) as visitors
    from segmented
    group by all
),

minute_histogram as (
    -- how many moves took each number of minutes, per cell: quartiles are read off these
    -- counts, so no aggregate has to hold every value of a month in memory
    select
        period_start,
        source_kind,
        day_type,
        segment_kind,
        segment,
        from_facility_id,
        to_facility_id,
        transfer_minutes as minutes,
        count(*) as moves
    from segmented
    group by all
),

minute_positions as (
    -- each value's first position (0-based) in the cell's sorted moves, and the cell's size
    select
        *,
        sum(moves) over (cell order by minutes) - moves as position,
        sum(moves) over cell as cell_moves
    from minute_histogram
    window cell as (partition by period_start, source_kind, day_type, segment_kind, segment, from_facility_id, to_facility_id)
),

grouped_minutes as (
    -- quantile_cont: the value at position (n - 1) q, interpolated between its neighbours
    select
        period_start,
        source_kind,
        day_type,
        segment_kind,
        segment,
        from_facility_id,
        to_facility_id,
        list_transform([0.25, 0.5, 0.75], lambda q: (cell_moves - 1) * q) as targets,
        [
            min(minutes) filter (where position + moves > floor((cell_moves - 1) * 0.25)),
            min(minutes) filter (where position + moves > floor((cell_moves - 1) * 0.5)),
            min(minutes) filter (where position + moves > floor((cell_moves - 1) * 0.75))
        ] as below,
        [
            min(minutes) filter (where position + moves > ceil((cell_moves - 1) * 0.25)),
            min(minutes) filter (where position + moves > ceil((cell_moves - 1) * 0.5)),
            min(minutes) filter (where position + moves > ceil((cell_moves - 1) * 0.75))
        ] as above
    from minute_positions
    group by all
),

prep_1 as (
    select
        * exclude (targets, below, above),
        list_transform(range(1, 4), lambda i: below[i] + (targets[i] - floor(targets[i])) * (above[i] - below[i]))
            as transfer_quartiles
    from grouped_minutes
),

counted as (
    select *
    from grouped_moves
    inner join prep_1
        using (period_start, source_kind, day_type, segment_kind, segment, from_facility_id, to_facility_id)
),

with_probability as (
    select
        *,
        transitions / sum(transitions) over (
            partition by period_start, source_kind, day_type, segment_kind, segment, from_facility_id
        ) as next_probability
    from counted
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
        from_facility_id,
        to_facility_id,
        transitions,
        visitors,
        round(transfer_quartiles[1], 1) as transfer_minutes_p25,
        round(transfer_quartiles[2], 1) as transfer_minutes_median,
        round(transfer_quartiles[3], 1) as transfer_minutes_p75,
        round(next_probability, 4) as next_probability,
        visitors < getvariable('min_cell_count') as is_suppressed,
        case when visitors < getvariable('min_cell_count') then 'primary' end as suppression
    from with_probability
)

select * from final
