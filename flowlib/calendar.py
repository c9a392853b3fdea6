"""The reporting calendar: Japanese public holidays, ISO weeks and the April-March fiscal year.

Marts are published per service day and rolled up per ISO week, calendar month and
Japanese fiscal year (年度: 1 April to 31 March, named by the year it starts in, so
FY2026 = April 2026 to March 2027). Each day is a ``weekday`` or a ``weekend_holiday``
(Saturday, Sunday or a public holiday under the 国民の祝日に関する法律, substitute and
citizens' holidays included, from the ``holidays`` package). Year-end closures
(29 Dec - 3 Jan) are not public holidays and stay weekdays unless they fall on one.

Two relations are written to schema ``ref``:

``ref.calendar``
    one row per date: ``calendar_date, iso_year, iso_week, iso_day_of_week, is_weekend,
    is_holiday, holiday_name, day_type, iso_week_start, iso_week_end, iso_week_label,
    month_start, month_end, month_label, fiscal_year, fiscal_year_start, fiscal_year_end,
    fiscal_year_label``.
``ref.calendar_periods``
    a view with one row per (date, period grain): ``calendar_date, period_grain, period_start,
    period_end, period_label``; grains ``day``, ``iso_week``, ``month``, ``fiscal_year``.

Example
-------
>>> import duckdb
>>> from datetime import date
>>> con = duckdb.connect()
>>> load_calendar(con, date(2026, 11, 3), date(2026, 11, 3))  # whole FY2026
365
>>> con.execute("select day_type, holiday_name from ref.calendar "
...             "where calendar_date = date '2026-11-03'").fetchone()
('weekend_holiday', 'Culture Day')
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import holidays
import pandas as pd

GRAINS = ("day", "iso_week", "month", "fiscal_year")

_COLUMNS = (
    "calendar_date date, iso_year integer, iso_week integer, iso_day_of_week integer, "
    "is_weekend boolean, is_holiday boolean, holiday_name varchar, day_type varchar, "
    "iso_week_start date, iso_week_end date, iso_week_label varchar, month_start date, "
    "month_end date, month_label varchar, fiscal_year integer, fiscal_year_start date, "
    "fiscal_year_end date, fiscal_year_label varchar"
)

_PERIODS_VIEW = """
create or replace view ref.calendar_periods as
select calendar_date, 'day' as period_grain, calendar_date as period_start,
       calendar_date as period_end, strftime(calendar_date, '%Y-%m-%d') as period_label
from ref.calendar
union all
select calendar_date, 'iso_week', iso_week_start, iso_week_end, iso_week_label from ref.calendar
union all
select calendar_date, 'month', month_start, month_end, month_label from ref.calendar
union all
select calendar_date, 'fiscal_year', fiscal_year_start, fiscal_year_end, fiscal_year_label from ref.calendar
"""


def fiscal_year_of(day: date) -> int:
    """The Japanese fiscal year (年度) a date belongs to: April-March, named by its start year."""
    return day.year if day.month >= 4 else day.year - 1


def fiscal_year_bounds(fiscal_year: int) -> tuple[date, date]:
    return date(fiscal_year, 4, 1), date(fiscal_year + 1, 3, 31)


def period_bounds(grain: str, day: date) -> tuple[date, date]:
    """First and last day of the period of ``grain`` that contains ``day``."""
    if grain == "day":
        return day, day
    if grain == "iso_week":
        start = day - timedelta(days=day.isoweekday() - 1)
        return start, start + timedelta(days=6)
    if grain == "month":
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return start, following - timedelta(days=1)
    if grain == "fiscal_year":
        return fiscal_year_bounds(fiscal_year_of(day))
    raise ValueError(f"unknown period grain {grain!r}; use one of {', '.join(GRAINS)}.")


def calendar_frame(first: date, last: date) -> pd.DataFrame:
    """One row per date from ``first`` to ``last`` inclusive (see the module docstring)."""
    if last < first:
        raise ValueError(f"last date {last} is before the first {first}.")
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    public = holidays.country_holidays("JP", years=range(first.year, last.year + 1), language="en_US")
    rows = []
    for day in days:
        iso_year, iso_week, iso_day = day.isocalendar()
        name = public.get(day)
        weekend = iso_day >= 6
        week_start, week_end = period_bounds("iso_week", day)
        month_start, month_end = period_bounds("month", day)
        fiscal_year = fiscal_year_of(day)
        fy_start, fy_end = fiscal_year_bounds(fiscal_year)
        rows.append(
            (
                day,
                iso_year,
                iso_week,
                iso_day,
                weekend,
                name is not None,
                name,
                "weekend_holiday" if weekend or name is not None else "weekday",
                week_start,
                week_end,
                f"{iso_year}-W{iso_week:02d}",
                month_start,
                month_end,
                f"{day.year}-{day.month:02d}",
                fiscal_year,
                fy_start,
                fy_end,
                f"FY{fiscal_year}",
            )
        )
    names = [part.split()[0] for part in _COLUMNS.split(", ")]
    return pd.DataFrame(rows, columns=names)


def _whole_fiscal_years(first: date, last: date) -> tuple[date, date]:
    return fiscal_year_bounds(fiscal_year_of(first))[0], fiscal_year_bounds(fiscal_year_of(last))[1]


def _write(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, replace: bool) -> None:
    con.register("incoming_calendar", frame)
    try:
        if replace:
            con.execute(f"create or replace table ref.calendar ({_COLUMNS})")
        else:
            con.execute(f"create table if not exists ref.calendar ({_COLUMNS})")
        con.execute(
            "insert into ref.calendar select f.* from incoming_calendar as f "
            "anti join ref.calendar as c on c.calendar_date = f.calendar_date"
        )
    finally:
        con.unregister("incoming_calendar")
    con.execute(_PERIODS_VIEW)


def load_calendar(con: duckdb.DuckDBPyConnection, first: date, last: date) -> int:
    """Replace ``ref.calendar`` (and its view ``ref.calendar_periods``); returns the row count.

    The table covers the whole fiscal years containing ``first`` and ``last``, so every
    period a mart can roll up is complete. Opens no transaction of its own: call it inside
    the caller's (as ``flowlib.reference.load_reference`` does for the other ref tables) or
    on its own (each statement then commits by itself).
    """
    start, end = _whole_fiscal_years(first, last)
    con.execute("create schema if not exists ref")
    _write(con, calendar_frame(start, end), replace=True)
    return int(con.execute("select count(*) from ref.calendar").fetchone()[0])


def ensure_calendar(con: duckdb.DuckDBPyConnection, first: date, last: date) -> None:
    """Add the whole fiscal years around ``first``..``last`` to ``ref.calendar`` if missing.

    The model runner calls this before building days, so a warehouse whose reference load
    predates a new fiscal year still gets its calendar; existing rows are kept.
    """
    start, end = _whole_fiscal_years(first, last)
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'ref' and table_name = 'calendar'"
    ).fetchone()[0]
    if exists:
        covered = con.execute("select count(*) from ref.calendar where calendar_date between ? and ?", [start, end]).fetchone()[0]
        if covered == (end - start).days + 1:
            return
    con.execute("create schema if not exists ref")
    _write(con, calendar_frame(start, end), replace=False)
