-- The quartiles of a period mart's measured minutes, as a DuckDB macro (see period_steps.sql
-- for how the macros are loaded). A file of its own: sqlfluff skips files over 20,000 bytes.

-- sorted_quantile(sorted_values, q): the value at position (n - 1) q of a sorted list,
-- interpolated between its neighbours as lo + (hi - lo) * d (minute_quartiles).
create or replace temp macro sorted_quantile(sorted_values, q) as
sorted_values[floor((len(sorted_values) - 1) * q)::bigint + 1]
+ ((len(sorted_values) - 1) * q - floor((len(sorted_values) - 1) * q))
* (
    sorted_values[ceil((len(sorted_values) - 1) * q)::bigint + 1]
    - sorted_values[floor((len(sorted_values) - 1) * q)::bigint + 1]
);

-- minute_quartiles(value_rows): the quartiles (0.25, 0.5, 0.75 as in quantile_cont: the
-- value at position (n - 1) q, interpolated) of the column minutes in each cell of
-- `value_rows`, as published (to a tenth of a minute): minutes_p25, minutes_median,
-- minutes_p75. A cell is the values of all the other columns except service_date and
-- visitor_id (the rows of period_rows / segment_rows with the
-- measured column renamed minutes); a mart publishes the three under its own name with
-- columns('^minutes_(.*)') as '<what>_minutes_\1'.
-- Two ways to the same numbers, chosen by the runner (getvariable('quartiles_in_memory'),
-- flowlib.models): a night's day cells sort each cell's values in a list, held in memory,
-- which is fast and bounded by FLOW_QUARTILE_MEMORY_STOPS; weeks, months, years and large
-- days read them off a histogram (how many values each number of minutes has), which spills:
-- DuckDB's quantile state, like the list, holds every value, and next to a distinct count it
-- exhausted 3 GB on a month of moves (36 M rows). Both interpolate as lo + (hi - lo) * d;
-- quantile_cont computes lo * (1 - d) + hi * d, which can differ in the last bit and so in
-- a rounded decimal, so it is not used.
create or replace temp macro minute_quartiles(value_rows) as table
    with day_values as (
        select
            * exclude (minutes, service_date, visitor_id),  -- noqa: AM04
            list_sort(list(minutes)) as sorted_minutes
        from query_table(value_rows)
        where getvariable('quartiles_in_memory')
        group by all
    ),

    day_quartiles as (
        -- three calls of a scalar macro rather than a lambda over [0.25, 0.5, 0.75]: the
        -- same arithmetic, without building a list per cell (routes_by_period's 442k day
        -- cells of a 2 M-tap night: 0.26 s)
        select
            * exclude (sorted_minutes),
            [
                sorted_quantile(sorted_minutes, 0.25),
                sorted_quantile(sorted_minutes, 0.5),
                sorted_quantile(sorted_minutes, 0.75)
            ] as quartiles
        from day_values
    ),

    histogram as (
        select
            struct_pack(*columns(* exclude (minutes, service_date, visitor_id))) as cell,
            minutes,
            count(*) as n
        from query_table(value_rows)
        where not coalesce(getvariable('quartiles_in_memory'), false)
        group by all
    ),

    positions as (
    -- each value's first position (0-based) in the cell's sorted values, and the cell's size
        select
            *,
            sum(n) over (partition by cell order by minutes) - n as position,
            sum(n) over (partition by cell) as cell_n
        from histogram
    ),

    neighbours as (
    -- quantile_cont: the value at position (n - 1) q, interpolated between its neighbours
        select
            cell,
            list_transform([0.25, 0.5, 0.75], lambda q: (cell_n - 1) * q) as targets,
            [
                min(minutes) filter (where position + n > floor((cell_n - 1) * 0.25)),
                min(minutes) filter (where position + n > floor((cell_n - 1) * 0.5)),
                min(minutes) filter (where position + n > floor((cell_n - 1) * 0.75))
            ] as below,
            [
                min(minutes) filter (where position + n > ceil((cell_n - 1) * 0.25)),
                min(minutes) filter (where position + n > ceil((cell_n - 1) * 0.5)),
                min(minutes) filter (where position + n > ceil((cell_n - 1) * 0.75))
            ] as above
        from positions
        group by all
    ),

    cell_quartiles as (
        select * from day_quartiles  -- noqa: AM04
        union all by name
        select
            unnest(cell),
            list_transform(range(1, 4), lambda i: below[i] + (targets[i] - floor(targets[i])) * (above[i] - below[i]))
                as quartiles
        from neighbours
    )

    select
        * exclude (quartiles),  -- noqa: AM04
        round(quartiles[1], 1) as minutes_p25,
        round(quartiles[2], 1) as minutes_median,
        round(quartiles[3], 1) as minutes_p75
    from cell_quartiles;
