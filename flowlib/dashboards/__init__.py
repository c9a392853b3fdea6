"""The morning dashboards: one folium page per service day plus a bilingual index.

Public API: :func:`build_dashboards`. Pages are self-contained on LGWAN (every script and
stylesheet comes from ``dashboards/assets/``), written atomically, and refused if they
would load anything remote or exceed 5 MB.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path

import duckdb

from flowlib.assets import install_assets
from flowlib.config import Settings
from flowlib.dashboards.daily import NavLink, render_daily_page
from flowlib.dashboards.data import latest_satisfaction, load_day, load_facilities, load_last_night, service_dates_in_marts
from flowlib.dashboards.index_page import daily_pages, render_index_page
from flowlib.dashboards.publish import MAX_PAGE_BYTES, PageTooLargeError, RemoteAssetError, find_remote_assets, write_page

log = logging.getLogger(__name__)

__all__ = [
    "MAX_PAGE_BYTES",
    "PageTooLargeError",
    "RemoteAssetError",
    "build_dashboards",
    "find_remote_assets",
]


def _nav_links(day: date, known_days: list[date]) -> list[NavLink]:
    earlier = [d for d in known_days if d < day]
    later = [d for d in known_days if d > day]
    links = [NavLink("../index.html", "一覧", "All days")]
    if earlier:
        links.append(NavLink(f"{max(earlier).isoformat()}.html", "← 前日", "← Previous"))
    if later:
        links.append(NavLink(f"{min(later).isoformat()}.html", "翌日 →", "Next →"))
    return links


def build_dashboards(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    service_dates: list[date] | None = None,
) -> Path:
    """Write dashboards/daily/YYYY-MM-DD.html for each service date, then dashboards/index.html.

    ``service_dates`` None means every date found in the marts. Returns the index path.
    """
    out_dir = settings.dashboards_dir
    daily_dir = out_dir / "daily"
    install_assets(out_dir / "assets")
    facilities = load_facilities(con)
    dates = sorted(set(service_dates if service_dates is not None else service_dates_in_marts(con)))
    known_days = sorted(set(daily_pages(daily_dir)) | set(dates))
    start_hour = settings.service_day_start.hour

    for service_date in dates:
        started = time.perf_counter()
        day = load_day(con, service_date, facilities, start_hour)
        page = render_daily_page(
            day,
            k=settings.min_cell_count,
            geo_dir=settings.geo_dir,
            nav_links=_nav_links(service_date, known_days),
            assets_url="../assets",
        )
        path = write_page(daily_dir / f"{service_date.isoformat()}.html", page)
        log.info("wrote %s (%d bytes, %.2f s)", path, path.stat().st_size, time.perf_counter() - started)

    kpi_date, kpi = latest_satisfaction(con)
    last_load_at, loads = load_last_night(con)
    index_html = render_index_page(
        days=daily_pages(daily_dir),
        kpi_date=kpi_date,
        kpi=kpi,
        last_load_at=last_load_at,
        loads=loads,
        k=settings.min_cell_count,
        has_data_docs=(out_dir / "data-docs" / "index.html").is_file(),
    )
    return write_page(out_dir / "index.html", index_html)
