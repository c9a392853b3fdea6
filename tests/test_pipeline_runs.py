"""build_marts builds runs of consecutive days as ranges (one pass, each period once)."""

from __future__ import annotations

from datetime import date

from flowlib.pipeline import consecutive_runs


def test_days_group_into_runs_of_consecutive_days():
    days = [date(2026, 11, d) for d in (1, 2, 3, 5, 7, 8)] + [date(2026, 12, 1)]
    assert consecutive_runs(days) == [
        (date(2026, 11, 1), date(2026, 11, 3)),
        (date(2026, 11, 5), date(2026, 11, 5)),
        (date(2026, 11, 7), date(2026, 11, 8)),
        (date(2026, 12, 1), date(2026, 12, 1)),
    ]
    assert consecutive_runs([date(2026, 10, 31), date(2026, 11, 1)]) == [(date(2026, 10, 31), date(2026, 11, 1))]
    assert consecutive_runs([]) == []
