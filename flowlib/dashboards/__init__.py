"""The morning dashboards: a folium page per service day, per ISO week and per month, and
a bilingual index (the open data is its own step: flowlib.opendata).

Public API: :func:`build_dashboards`. Pages are self-contained on LGWAN (every script and
stylesheet comes from ``dashboards/assets/``), written atomically, and refused if they
would load anything remote or exceed 5 MB.

Layout of ``settings.dashboards_dir``::

    index.html                 KPI, links to every page, data quality, open data, loads
    daily/YYYY-MM-DD.html      one service day
    weekly/YYYY-Www.html       one ISO week (Monday-Sunday), from the *_by_period marts
    monthly/YYYY-MM.html       one calendar month, from the *_by_period marts
    exports/                   open data (flowlib.opendata, a link to the audited version)
    data-docs/                 Great Expectations Data Docs (flowlib.pipeline.build_data_docs)
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from flowlib.assets import install_assets
from flowlib.calendar import Period
from flowlib.config import Settings
from flowlib.dashboards.comparison import day_comparison, period_comparison
from flowlib.dashboards.daily import NavLink, render_map_page
from flowlib.dashboards.feeds import days_checked, freshness_view, load_freshness, load_page_feeds, load_recent, recent_view
from flowlib.dashboards.forecast_page import write_lookahead_pages
from flowlib.dashboards.index_page import daily_pages, period_pages, render_index_page
from flowlib.dashboards.indicator_panel import Indicator, load_indicator
from flowlib.dashboards.last_night import load_last_night
from flowlib.dashboards.loaders import (
    latest_satisfaction,
    load_day,
    load_facilities,
    load_period,
    periods_in_marts,
    service_dates_in_marts,
)
from flowlib.dashboards.page_data import DayData
from flowlib.dashboards.periods import PAGE_GRAINS, PERIOD_FOLDERS, date_labels, page_file, page_path
from flowlib.dashboards.publish import MAX_PAGE_BYTES, PageTooLargeError, RemoteAssetError, find_remote_assets, write_page
from flowlib.dashboards.quality import load_resident_shares, resident_share_view

log = logging.getLogger(__name__)

__all__ = [
    "MAX_PAGE_BYTES",
    "PageTooLargeError",
    "RemoteAssetError",
    "build_dashboards",
    "find_remote_assets",
]

PERIOD_NAMES = {"iso_week": ("週", "Week"), "month": ("月", "Month")}


def _plan(settings: Settings) -> tuple[int | None, int | None, int, tuple[str, str]]:
    """Baseline year, target year (None when the definition declares no plan), minimum
    answers and (Japanese, English) name of the indicator, from FLOW_INDICATOR_FILE."""
    from flowlib.indicator import load_definition

    definition = load_definition(settings.indicator_file)
    if not definition.has_plan:
        return None, None, definition.min_respondents, definition.labels
    return definition.baseline_year, definition.target_year, definition.min_respondents, definition.labels


def open_data_entries(folder: Path) -> list[dict] | None:
    """The files listed in the open data's ``catalogue.json`` (None before the first
    publication). Read here, not imported from the open-data code: pages only read."""
    path = folder / "catalogue.json"
    if not path.is_file():
        return None
    try:
        return list(json.loads(path.read_text(encoding="utf-8")).get("files", []))
    except (OSError, ValueError) as exc:
        log.warning("%s unreadable (%s)", path, exc)
        return None


def _nav_links(day: date, known_days: list[date]) -> list[NavLink]:
    earlier = [d for d in known_days if d < day]
    later = [d for d in known_days if d > day]
    links = [NavLink("../index.html", "一覧", "All days")]
    if earlier:
        links.append(NavLink(f"{max(earlier).isoformat()}.html", "← 前日", "← Previous"))
    if later:
        links.append(NavLink(f"{min(later).isoformat()}.html", "翌日 →", "Next →"))
    return links


def _period_nav(period: Period, known: set[Period]) -> list[NavLink]:
    same = sorted(p for p in known if p.grain == period.grain)
    earlier = [p for p in same if p < period]
    later = [p for p in same if p > period]
    links = [NavLink("../index.html", "一覧", "All pages")]
    # named, not "previous week": the nearest page may be further away when weeks are missing
    if earlier:
        links.append(NavLink(page_file(earlier[-1]), f"← {earlier[-1].label}", f"← {earlier[-1].label}"))
    if later:
        links.append(NavLink(page_file(later[0]), f"{later[0].label} →", f"{later[0].label} →"))
    return links


def _period_link(period: Period, prefix: str = "../") -> NavLink:
    ja, en = PERIOD_NAMES[period.grain]
    title_ja, title_en = period.titles()
    return NavLink(f"{prefix}{page_path(period)}", f"{ja}: {title_ja}", f"{en}: {title_en}")


def _add_context(con: duckdb.DuckDBPyConnection, data: DayData, first: date, last: date) -> None:
    """What every map page shows beside its figures: the deliveries behind them and the
    facilities to promote (from the latest fitted week up to the page's last day)."""
    from flowlib.opportunities import promotions  # scipy and statsmodels: imported only to build pages

    data.feeds = load_page_feeds(con, first, last, data.facilities)
    data.promote = promotions(con, last)


def _write_map(path: Path, page: str, started: float) -> None:
    written = write_page(path, page)
    log.info("wrote %s (%d bytes, %.2f s)", written, written.stat().st_size, time.perf_counter() - started)


def _with_previous_page(selected: list, on_disk: list, available: list) -> list:
    """Also redraw the page just before the first selected one, so its "next" link appears."""
    if not selected:
        return selected
    before = [item for item in on_disk if item < min(selected) and item in set(available)]
    return sorted(set(selected) | ({max(before)} if before else set()))


def build_dashboards(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    service_dates: list[date] | None = None,
) -> Path:
    """Write the daily, weekly and monthly pages, then the index (which lists the open data
    that the publish_open_data step wrote; this step writes pages only).

    ``service_dates`` None means every date and period found in the marts; otherwise the
    days given, the weeks and months containing them, any week or month of the marts that
    has no page yet, and the page just before each (whose "next" link is new). Returns the
    index path.
    """
    out_dir = settings.dashboards_dir
    daily_dir = out_dir / "daily"
    install_assets(out_dir / "assets")
    facilities = load_facilities(con)
    baseline_year, target_year, min_respondents, labels = _plan(settings)
    start_hour = settings.service_day_start.hour
    k = settings.min_cell_count

    # a day the runs checked gets a page even when nothing of it loaded: the page says why
    all_dates = sorted(set(service_dates_in_marts(con)) | set(days_checked(con)))
    on_disk_days = daily_pages(daily_dir)
    if service_dates is None:
        dates = sorted(set(all_dates))
    else:
        dates = _with_previous_page(sorted(set(service_dates)), on_disk_days, all_dates)
    known_days = sorted(set(on_disk_days) | set(dates))

    periods: list[Period] = []
    known_periods: set[Period] = set()
    for grain in PAGE_GRAINS:
        available = periods_in_marts(con, grain)
        on_disk = period_pages(out_dir / PERIOD_FOLDERS[grain], grain)
        if service_dates is None:
            chosen = available
        else:
            touched = [p for p in available if any(p.start <= d <= p.end for d in dates) or p not in set(on_disk)]
            chosen = _with_previous_page(touched, on_disk, available)
        periods.extend(chosen)
        known_periods |= set(on_disk) | set(chosen)

    def indicator(as_of: date) -> Indicator | None:
        return load_indicator(con, as_of, baseline_year, target_year, min_respondents, labels)

    drawing = {"k": k, "geo_dir": settings.geo_dir, "assets_url": "../assets"}
    for service_date in dates:
        started = time.perf_counter()
        day = load_day(con, service_date, facilities, start_hour)
        earlier = service_date - timedelta(days=7)
        day.comparisons = [day_comparison(con, day, f"{earlier.isoformat()}.html" if earlier in known_days else None)]
        day.indicator = indicator(service_date)
        _add_context(con, day, service_date, service_date)
        related = [_period_link(p) for grain in PAGE_GRAINS if (p := Period.containing(grain, service_date)) in known_periods]
        page = render_map_page(day, nav_links=_nav_links(service_date, known_days), related_links=related, **drawing)
        _write_map(daily_dir / f"{service_date.isoformat()}.html", page, started)

    for period in periods:
        started = time.perf_counter()
        data = load_period(con, period, facilities, start_hour)
        year_earlier = period.year_earlier()
        data.comparisons = [
            period_comparison(
                con,
                data,
                "previous_period",
                period.previous(),
                page_file(period.previous()) if period.previous() in known_periods else None,
            ),
            period_comparison(
                con, data, "year_earlier", year_earlier, page_file(year_earlier) if year_earlier in known_periods else None
            ),
        ]
        data.indicator = indicator(period.end)
        _add_context(con, data, period.start, period.end)
        related = [
            _period_link(p)
            for p in sorted(known_periods)
            if p.grain != period.grain and p.start <= period.end and period.start <= p.end
        ]
        related += [
            NavLink(f"../daily/{day.isoformat()}.html", *date_labels(day))
            for day in known_days
            if period.start <= day <= period.end
        ]
        page = render_map_page(data, nav_links=_period_nav(period, known_periods), related_links=related, **drawing)
        _write_map(out_dir / page_path(period), page, started)

    lookahead = write_lookahead_pages(con, out_dir, labels, (baseline_year, target_year))
    from flowlib.dashboards.action_pages import build_action_pages

    action_links = build_action_pages(con, settings)
    kpi_date, kpi = latest_satisfaction(con)
    last_load_at, loads = load_last_night(con)
    index_html = render_index_page(
        days=daily_pages(daily_dir),
        kpi_date=kpi_date,
        kpi=kpi,
        last_load_at=last_load_at,
        loads=loads,
        k=k,
        has_data_docs=(out_dir / "data-docs" / "index.html").is_file(),
        weeks=period_pages(out_dir / "weekly", "iso_week"),
        months=period_pages(out_dir / "monthly", "month"),
        indicator=load_indicator(con, None, baseline_year, target_year, min_respondents, labels),
        resident_devices=resident_share_view(load_resident_shares(con, settings), settings),
        open_data=open_data_entries(out_dir / "exports"),
        freshness=freshness_view(load_freshness(con)),
        feed_days=recent_view(load_recent(con)),
        lookahead=lookahead,
        action_pages=action_links,
    )
    return write_page(out_dir / "index.html", index_html)
