-- Steps the page queries (sql/pages/) share, as DuckDB macros. flowlib.dashboards.page_sql
-- runs this file on a page connection before its first query (temporary macros: a reader
-- stores nothing); to paste a page query into a DuckDB shell, run this file first.

-- period_cut(mart, grain, first_day): the rows of the period mart named `mart` for the period
-- of `grain` that starts on `first_day`, all day types together (day_type 'all'): a page
-- shows a period whole, never split by weekday and weekend.
create or replace temp macro period_cut(mart, grain, first_day) as table
    select * from query_table(mart)  -- noqa: AM04
    where period_grain = grain
        and period_start = first_day
        and day_type = 'all';
