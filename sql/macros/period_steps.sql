-- Steps the period marts share, as DuckDB macros. flowlib.models runs this file on the build
-- connection before the models (temporary macros: nothing is stored in the warehouse); to
-- paste a period mart into a DuckDB shell, run the files of sql/macros first (the quartiles
-- are in quartiles.sql). A table macro reads the CTE or table named by its argument through
-- query_table() (sqlfluff sees neither: a CTE read only through a macro carries noqa: ST03,
-- a union by name or a macro call of unknown columns noqa: AM04).

-- period_rows(rows): the rows of `rows` (with service_date) on the days being built,
-- getvariable('period_first_day') .. getvariable('period_last_day'), each with the start of
-- its period of getvariable('period_grain') and its day type. Every row counts for all days
-- (day_type 'all') and, in weeks, months and years, also for its own day type. The period's
-- end and label follow its start, so they join the counted cells (period_cells), not the
-- rows: grouping every row on them too cost 0.7 s of a 2 M-tap night's seven period marts
-- (their queries 5.7 -> 5.0 s, medians of 5).
create or replace temp macro period_rows(rows) as table
    with dated as not materialized (
        select
            periods.period_start,
            calendar.day_type,
            r.*
        from query_table(rows) as r
        inner join ref.calendar_periods as periods on periods.calendar_date = r.service_date
        inner join ref.calendar as calendar on calendar.calendar_date = r.service_date
        where periods.period_grain = getvariable('period_grain')
            and r.service_date between getvariable('period_first_day') and getvariable('period_last_day')
    )

    select * exclude (day_type), 'all' as day_type from dated  -- noqa: AM04
    union all by name
    select * from dated
    where getvariable('period_grain') <> 'day';

-- period_names(codes): the facility ids and ticket types of the days being built
-- (getvariable('period_first_day') .. getvariable('period_last_day')) in `codes`
-- (intermediate.int_codes, passed by the mart: a macro is created before the tables it
-- reads), each sorted: a facility's or ticket type's position in its list is its period code.
create or replace temp macro period_names(codes) as table
    with day_codes as (
        select facility_ids, ticket_types
        from query_table(codes)
        where service_date between getvariable('period_first_day') and getvariable('period_last_day')
    ),

    facilities as (
        select list(distinct day_facilities.facility_id order by day_facilities.facility_id) as facility_ids
        from day_codes, unnest(day_codes.facility_ids) as day_facilities (facility_id)
    ),

    tickets as (
        select list(distinct day_tickets.ticket_type order by day_tickets.ticket_type) as ticket_types
        from day_codes, unnest(day_codes.ticket_types) as day_tickets (ticket_type)
    )

    select facilities.facility_ids, tickets.ticket_types
    from facilities
    cross join tickets;

