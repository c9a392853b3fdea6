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
    period_end, period_label``; grains ``day``, ``iso_week``, ``month``, ``fiscal_year``
    (``sql/reference/calendar_periods.sql``).

Every reporting period in Python is a :class:`Period` (the marts' weeks and months, the
pages', the indicator's quarters and fiscal years), so a period is named and bounded one way.

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

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import duckdb
import holidays
import pandas as pd

from flowlib.queries import query

#: Every reporting period, named as the marts (``period_grain``) and the indicator mart
#: (``period_type``, a published open-data column kept under its name) name it. The marts
#: roll up per ``day``, ``iso_week``, ``month`` and ``fiscal_year``; the indicator reports
#: per ``month``, ``quarter``, ``fiscal_year`` and ``calendar_year``.
GRAINS = ("day", "iso_week", "month", "quarter", "fiscal_year", "calendar_year")
#: The grains of ``ref.calendar_periods`` (what the ``*_by_period`` marts roll up to).
MART_GRAINS = ("day", "iso_week", "month", "fiscal_year")
#: 年度 starts in April; the indicator definition may name another month for its own periods.
FISCAL_YEAR_START_MONTH = 4

_COLUMNS = (
    "calendar_date date, iso_year integer, iso_week integer, iso_day_of_week integer, "
    "is_weekend boolean, is_holiday boolean, holiday_name varchar, day_type varchar, "
    "iso_week_start date, iso_week_end date, iso_week_label varchar, month_start date, "
    "month_end date, month_label varchar, fiscal_year integer, fiscal_year_start date, "
    "fiscal_year_end date, fiscal_year_label varchar"
)


