"""Which weeks and months get a page, and where each page lives.

A period page shows one :class:`flowlib.calendar.Period` of grain ``iso_week`` or
``month`` from the ``*_by_period`` marts; it is written to ``weekly/2026-W45.html`` or
``monthly/2026-11.html`` (which periods have data: :func:`flowlib.dashboards.loaders.periods_in_marts`).
"""

from __future__ import annotations

from datetime import date

from flowlib.calendar import Period

#: Period pages: one per ISO week and per calendar month that has data.
PAGE_GRAINS = ("iso_week", "month")
PERIOD_FOLDERS = {"iso_week": "weekly", "month": "monthly"}
WEEKDAYS_JA = "月火水木金土日"


def date_labels(day: date) -> tuple[str, str]:
    """'2025-11-24（月）' and 'Mon 24 Nov 2025'."""
    return f"{day.isoformat()}（{WEEKDAYS_JA[day.weekday()]}）", day.strftime("%a %d %b %Y")


def page_period(grain: str, start: date) -> Period:
    """The period a page shows; ValueError for a grain without pages or a day that starts none."""
    if grain not in PAGE_GRAINS:
        raise ValueError(f"no page for period grain {grain!r}; use one of {PAGE_GRAINS}.")
    return Period(grain, start)


def page_file(period: Period) -> str:
    """'2026-W45.html' or '2026-11.html' (relative to the period's folder)."""
    return f"{period.label}.html"


def page_path(period: Period) -> str:
    """'weekly/2026-W45.html' or 'monthly/2026-11.html' (relative to the dashboards folder)."""
    return f"{PERIOD_FOLDERS[period.grain]}/{page_file(period)}"
