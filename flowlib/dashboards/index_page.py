"""The morning entry point: KPI headline, every daily page, and what last night loaded."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flowlib.assets import OWN_CSS, OWN_JS
from flowlib.dashboards.daily import NavLink, _segment_rows, date_labels, fmt_int
from flowlib.dashboards.data import SegmentShare, SourceLoad
from flowlib.dashboards.publish import render_template

DAILY_PAGE_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})\.html$")
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


def render_index_page(
    days: list[date],
    kpi_date: date | None,
    kpi: list[SegmentShare],
    last_load_at: datetime | None,
    loads: list[SourceLoad],
    k: int,
    has_data_docs: bool,
) -> str:
    nav_links = [NavLink("data-docs/index.html", "データ説明", "Data docs")] if has_data_docs else []
    page = {
        "stylesheets": ["assets/bootstrap/bootstrap.min.css", f"assets/{OWN_CSS}"],
        "scripts": [f"assets/{OWN_JS}"],
        "nav_links": nav_links,
        "kpi": (
            {
                "date": date_labels(kpi_date)[0],
                "rows": _segment_rows([share for share in kpi if share.segment in KPI_SEGMENTS], k),
            }
            if kpi_date
            else None
        ),
        "days": [
            {"href": f"daily/{day.isoformat()}.html", "label_ja": date_labels(day)[0], "label_en": date_labels(day)[1]}
            for day in days
        ],
        "last_load_at": last_load_at.strftime("%Y-%m-%d %H:%M") if last_load_at else None,
        "loads": _load_rows(loads),
    }
    return render_template("index.html", page=page)
