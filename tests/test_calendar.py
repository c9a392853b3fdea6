"""The one reporting calendar: every period type in Python agrees with the SQL calendar the
marts roll up by, and every day lies in exactly one period of each grain."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlib.calendar import GRAINS, MART_GRAINS, Period, load_calendar

days = st.dates(date(2000, 1, 1), date(2100, 12, 31))


@settings(max_examples=300, deadline=None)
@given(day=days, grain=st.sampled_from(GRAINS), start_month=st.integers(1, 12), basis=st.sampled_from(["fiscal", "calendar"]))
def test_every_day_lies_in_one_period_of_each_grain(day, grain, start_month, basis):
    period = Period.containing(grain, day, fiscal_year_start_month=start_month, quarter_basis=basis)
    assert period.start <= day <= period.end
    assert period.next().start == period.end + timedelta(days=1)
    assert period.previous().end == period.start - timedelta(days=1)
    assert period.next().previous() == period
    if grain in ("quarter", "fiscal_year", "month", "calendar_year"):
        assert period.start.day == 1


def test_labels_and_bounds_of_each_grain():
    day = date(2026, 2, 10)
    expected = {
        "day": ("2026-02-10", date(2026, 2, 10), date(2026, 2, 10)),
        "iso_week": ("2026-W07", date(2026, 2, 9), date(2026, 2, 15)),
        "month": ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        "quarter": ("FY2025-Q4", date(2026, 1, 1), date(2026, 3, 31)),
        "fiscal_year": ("FY2025", date(2025, 4, 1), date(2026, 3, 31)),
        "calendar_year": ("2026", date(2026, 1, 1), date(2026, 12, 31)),
    }
    for grain, (label, start, end) in expected.items():
        period = Period.containing(grain, day)
        assert (period.label, period.start, period.end) == (label, start, end), grain
    assert Period.containing("quarter", day, quarter_basis="calendar").label == "2026-Q1"
    # a fiscal year starting in January is the calendar year under another name
    assert Period.containing("fiscal_year", day, fiscal_year_start_month=1).end == date(2026, 12, 31)


def test_a_day_that_starts_no_period_is_refused():
    for grain, day in (("iso_week", date(2026, 11, 3)), ("month", date(2026, 11, 2)), ("fiscal_year", date(2026, 1, 1))):
        with pytest.raises(ValueError, match="does not start"):
            Period(grain, day)


def test_sql_calendar_periods_agree_with_period():
    con = duckdb.connect()
    load_calendar(con, date(2025, 12, 1), date(2027, 1, 31))  # FY2025-FY2026, a week 53 in 2026
    rows = con.execute(
        "select calendar_date, period_grain, period_start, period_end, period_label from ref.calendar_periods"
    ).fetchall()
    assert {grain for _, grain, *_ in rows} == set(MART_GRAINS)
    assert len(rows) == 4 * (date(2027, 3, 31) - date(2025, 4, 1)).days + 4
    for day, grain, start, end, label in rows:
        period = Period.containing(grain, day)
        assert (period.start, period.end, period.label) == (start, end, label), (day, grain)