def add_months(first: date, months: int) -> date:
    """The first day of the month ``months`` after the month of ``first``."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def fiscal_year_of(day: date, start_month: int = FISCAL_YEAR_START_MONTH) -> int:
    """The Japanese fiscal year (年度) a date belongs to, named by the year it starts in."""
    return day.year if day.month >= start_month else day.year - 1


def fiscal_year_bounds(fiscal_year: int, start_month: int = FISCAL_YEAR_START_MONTH) -> tuple[date, date]:
    first = date(fiscal_year, start_month, 1)
    return first, add_months(first, 12) - timedelta(days=1)


@dataclass(frozen=True, order=True)
class Period:
    """One reporting period: a day, an ISO week, a month, a quarter, a fiscal or calendar year.

    Named by its grain and first day; ``end`` (inclusive) and ``label`` follow from them.
    Quarters count from the fiscal year's first month (``FY2025-Q1`` = April-June 2025) or,
    with ``quarter_basis="calendar"``, from January (``2025-Q2``).

    >>> Period.containing("fiscal_year", date(2026, 2, 10)).label
    'FY2025'
    >>> Period.containing("quarter", date(2026, 2, 10)).label
    'FY2025-Q4'
    >>> week = Period.containing("iso_week", date(2026, 11, 3))
    >>> (week.label, week.start, week.end)
    ('2026-W45', datetime.date(2026, 11, 2), datetime.date(2026, 11, 8))
    """

    grain: str
    start: date
    fiscal_year_start_month: int = field(default=FISCAL_YEAR_START_MONTH, compare=False, repr=False)
    quarter_basis: Literal["fiscal", "calendar"] = field(default="fiscal", compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.grain not in GRAINS:
            raise ValueError(f"unknown period grain {self.grain!r}; use one of {', '.join(GRAINS)}.")
        if self._bounds(self.start)[0] != self.start:
            raise ValueError(f"{self.start} does not start a {self.grain}.")

    @classmethod
    def containing(
        cls,
        grain: str,
        day: date,
        *,
        fiscal_year_start_month: int = FISCAL_YEAR_START_MONTH,
        quarter_basis: Literal["fiscal", "calendar"] = "fiscal",
    ) -> Period:
        """The period of ``grain`` that holds ``day``."""
        start = period_bounds(grain, day, fiscal_year_start_month=fiscal_year_start_month, quarter_basis=quarter_basis)[0]
        return cls(grain, start, fiscal_year_start_month, quarter_basis)

    def _bounds(self, day: date) -> tuple[date, date]:
        return period_bounds(
            self.grain, day, fiscal_year_start_month=self.fiscal_year_start_month, quarter_basis=self.quarter_basis
        )

    def _shifted(self, day: date) -> Period:
        return Period.containing(
            self.grain, day, fiscal_year_start_month=self.fiscal_year_start_month, quarter_basis=self.quarter_basis
        )

    @property
    def end(self) -> date:
        return self._bounds(self.start)[1]

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        """'2026-11-03', '2026-W45', '2026-11', 'FY2026-Q3' / '2026-Q4', 'FY2026', '2026'."""
        start = self.start
        if self.grain == "day":
            return start.isoformat()
        if self.grain == "iso_week":
            iso_year, week, _ = start.isocalendar()
            return f"{iso_year}-W{week:02d}"
        if self.grain == "month":
            return f"{start:%Y-%m}"
        if self.grain == "calendar_year":
            return f"{start.year}"
        fiscal_year = fiscal_year_of(start, self.fiscal_year_start_month)
        if self.grain == "fiscal_year":
            return f"FY{fiscal_year}"
        if self.quarter_basis == "calendar":
            return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        return f"FY{fiscal_year}-Q{((start.month - self.fiscal_year_start_month) % 12) // 3 + 1}"

    def titles(self) -> tuple[str, str]:
        """'2026-W45（11月2日〜11月8日）' / 'Week 2026-W45 (2 Nov – 8 Nov 2026)'; '2026年11月' / 'November 2026'."""
        if self.grain == "iso_week":
            end = self.end
            return (
                f"{self.label}（{self.start.month}月{self.start.day}日〜{end.month}月{end.day}日）",
                f"Week {self.label} ({self.start.day} {self.start:%b} – {end.day} {end:%b %Y})",
            )
        if self.grain == "month":
            return f"{self.start.year}年{self.start.month}月", self.start.strftime("%B %Y")
        return self.label, self.label

    def previous(self) -> Period:
        return self._shifted(self.start - timedelta(days=1))

    def next(self) -> Period:
        return self._shifted(self.end + timedelta(days=1))

    def year_earlier(self) -> Period | None:
        """The same ISO week number / the same period one year earlier (None: no week 53 then)."""
        if self.grain == "iso_week":
            iso_year, week, _ = self.start.isocalendar()
            try:
                return Period(self.grain, date.fromisocalendar(iso_year - 1, week, 1))
            except ValueError:
                return None
        if self.grain == "day" and (self.start.month, self.start.day) == (2, 29):
            return None
        return self._shifted(self.start.replace(year=self.start.year - 1))


def period_bounds(
    grain: str,
    day: date,
    *,
    fiscal_year_start_month: int = FISCAL_YEAR_START_MONTH,
    quarter_basis: Literal["fiscal", "calendar"] = "fiscal",
) -> tuple[date, date]:
    """First and last day of the period of ``grain`` that contains ``day``."""
    if grain == "day":
        return day, day
    if grain == "iso_week":
        start = day - timedelta(days=day.isoweekday() - 1)
        return start, start + timedelta(days=6)
    if grain == "month":
        start = day.replace(day=1)
        return start, add_months(start, 1) - timedelta(days=1)
    if grain == "quarter":
        first_month = 1 if quarter_basis == "calendar" else fiscal_year_start_month
        start = add_months(day.replace(day=1), -(((day.month - first_month) % 12) % 3))
        return start, add_months(start, 3) - timedelta(days=1)
    if grain == "fiscal_year":
        return fiscal_year_bounds(fiscal_year_of(day, fiscal_year_start_month), fiscal_year_start_month)
    if grain == "calendar_year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
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
    con.execute(query("reference/calendar_periods"))


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
