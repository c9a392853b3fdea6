"""The morning entry point: KPI, every daily / weekly / monthly page, data quality, open
data, and what last night loaded."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flowlib.assets import OWN_CSS, OWN_JS
from flowlib.calendar import Period
from flowlib.dashboards.daily import NavLink
from flowlib.dashboards.indicator_panel import Indicator
from flowlib.dashboards.last_night import SourceLoad
from flowlib.dashboards.page_data import SegmentShare
from flowlib.dashboards.panels import fmt_int, indicator_view, segment_rows
from flowlib.dashboards.periods import PAGE_GRAINS, date_labels, page_path, page_period
from flowlib.dashboards.publish import render_template

DAILY_PAGE_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})\.html$")
WEEKLY_PAGE_NAME = re.compile(r"^(\d{4})-W(\d{2})\.html$")
MONTHLY_PAGE_NAME = re.compile(r"^(\d{4})-(\d{2})\.html$")
KPI_SEGMENTS = ("domestic", "international")


def daily_pages(daily_dir: Path) -> list[date]:
    """Dates that have a daily page on disk, latest first (older nights stay listed)."""
    found = []
    for path in daily_dir.glob("*.html") if daily_dir.is_dir() else []:
        match = DAILY_PAGE_NAME.match(path.name)
        if match:
            try:
                found.append(date.fromisoformat(match.group(1)))
            except ValueError:
                continue
    return sorted(found, reverse=True)


def period_pages(folder: Path, grain: str) -> list[Period]:
    """Weeks (``2026-W45.html``) or months (``2026-11.html``) with a page on disk, latest first."""
    if grain not in PAGE_GRAINS:
        raise ValueError(f"no pages for grain {grain!r}")
    found = []
    for path in folder.glob("*.html") if folder.is_dir() else []:
        try:
            if grain == "iso_week" and (match := WEEKLY_PAGE_NAME.match(path.name)):
                found.append(page_period(grain, date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)))
            elif grain == "month" and (match := MONTHLY_PAGE_NAME.match(path.name)):
                found.append(page_period(grain, date(int(match.group(1)), int(match.group(2)), 1)))
        except ValueError:
            continue
    return sorted(found, reverse=True)


def _load_rows(loads: list[SourceLoad]) -> list[dict[str, Any]]:
    return [
        {
            "source": load.source,
            "service_dates": ", ".join(d.isoformat() for d in load.service_dates) or "—",
            "files": fmt_int(load.files),
            "rows_read": fmt_int(load.rows_read),
            "rows_loaded": fmt_int(load.rows_loaded),
            "rows_quarantined": fmt_int(load.rows_quarantined),
            "outcomes": ", ".join(f"{outcome} ×{count}" for outcome, count in load.outcomes.items()),
            "missing": load.missing,
            "warning": load.needs_attention,
        }
        for load in loads
    ]


def _period_links(periods: list[Period]) -> list[dict[str, str]]:
    return [{"href": page_path(p), "label": p.label, "title_ja": p.titles()[0], "title_en": p.titles()[1]} for p in periods]


def render_index_page(
    days: list[date],
    kpi_date: date | None,
    kpi: list[SegmentShare],
    last_load_at: datetime | None,
    loads: list[SourceLoad],
    k: int,
    has_data_docs: bool,
    *,
    weeks: list[Period] | None = None,
    months: list[Period] | None = None,
    indicator: Indicator | None = None,
    open_data: list[dict[str, Any]] | None = None,
    freshness: dict[str, Any] | None = None,
    feed_days: dict[str, Any] | None = None,
    lookahead: dict[str, Any] | None = None,
    action_pages: list[dict[str, str]] | None = None,
    resident_devices: dict[str, Any] | None = None,
) -> str:
    """``open_data``: the export catalogue entries (see flowlib.exports.catalogue_entries),
    None when no exports were written; ``weeks``/``months`` latest first; ``freshness`` and
    ``feed_days``: flowlib.dashboards.feeds.freshness_view / recent_view."""
    nav_links = []
    if lookahead:
        nav_links.append(NavLink(lookahead["href"], "混雑予測", "Forecast"))
    if weeks:
        nav_links.append(NavLink("#weekly-pages", "週別", "Weekly"))
    if months:
        nav_links.append(NavLink("#monthly-pages", "月別", "Monthly"))
    if has_data_docs:
        nav_links.append(NavLink("data-docs/index.html", "データ品質", "Data quality"))
    if open_data is not None:
        nav_links.append(NavLink("exports/index.html", "オープンデータ", "Open data"))
    page = {
        "stylesheets": ["assets/bootstrap/bootstrap.min.css", f"assets/{OWN_CSS}"],
        "scripts": [f"assets/{OWN_JS}"],
        "nav_links": nav_links,
        "indicator": indicator_view(indicator),
        "resident_devices": resident_devices,
        "kpi": (
            {
                "date": date_labels(kpi_date)[0],
                "rows": segment_rows([share for share in kpi if share.segment in KPI_SEGMENTS], k),
            }
            if kpi_date
            else None
        ),
        "days": [
            {"href": f"daily/{day.isoformat()}.html", "label_ja": date_labels(day)[0], "label_en": date_labels(day)[1]}
            for day in days
        ],
        "weeks": _period_links(weeks or []),
        "months": _period_links(months or []),
        "has_data_docs": has_data_docs,
        "open_data": open_data,
        "action_pages": action_pages or [],
        "last_load_at": last_load_at.strftime("%Y-%m-%d %H:%M") if last_load_at else None,
        "loads": _load_rows(loads),
        "freshness": freshness,
        "feed_days": feed_days,
        "lookahead": lookahead,
    }
    return render_template("index.html", page=page)