-- period_facilities(codes): each facility of the days being built with its period code
-- (its position in period_names' facility_ids): what a mart joins a facility id to.
create or replace temp macro period_facilities(codes) as table
    select f.facility_id, f.facility_code
    from period_names(codes) as names,  -- noqa: RF03
        unnest(names.facility_ids) with ordinality as f (facility_id, facility_code);

-- period_codes(codes): for each day being built, the period code (period_names) of each of the
-- day's facility codes and ticket codes (int_codes: a day code holds for its day only):
-- facility_codes[day code] and ticket_codes[day code]. A period mart groups a week's or a
-- month's rows on these integers and decodes its cells after (period_names): grouping on
-- the id strings cost about twice as much (transitions_by_period of a 2 M-tap day, 1.2 s
-- against 0.7 s).
create or replace temp macro period_codes(codes) as table
    with names as (
        select * from period_names(codes)
    ),

    facilities as (
        select facility_id, facility_code as period_code from period_facilities(codes)  -- noqa: RF03
    ),

    tickets as (
        select t.ticket_type, t.period_code
        from names, unnest(names.ticket_types) with ordinality as t (ticket_type, period_code)
    ),

    day_facilities as (
        select day_codes.service_date, f.facility_id, f.day_code
        from query_table(codes) as day_codes,  -- noqa: RF03
            unnest(day_codes.facility_ids) with ordinality as f (facility_id, day_code)
        where day_codes.service_date between getvariable('period_first_day') and getvariable('period_last_day')
    ),

    day_tickets as (
        select day_codes.service_date, t.ticket_type, t.day_code
        from query_table(codes) as day_codes,  -- noqa: RF03
            unnest(day_codes.ticket_types) with ordinality as t (ticket_type, day_code)
        where day_codes.service_date between getvariable('period_first_day') and getvariable('period_last_day')
    ),

    facility_codes as (
        select
            day_facilities.service_date,
            list(facilities.period_code::integer order by day_facilities.day_code) as facility_codes
        from day_facilities
        inner join facilities using (facility_id)
        group by day_facilities.service_date
    ),

    ticket_codes as (
        select
            day_tickets.service_date,
            list(tickets.period_code::integer order by day_tickets.day_code) as ticket_codes
        from day_tickets
        inner join tickets using (ticket_type)
        group by day_tickets.service_date
    )

    select facility_codes.service_date, facility_codes.facility_codes, ticket_codes.ticket_codes
    from facility_codes
    inner join ticket_codes using (service_date);

-- segment_rows(rows): each row of `rows` (with source_code, residence, ticket_type, all
-- codes: 1 card taps, 2 sensors; int_stops.segment_code; a period ticket code, period_codes)
-- counts for all visitors (segment_kind 'all', segment 0) and, card taps only (sensors know
-- no segment), for its residence and for its ticket type: segment is then the code
-- (segment_name spells it out).
create or replace temp macro segment_rows(rows) as table
    select
        r.* exclude (residence, ticket_type),  -- noqa: AM04
        kinds.segment_kind,
        case kinds.segment_kind
            when 'residence' then r.residence
            when 'ticket_type' then r.ticket_type
            else 0
        end as segment
    from query_table(rows) as r
    cross join (values ('all'), ('residence'), ('ticket_type')) as kinds (segment_kind)
    where kinds.segment_kind = 'all' or r.source_code = 1;

-- source_name(source_code) and segment_name(segment_kind, segment, ticket_types): what the
-- codes of segment_rows stand for (ticket_types: period_names).
create or replace temp macro source_name(source_code) as
['entry_log', 'wifi_sensor'][source_code];

create or replace temp macro segment_name(kind, segment, ticket_types) as
case kind
    when 'residence' then ['domestic', 'international', 'unknown'][segment]
    when 'ticket_type' then ticket_types[segment]
    else 'all'
end;

-- named_cells(cells, codes): a period mart's cells counted on codes, their source_code and
-- segment spelled out as source_kind and segment (source_name, segment_name; the ticket
-- types of period_names(codes)); period_cells puts both in their places.
create or replace temp macro named_cells(cells, codes) as table
    select
        c.* exclude (source_code, segment),  -- noqa: AM04
        source_name(c.source_code) as source_kind,
        segment_name(c.segment_kind, c.segment, names.ticket_types) as segment
    from query_table(cells) as c
    cross join period_names(codes) as names;

-- The same segments, as codes, from a group by grouping sets ((), (residence),
-- (ticket_type), ...) of rows carrying the codes of segment_rows:
-- segment_kind_of(grouping(residence) = 0, grouping(ticket_type) = 0) and
-- segment_of(the same two, residence, ticket_type), 0 for all visitors (segment_name).
create or replace temp macro segment_kind_of(by_residence, by_ticket_type) as
case when by_residence then 'residence' when by_ticket_type then 'ticket_type' else 'all' end;

create or replace temp macro segment_of(by_residence, by_ticket_type, residence, ticket_type) as
case when by_residence then residence when by_ticket_type then ticket_type else 0 end;

-- visitor_counts(visitor_rows): events and visitors per cell, from rows already aggregated
-- per visitor: `visitor_rows` hold a cell (every column but visitor_id and events), a
-- visitor_id and `events`, the visitor's rows in that cell. Events are summed. On a day a
-- visitor has one residence and one ticket type (int_stop_rows takes both from the
-- visitor's first event of the day), so a cell of a day holds one row per visitor and its
-- rows are its visitors: no distinct count, which hashed every (cell, visitor) pair of the
-- segment rows, three times the moves, after storing them. A week, month or year can see
-- one visitor under two of them, so its rows are first grouped per visitor and cell (a
-- plain aggregation instead of a distinct count: dwell_by_period of the week of one 2 M-tap
-- day 3.5 -> 3.0 s, routes_by_period 3.8 -> 3.1 s, single runs).
create or replace temp macro visitor_counts(visitor_rows) as table
    select
        * exclude (visitor_id, events),  -- noqa: AM04
        sum(events)::bigint as events,
        count(*) as visitors
    from query_table(visitor_rows)
    where getvariable('period_grain') = 'day'
    group by all
    union all by name
    select
        * exclude (visitor_id, events),  -- noqa: AM04
        sum(events)::bigint as events,
        count(*) as visitors
    from (
        select
            * exclude (events),  -- noqa: AM04
            sum(events) as events
        from query_table(visitor_rows)
        where getvariable('period_grain') <> 'day'
        group by all
    )
    group by all;

-- visitor_cells(visitor_rows): visitor_counts of period_rows rows grouped per visitor by
-- their cell before the segments, residence, ticket_type and visitor_id (codes), each
-- counted for all visitors and its segments (segment_rows). A day's cells are first counted
-- with residence and ticket type together (visitor_counts: there a cell's rows are its
-- visitors), and each segment sums them: on a day a visitor has one residence and one ticket
-- type, so those cells hold different visitors, and the segments multiply the counted cells
-- instead of every visitor's row. A week, month or year can see one visitor under two
-- residences or ticket types, so its visitors are counted per segment.
create or replace temp macro visitor_cells(visitor_rows) as table
    with day_cells as not materialized (  -- noqa: ST03
        select * from visitor_counts(visitor_rows)  -- noqa: AM04
        where getvariable('period_grain') = 'day'
    ),

    longer_rows as not materialized (  -- noqa: ST03
        select * from query_table(visitor_rows)  -- noqa: AM04
        where getvariable('period_grain') <> 'day'
    ),

    longer_segments as not materialized (  -- noqa: ST03
        select * from segment_rows(longer_rows)  -- noqa: AM04
    )

    select
        * exclude (events, visitors),  -- noqa: AM04
        sum(events)::bigint as events,
        sum(visitors)::bigint as visitors
    from segment_rows(day_cells)
    group by all
    union all by name
    select * from visitor_counts(longer_segments);  -- noqa: AM04

-- period_route_codes(route_codes, facility_codes): a route of up to five stops
-- (int_trips.short_route_codes: the stops' day codes, 12 bits each, the last stop lowest)
-- in period codes (period_codes' facility_codes of its day), null for none; route_name(route_codes,
-- facility_ids) spells such a route out ("a > b > c"; facility_ids: period_names).
create or replace temp macro period_route_codes(route_codes, facility_codes) as
case when route_codes is not null then
        coalesce(facility_codes[((route_codes >> 48) & 4095)::integer]::bigint << 48, 0)
        | coalesce(facility_codes[((route_codes >> 36) & 4095)::integer]::bigint << 36, 0)
        | coalesce(facility_codes[((route_codes >> 24) & 4095)::integer]::bigint << 24, 0)
        | coalesce(facility_codes[((route_codes >> 12) & 4095)::integer]::bigint << 12, 0)
        | coalesce(facility_codes[(route_codes & 4095)::integer]::bigint, 0)
end;

create or replace temp macro route_name(route_codes, facility_ids) as
concat_ws(
    ' > ',
    facility_ids[((route_codes >> 48) & 4095)::integer],
    facility_ids[((route_codes >> 36) & 4095)::integer],
    facility_ids[((route_codes >> 24) & 4095)::integer],
    facility_ids[((route_codes >> 12) & 4095)::integer],
    facility_ids[(route_codes & 4095)::integer]
);

-- grain_periods(periods): each period of getvariable('period_grain') in `periods`
-- (ref.calendar_periods, passed by the caller: a macro is created before the tables it
-- reads): its start, end and label.
create or replace temp macro grain_periods(periods) as table
    select p.period_start, p.period_end, p.period_label
    from query_table(periods) as p  -- noqa: RF03
    where p.period_grain = getvariable('period_grain') and p.calendar_date = p.period_start;

-- period_cells(cells): the published rows of a period mart: period_grain, then the cell's
-- period (its start from period_rows, its end and label from grain_periods) and segment
-- columns in the order every period mart shares, then the other columns of `cells` in their
-- order (the mart's own keys, its measures, is_suppressed, suppression).
create or replace temp macro period_cells(cells) as table
    select
        getvariable('period_grain') as period_grain,
        c.period_start,
        periods.period_end,
        periods.period_label,
        c.source_kind,
        c.day_type,
        c.segment_kind,
        c.segment,
        c.* exclude (period_start, source_kind, day_type, segment_kind, segment)  -- noqa: AM04
    from query_table(cells) as c
    inner join grain_periods(ref.calendar_periods) as periods on c.period_start = periods.period_start;  -- noqa: RF01

-- published_cells(cells): period_cells, with the primary rule of a mart whose cells count
-- visitors: fewer than k (getvariable('min_cell_count')) visitors hides the cell.
create or replace temp macro published_cells(cells) as table
    select
        *,  -- noqa: AM04
        visitors < getvariable('min_cell_count') as is_suppressed,
        case when visitors < getvariable('min_cell_count') then 'primary' end as suppression
    from period_cells(cells);

-- hidden_with_twin(visitors, twin_hidden) / suppression_with_twin(visitors, twin_hidden): a cell
-- of a mart that counts the same cards as a published twin cell is hidden when it has fewer
-- than k visitors (primary) or when its twin is hidden (secondary): otherwise the two marts
-- together could give back what one of them hides.
create or replace temp macro hidden_with_twin(visitors, twin_hidden) as
visitors < getvariable('min_cell_count') or coalesce(twin_hidden, false);

create or replace temp macro suppression_with_twin(visitors, twin_hidden) as
case
    when visitors < getvariable('min_cell_count') then 'primary'
    when twin_hidden then 'secondary'
end;

-- period_days(mart, first_day, last_day): the day rows, all days (day_type 'all'), of the
-- period mart named `mart` for the service days first_day .. last_day, as service_date
-- and with the day's own day_type (weekday / weekend_holiday, ref.calendar): what a daily
-- mart republishes. The daily mart passes getvariable('first_service_date') and
-- getvariable('last_service_date'), which flowlib.models reads to build it as a range.
create or replace temp macro period_days(mart, first_day, last_day) as table
    select
        m.period_start as service_date,
        m.* exclude (day_type),  -- noqa: AM04
        calendar.day_type
    from query_table(mart) as m
    inner join ref.calendar as calendar on calendar.calendar_date = m.period_start
    where m.period_grain = 'day'
        and m.period_start between first_day and last_day
        and m.day_type = 'all';
