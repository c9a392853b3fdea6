-- ref.calendar_periods: one row per (date, period grain) over ref.calendar, so a mart rolls a
-- day up to its ISO week, calendar month and fiscal year with one join
-- (flowlib.calendar writes ref.calendar and then runs this file).
create or replace view ref.calendar_periods as
select
    calendar_date,
    'day' as period_grain,
    calendar_date as period_start,
    calendar_date as period_end,
    strftime(calendar_date, '%Y-%m-%d') as period_label
from ref.calendar
union all
select
    calendar_date,
    'iso_week' as period_grain,
    iso_week_start as period_start,
    iso_week_end as period_end,
    iso_week_label as period_label
from ref.calendar
union all
select
    calendar_date,
    'month' as period_grain,
    month_start as period_start,
    month_end as period_end,
    month_label as period_label
from ref.calendar
union all
select
    calendar_date,
    'fiscal_year' as period_grain,
    fiscal_year_start as period_start,
    fiscal_year_end as period_end,
    fiscal_year_label as period_label
from ref.calendar
