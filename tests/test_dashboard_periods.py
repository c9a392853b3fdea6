"""Weekly and monthly pages, the satisfaction indicator panel, comparisons and the index links.

The hand-made warehouse of tests/test_dashboards.py gets roll-up rows shaped like the
``*_by_period`` marts (sql/marts/*_by_period.sql). What is planted, and what the pages must
make of it:

- ISO weeks 2025-W44 (only 2 days with data), W45, W46, W47 and the months 2024-11 and
  2025-11 (every day with data);
- W47 against W46: an entry change of +25 %, a facility suppressed in W46 (no change), a
  facility whose W47 entries are withheld (``partial``), a facility absent in W46 (no data),
  a facility suppressed in W47; circulation +5.0 pt / -5.0 pt / suppressed then;
- W47 against 2024-W47 (absent: no data), W45 against W44 (partly covered: not compared),
  2025-11 against 2024-11 (+25 %) and against 2025-10 (absent);
- rows that must not be drawn: Wi-Fi sensor rows, weekday-only rows, segment rows;
- the indicator: November 2025 with an international cell below the minimum (a share is
  planted: it must never show), fiscal year 2025 with both segments, December 2025 after
  every page's date. Bars are measured in the browser against hand-computed positions.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import h3
import pandas as pd
import pytest

pytest.register_assert_rewrite("browser")  # it is also a plugin (pytest_plugins below)
from browser import OfflineBrowser
from test_dashboards import (
    ARTIFACTS,
    BASELINE,
    DAY2,
    DAY_COLUMNS,
    TARGET,
    _insert,
    create_warehouse,
    fill_sample_marts,
    json_decoded,
    make_settings,
    real_facilities,
)

from flowlib.calendar import Period
from flowlib.config import Settings
from flowlib.dashboards import MAX_PAGE_BYTES, build_dashboards, find_remote_assets
from flowlib.dashboards.daily import TILE_HOSTS
from flowlib.dashboards.page_data import MAX_FLOWS, TOP_ROUTES
from flowlib.dashboards.periods import page_file, page_path

pytest_plugins = ["browser"]  # the session's offline_browser fixture (see test_dashboards.py)

W44, W45, W46, W47 = (Period("iso_week", date(2025, 10, 27) + timedelta(weeks=n)) for n in range(4))
NOV25, NOV24 = Period("month", date(2025, 11, 1)), Period("month", date(2024, 11, 1))

# Page of W47: (facility, entries, visitors, domestic, international); None = suppressed,
# "partial" = entries withheld (a day of the week is suppressed), visitors published
FACILITIES_W47 = [
    ("glover_garden", 1000, 900, 600, 250),
    ("dejima", 800, 700, 500, None),  # international segment suppressed
    ("oura_cathedral", "partial", 500, 350, 120),
    ("megane_bridge", 90, 85, 60, 20),
    ("confucius_shrine", None, None, None, None),
]
FACILITIES_W46 = [
    ("glover_garden", 800, 750),  # → +25.0 % entries, +20.0 % visitors
    ("dejima", None, None),  # suppressed then → no change
    ("oura_cathedral", 400, 380),  # W47 entries withheld; visitors 500 vs 380 → +31.6 %
    ("confucius_shrine", 20, 15),  # suppressed now → 秘匿
]
CIRCULATION_W47 = [("all", 2000, 1200, 0.60), ("domestic", 1500, 870, 0.58), ("international", 400, 260, 0.65)]
CIRCULATION_W46 = [("all", 1800, 990, 0.55), ("domestic", None, None, None), ("international", 380, 266, 0.70)]
# The route, transition and dwell tables below give a roll-up's rows as tuples, in the order of its
# columns here (see _period_rows). Each ends with its suppression: "primary" = suppressed,
# "partial" = the period's count withheld (a day of it is suppressed), visitors published.
PERIOD_COLUMNS = {
    "marts.routes_by_period": (
        "route_rank",
        "route",
        "origin_facility_id",
        "destination_facility_id",
        "n_stops",
        "trips",
        "visitors",
        "suppression",
    ),
    "marts.transitions_by_period": (*DAY_COLUMNS["marts.transitions_daily"], "suppression"),
    "marts.dwell_by_period": (
        "facility_id",
        "visitors",
        "dwell_minutes_p25",
        "dwell_minutes_median",
        "dwell_minutes_p75",
        "dwell_minutes_mean",
        "suppression",
    ),
}
# (rank, route, origin, destination, stops, trips, visitors, suppression)
ROUTES_W47 = [
    (1, "glover_garden > oura_cathedral", "glover_garden", "oura_cathedral", 2, None, 300, "partial"),
    (2, "dejima > shinchi_chinatown", "dejima", "shinchi_chinatown", 2, 130, 120, None),
    (None, "megane_bridge > confucius_shrine", "megane_bridge", "confucius_shrine", 2, None, None, "primary"),
]
SENSOR_ROUTES_W47 = [(1, "dejima > megane_bridge", "dejima", "megane_bridge", 2, 9999, 9999, None)]
# (from, to, transitions, visitors, next_probability, median minutes, suppression)
TRANSITIONS_W47 = [
    ("glover_garden", "oura_cathedral", 420, 400, 0.5, 20.0, None),
    ("oura_cathedral", "dejima", None, 150, None, 20.0, "partial"),
    ("dejima", "confucius_shrine", None, None, None, None, "primary"),
]
# Wi-Fi sensor edges (sights without gates): the published one drawn dashed, the suppressed one not
SENSOR_TRANSITIONS_W47 = [
    ("dejima", "megane_bridge", 400, 321, 0.6, 12.0, None),
    ("dejima", "peace_park", None, None, None, None, "primary"),
]
TRANSITIONS_W46 = [("glover_garden", "dejima", 100, 90, 0.3, None, None)]
# (facility, visitors, dwell minutes p25, median, p75, mean, suppression), from entry gaps
DWELL_W47 = [("glover_garden", 300, 40.0, 55.5, 70.0, 57.2, None), ("sofukuji", None, None, None, None, None, "primary")]
# Heat: cells on two days inside W47 and one outside
HEAT_W47 = [(date(2025, 11, 17), "suwa_shrine", 10, 100), (date(2025, 11, 20), "atomic_bomb_museum", 14, 200)]
HEAT_OUTSIDE = (date(2025, 11, 24), "inasayama_observatory", 12, 300)


def _cell(con: duckdb.DuckDBPyConnection, table: str, period: Period, **values: object) -> None:
    base: dict[str, object] = {
        "period_grain": period.grain,
        "period_start": period.start,
        "period_end": period.end,
        "period_label": period.label,
        "source_kind": "entry_log",
        "day_type": "all",
        "segment_kind": "all",
        "segment": "all",
        "is_suppressed": False,
        "suppression": None,
    }
    _insert(con, table, **{**base, **values})


def _facility(
    con: duckdb.DuckDBPyConnection, period: Period, facility_id: str, entries: object, visitors: object, **extra: object
) -> None:
    suppressed = visitors is None
    partial = entries == "partial"
    _cell(
        con,
        "marts.facility_visits_by_period",
        period,
        facility_id=facility_id,
        entries=None if suppressed or partial else entries,
        visitors=visitors,
        is_suppressed=suppressed,
        suppression="primary" if suppressed else "partial" if partial else None,
        **extra,
    )


def _circulation(con: duckdb.DuckDBPyConnection, period: Period, rows: list[tuple]) -> None:
    """Circulation rows of all facilities given as (segment, visitors, multi, rate): the order of a
    day's circulation (DAY_COLUMNS), so the week and day tables read alike. A segment other than
    'all' is a residence; no visitors: suppressed."""
    for row in rows:
        values = dict(zip(DAY_COLUMNS["marts.circulation_daily"], row))
        suppressed = values["visitors"] is None
        _cell(
            con,
            "marts.circulation_by_period",
            period,
            **values,
            segment_kind="all" if values["segment"] == "all" else "residence",
            facility_role="all",
            is_suppressed=suppressed,
            suppression="primary" if suppressed else None,
        )


def _period_rows(con: duckdb.DuckDBPyConnection, table: str, period: Period, rows: list[tuple], **extra: object) -> None:
    """Rows of a roll-up mart given as tuples in the order of PERIOD_COLUMNS[table], so the planted
    rows above stay tables whatever the mart; a "primary" suppression marks the row suppressed."""
    for row in rows:
        values = dict(zip(PERIOD_COLUMNS[table], row, strict=True))
        _cell(con, table, period, **values, is_suppressed=values["suppression"] == "primary", **extra)


def _days_with_data(con: duckdb.DuckDBPyConnection, first: date, last: date) -> None:
    """Day rows of the roll-up (what the pages count as "days with data")."""
    day = first
    while day <= last:
        _facility(con, Period("day", day), "glover_garden", 50, 40)
        day += timedelta(days=1)


def fill_period_marts(con: duckdb.DuckDBPyConnection) -> None:
    _days_with_data(con, date(2025, 11, 1), date(2025, 11, 30))  # W44 has 2 of its 7 days
    _days_with_data(con, date(2024, 11, 1), date(2024, 11, 30))
    for fid, entries, visitors, domestic, international in FACILITIES_W47:
        _facility(con, W47, fid, entries, visitors)
        if visitors is not None:
            for segment, value in (("domestic", domestic), ("international", international)):
                _cell(
                    con,
                    "marts.facility_visits_by_period",
                    W47,
                    facility_id=fid,
                    segment_kind="residence",
                    segment=segment,
                    entries=None,
                    visitors=value,
                    is_suppressed=value is None,
                )
    _facility(con, W47, "glover_garden", 55555, 55000, source_kind="wifi_sensor")  # not drawn
    _facility(con, W47, "glover_garden", 4444, 4400, day_type="weekday")  # not the headline cut
    _facility(con, W47, "glover_garden", 77, 70, hour_of_day=10)  # an hour row
    for fid, entries, visitors in FACILITIES_W46:
        _facility(con, W46, fid, entries, visitors)
    _facility(con, W45, "glover_garden", 900, 800)
    _facility(con, W44, "glover_garden", 250, 240)
    _facility(con, NOV25, "glover_garden", 5000, 4200)
    _facility(con, NOV24, "glover_garden", 4000, 3500)
    _circulation(con, W47, CIRCULATION_W47)
    _circulation(con, W46, CIRCULATION_W46)
    _circulation(con, NOV25, [("all", 8000, 4400, 0.55)])
    _circulation(con, NOV24, [("all", 7000, 3500, 0.50)])
    _period_rows(con, "marts.routes_by_period", W47, ROUTES_W47)
    _period_rows(con, "marts.routes_by_period", W47, SENSOR_ROUTES_W47, source_kind="wifi_sensor")
    _period_rows(con, "marts.transitions_by_period", W47, SENSOR_TRANSITIONS_W47, source_kind="wifi_sensor")
    _period_rows(con, "marts.transitions_by_period", W47, TRANSITIONS_W47)
    _period_rows(con, "marts.transitions_by_period", W46, TRANSITIONS_W46)
    _period_rows(con, "marts.dwell_by_period", W47, DWELL_W47, dwell_method="entry_gap_estimate")
    facilities = real_facilities()
    for day, fid, hour, connections in [*HEAT_W47, HEAT_OUTSIDE]:
        cell = h3.latlng_to_cell(float(facilities[fid]["lat"]), float(facilities[fid]["lon"]), 10)
        lat, lon = h3.cell_to_latlng(cell)
        con.execute("insert into marts.wifi_h3_hourly values (?, ?, ?, ?, ?, ?, false)", [day, cell, hour, lat, lon, connections])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    tmp = tmp_path_factory.mktemp("periods")
    settings = make_settings(tmp)
    (settings.dashboards_dir / "data-docs").mkdir(parents=True)
    (settings.dashboards_dir / "data-docs" / "index.html").write_text("<html><body>GX</body></html>", encoding="utf-8")
    con = create_warehouse(tmp / "warehouse.duckdb")
    fill_sample_marts(con)
    fill_period_marts(con)
    # the open data comes from its own step (flowlib.opendata); the index links to it
    from flowlib.exports import write_open_data

    write_open_data(con, settings)
    index = build_dashboards(con, settings)
    con.close()
    return settings, index


def page_html(settings: Settings, period: Period) -> str:
    return (settings.dashboards_dir / page_path(period)).read_text(encoding="utf-8")


def _section(page: str, kind: str) -> str:
    block = page[page.index(f'<section class="comparison" data-kind="{kind}"') :]
    return block[: block.index("</section>")]


def _row(block: str, facility_id: str) -> str:
    match = re.search(rf'data-facility-id="{facility_id}">(.*?)</tr>', block, re.S)
    assert match, facility_id
    return match.group(1)


# ------------------------------------------------------------------ HTML


def test_one_page_per_week_and_month_with_data(built: tuple[Settings, Path]) -> None:
    settings, _ = built
    weekly = sorted(p.name for p in (settings.dashboards_dir / "weekly").glob("*.html"))
    monthly = sorted(p.name for p in (settings.dashboards_dir / "monthly").glob("*.html"))
    assert weekly == ["2025-W44.html", "2025-W45.html", "2025-W46.html", "2025-W47.html"]
    assert monthly == ["2024-11.html", "2025-11.html"]
    assert list(settings.dashboards_dir.rglob("*.tmp")) == []
    for folder in ("weekly", "monthly"):
        for path in (settings.dashboards_dir / folder).glob("*.html"):
            page = path.read_text(encoding="utf-8")
            assert find_remote_assets(page) == [] and "../assets/leaflet/leaflet.js" in page
            assert path.stat().st_size < MAX_PAGE_BYTES


def test_week_page_reuses_the_map_builder(built: tuple[Settings, Path]) -> None:
    page = page_html(built[0], W47)
    assert '<html lang="ja" data-lang="ja">' in page
    assert "2025-W47（11月17日〜11月23日）" in page and "Week 2025-W47 (17 Nov – 23 Nov 2025)" in page
    assert "TDHeatmap" in page and "L.heatLayer" in page  # Wi-Fi heat layers
    assert page.count('"className": "flow-line') == 3  # the suppressed flows are not drawn
    assert page.count("flow-sensor") == 2  # one sensor line and its arrow
    assert "出島 → 眼鏡橋: 321人（60.0%）・所要中央値 12分・計測: Wi-Fiセンサー" in page
    assert "出島 → 平和公園" not in page  # the suppressed sensor cell
    sensor_routes = page[page.index('id="sensor-routes-table"') :]
    assert "9,999" in sensor_routes[: sensor_routes.index("</table>")]  # the sensor route, in its own table
    assert "Wi-Fi 混雑（期間合計）" in json_decoded(page) and "施設（円の大きさ＝来訪者数）" in page
    assert 'data-days="7" data-span="7"' in page
    # card taps, whole period, all visitors only
    for not_drawn in ("55,555", "4,444", "4,400", ">77<"):
        assert not_drawn not in page
    assert page.count("9,999") == 1
    # partial facility: visitors drawn, entries withheld and said so
    assert "入場数は非公表（期間内に秘匿の日があるため）" in page
    assert "グラバー園 → 大浦天主堂" in page and "大浦天主堂 → 長崎孔子廟" not in page


def test_week_heat_sums_the_weeks_days_only(built: tuple[Settings, Path]) -> None:
    page = page_html(built[0], W47)
    facilities = real_facilities()
    for _, fid, _, _ in HEAT_W47:
        lat, lon = h3.cell_to_latlng(h3.latlng_to_cell(float(facilities[fid]["lat"]), float(facilities[fid]["lon"]), 10))
        assert f"{round(lat, 5)}, {round(lon, 5)}" in page, fid
    _, fid, _, _ = HEAT_OUTSIDE
    lat, lon = h3.cell_to_latlng(h3.latlng_to_cell(float(facilities[fid]["lat"]), float(facilities[fid]["lon"]), 10))
    assert f"{round(lat, 5)}, {round(lon, 5)}" not in page


def test_week_comparisons(built: tuple[Settings, Path]) -> None:
    page = page_html(built[0], W47)
    previous = _section(page, "previous_period")
    assert 'data-status="ok"' in previous and 'href="2025-W46.html"' in previous
    glover = _row(previous, "glover_garden")
    assert "+25.0%" in glover and "+20.0%" in glover
    assert "比較不可（秘匿）" in _row(previous, "dejima")  # suppressed in W46
    oura = _row(previous, "oura_cathedral")
    assert 'data-status="withheld"' in oura and "+31.6%" in oura  # entries withheld, visitors compared
    assert 'data-status="no_data"' in _row(previous, "megane_bridge")  # not in W46
    assert "秘匿" in _row(previous, "confucius_shrine") and "%" not in _row(previous, "confucius_shrine")
    assert re.search(r'data-segment="all">.*?\+5\.0 pt', previous, re.S)
    assert re.search(r'data-segment="domestic">.*?比較不可（秘匿）', previous, re.S)
    assert re.search(r'data-segment="international">.*?−5\.0 pt', previous, re.S)
    year = _section(page, "year_earlier")
    assert 'data-status="no_data"' in year and "2024-W47" in year and "<table" not in year
    # W45 against W44, which has 2 days of data of 7: not compared
    partial = _section(page_html(built[0], W45), "previous_period")
    assert 'data-status="not_comparable"' in partial and "比較不可" in partial and "%" not in partial.split("</p>")[-1]


def test_month_comparisons(built: tuple[Settings, Path]) -> None:
    page = page_html(built[0], NOV25)
    assert "2025年11月" in page and "November 2025" in page
    assert 'data-status="no_data"' in _section(page, "previous_period")  # 2025-10 absent
    year = _section(page, "year_earlier")
    assert 'data-status="ok"' in year and 'href="2024-11.html"' in year
    glover = _row(year, "glover_garden")
    assert "+25.0%" in glover and "+20.0%" in glover
    assert re.search(r'data-segment="all">.*?\+5\.0 pt', year, re.S)


def test_indicator_panel_picks_periods_and_never_shows_too_few_as_a_share(built: tuple[Settings, Path]) -> None:
    settings, index = built
    for page in (
        page_html(settings, W47),
        (settings.dashboards_dir / "daily" / f"{DAY2.isoformat()}.html").read_text(encoding="utf-8"),
    ):
        panel = page[page.index('<div class="indicator-panel"') :]
        assert 'data-period="2025-11"' in panel and 'data-period="FY2025"' in panel
        assert 'data-period="2025-12"' not in panel  # starts after the page's days
        assert "41.7%" not in page  # planted share of a too-few cell
        international = re.search(
            r'data-period="2025-11".*?data-segment="international" data-too-few="true">(.*?)</div>\s*</div>', panel, re.S
        )
        assert international and "回答数不足" in international.group(1)
    index_panel = index.read_text(encoding="utf-8")
    assert 'data-period="2025-12"' in index_panel and "70.0%" in index_panel


def test_navigation_and_related_links(built: tuple[Settings, Path]) -> None:
    settings, _ = built
    w46, w47 = page_html(settings, W46), page_html(settings, W47)
    assert 'href="2025-W47.html"' in w46 and 'href="2025-W45.html"' in w46
    assert 'href="2025-W46.html"' in w47 and "2025-W48" not in w47  # no later week
    month = page_html(settings, NOV25)
    assert re.search(r'<a href="2024-11.html"><span class="lang-ja" lang="ja">← 2024-11</span>', month)
    assert 'href="../monthly/2025-11.html"' in w47
    assert 'href="../daily/2025-11-23.html"' in w47 and 'href="../daily/2025-11-22.html"' in w47
    assert 'href="../daily/2025-11-16.html"' not in w47
    daily = (settings.dashboards_dir / "daily" / "2025-11-23.html").read_text(encoding="utf-8")
    assert 'href="../weekly/2025-W47.html"' in daily and 'href="../monthly/2025-11.html"' in daily


def test_index_links_periods_data_quality_and_open_data(built: tuple[Settings, Path]) -> None:
    settings, index = built
    page = index.read_text(encoding="utf-8")
    weeks = re.findall(r'href="(weekly/[^"]+)"', page)
    assert weeks == ["weekly/2025-W47.html", "weekly/2025-W46.html", "weekly/2025-W45.html", "weekly/2025-W44.html"]
    assert re.findall(r'href="(monthly/[^"]+)"', page) == ["monthly/2025-11.html", "monthly/2024-11.html"]
    assert 'href="data-docs/index.html"' in page and 'href="exports/index.html"' in page
    for href in set(re.findall(r'href="([^"#:]+)"', page)):
        assert (index.parent / href).is_file(), href


def test_period_page_stays_small_on_heavy_input(tmp_path: Path) -> None:
    """Thousands of H3 cells on several days of a week, every facility pair, thousands of
    routes: the week's page still stays far below 5 MB."""
    settings = make_settings(tmp_path)
    con = create_warehouse(tmp_path / "heavy.duckdb")
    ids = list(real_facilities())
    cells = list(h3.grid_disk(h3.latlng_to_cell(32.745, 129.873, 10), 40))
    frame = pd.DataFrame(
        [(i, cell, *h3.cell_to_latlng(cell)) for i, cell in enumerate(cells)], columns=["i", "cell", "lat", "lon"]
    )
    con.register("cell_frame", frame)
    con.execute(
        "insert into marts.wifi_h3_hourly select ?::date + d.day, c.cell, h.hour, c.lat, c.lon, "
        "10 + (c.i * 7 + h.hour * 13) % 500, false from cell_frame as c, "
        "(select unnest([0, 3, 6]) as day) as d, (select range as hour from range(24)) as h",
        [W47.start],
    )
    heat_rows = con.execute("select count(*) from marts.wifi_h3_hourly").fetchall()[0][0]
    pairs = [(a, b) for a in ids for b in ids if a != b]
    # whole rows in the tables' column order: the week's key (PERIOD_KEY in test_dashboards.py), then the cells
    week = ("iso_week", W47.start, W47.end, W47.label, "entry_log", "all", "all", "all")
    transitions = pd.DataFrame(
        [(*week, a, b, 100 + n, 50 + n, None, 12.0, None, 0.1, False, None) for n, (a, b) in enumerate(pairs)]
    )
    con.register("transitions_frame", transitions)
    con.execute("insert into marts.transitions_by_period select * from transitions_frame")
    routes = pd.DataFrame(
        [(*week, a, b, f"{a} > {b}", 2, n + 1, None, 5000 - n, None, False, "partial") for n, (a, b) in enumerate(pairs * 10)]
    )
    con.register("routes_frame", routes)
    con.execute("insert into marts.routes_by_period select * from routes_frame")
    for fid in ids:
        _facility(con, W47, fid, 5000, 4000)
    build_dashboards(con, settings, service_dates=[])  # the week's page only
    path = settings.dashboards_dir / "weekly" / page_file(W47)
    size = path.stat().st_size
    print(f"\nheavy-input week page: {size / 1e6:.2f} MB ({heat_rows:,} heat rows, {len(pairs)} flows, {len(routes):,} routes)")
    assert size < MAX_PAGE_BYTES
    page = path.read_text(encoding="utf-8")
    assert page.count('"className": "flow-line') == MAX_FLOWS
    assert page.count('<tr><td class="num">') <= TOP_ROUTES + 5


# ------------------------------------------------------------------ browser


def _assert_clean(visit) -> None:  # type: ignore[no-untyped-def]
    assert visit.unexpected_errors(TILE_HOSTS) == []
    assert visit.blocked_outside(TILE_HOSTS) == []


def _box(locator) -> dict[str, float]:  # type: ignore[no-untyped-def]
    box = locator.bounding_box()
    assert box is not None
    return box


def _at(bar: dict[str, float], percent: float, axis: tuple[float, float] = (40.0, 100.0)) -> float:
    """x of a value on a bar, in page pixels (the bar's border is 1 px)."""
    inner = bar["width"] - 2
    return bar["x"] + 1 + (percent - axis[0]) / (axis[1] - axis[0]) * inner


def test_week_page_in_offline_browser(built: tuple[Settings, Path], offline_browser: OfflineBrowser) -> None:
    settings, _ = built
    path = settings.dashboards_dir / "weekly" / page_file(W47)
    visit = offline_browser.open(path)
    page = visit.page
    _assert_clean(visit)
    print(f"\nrender {path.name}: {visit.load_ms:.0f} ms navigation→map ready, {path.stat().st_size / 1024:.0f} KiB")
    assert page.evaluate("window.flowDashboard.map instanceof L.Map")
    overlays = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    for expected in ("人の流れ", "施設", "Wi-Fi 混雑（時間帯別・期間合計）", "Wi-Fi 混雑（期間合計）", "観光エリア"):
        assert any(expected in text for text in overlays), (expected, overlays)
    assert page.locator("#flow-legend").is_visible()
    assert page.locator("path.flow-line:not(.flow-sensor)").count() == 2
    assert page.locator("path.flow-line.flow-sensor").count() == 1  # the Wi-Fi sensor edge
    assert page.locator("path.facility-marker").count() == len(FACILITIES_W47)
    assert page.locator("path.facility-marker.suppressed").count() == 1  # confucius; oura is drawn (visitors)
    routes = page.locator("#routes-table tbody tr")
    assert routes.count() == 2 and "グラバー園 → 大浦天主堂" in routes.nth(0).inner_text()
    assert "65.0%" in page.locator("#circulation-table tr[data-segment='international']").inner_text()
    assert page.locator("#satisfaction-table").count() == 0  # daily answers are not summed over a week

    # comparisons as rendered
    previous = page.locator(".comparison[data-kind='previous_period']")
    glover = previous.locator("tr[data-facility-id='glover_garden']")
    assert glover.locator(".entries-change").inner_text() == "+25.0%"
    assert glover.locator(".visitors-change").inner_text() == "+20.0%"
    oura = previous.locator("tr[data-facility-id='oura_cathedral']")
    assert oura.locator(".entries-change").inner_text() == "非公表"
    assert oura.locator(".visitors-change").inner_text() == "+31.6%"
    assert previous.locator("tr[data-facility-id='megane_bridge'] .entries-change").inner_text() == "データなし"
    assert previous.locator(".comparison-circulation tr[data-segment='international'] .change").inner_text() == "−5.0 pt"
    assert "データなし" in page.locator(".comparison[data-kind='year_earlier'] .comparison-none").inner_text()

    # indicator bars: positions measured against the hand-computed axis 40-100 %
    panel = page.locator("#indicator .indicator-panel")
    assert (panel.get_attribute("data-axis-min"), panel.get_attribute("data-axis-max")) == ("40", "100")
    fiscal = panel.locator(".indicator-period[data-period='FY2025']")
    for segment, (low, share, high) in {"domestic": (58.0, 62.0, 65.8), "international": (68.6, 75.0, 80.5)}.items():
        row = fiscal.locator(f".indicator-row[data-segment='{segment}']")
        bar = _box(row.locator(".indicator-bar"))
        ci = _box(row.locator(".indicator-ci"))
        assert ci["x"] == pytest.approx(_at(bar, low), abs=1.5)
        assert ci["x"] + ci["width"] == pytest.approx(_at(bar, high), abs=1.5)
        dot = _box(row.locator(".indicator-share"))
        assert dot["x"] + dot["width"] / 2 == pytest.approx(_at(bar, share), abs=1.5)
        for mark, value in ((".indicator-baseline", BASELINE[segment]), (".indicator-target", TARGET[segment])):
            box = _box(row.locator(mark))
            assert box["x"] + box["width"] / 2 == pytest.approx(_at(bar, value * 100), abs=2.0), (segment, mark)
        assert row.locator(".indicator-value").inner_text() == f"{share:.1f}%"
    assert fiscal.locator(".indicator-row[data-segment='domestic'] .indicator-progress strong").inner_text() == "42%"
    assert fiscal.locator(".indicator-row[data-segment='international'] .indicator-progress strong").inner_text() == "57%"
    assert "有意に高い (p<0.001)" in fiscal.locator(".indicator-row[data-segment='domestic']").inner_text()
    month = panel.locator(".indicator-period[data-period='2025-11']")
    too_few = month.locator(".indicator-row[data-segment='international']")
    assert too_few.get_attribute("data-too-few") == "true"
    assert too_few.locator(".indicator-value").inner_text() == "回答数不足"
    assert too_few.locator(".indicator-share").count() == 0 and too_few.locator(".indicator-ci").count() == 0
    assert too_few.locator(".indicator-baseline").count() == 1 and too_few.locator(".indicator-target").count() == 1
    assert "41.7" not in too_few.inner_text()
    assert month.locator(".indicator-row[data-segment='domestic'] .indicator-progress strong").inner_text() == "33%"

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "weekly-2025-W47-ja.png"))
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=str(ARTIFACTS / "indicator-panel-ja.png"))
    page.locator(".comparison[data-kind='previous_period']").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "weekly-2025-W47-comparison-ja.png"))
    page.click("#lang-toggle")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert "too few answers" == too_few.locator(".indicator-value").inner_text()
    assert "Week 2025-W47" in page.locator("#flow-topbar h1").inner_text()
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "weekly-2025-W47-en.png"))
    _assert_clean(visit)


def test_month_page_in_offline_browser(built: tuple[Settings, Path], offline_browser: OfflineBrowser) -> None:
    settings, _ = built
    path = settings.dashboards_dir / "monthly" / page_file(NOV25)
    visit = offline_browser.open(path)
    _assert_clean(visit)
    page = visit.page
    print(f"\nrender {path.name}: {visit.load_ms:.0f} ms navigation→map ready, {path.stat().st_size / 1024:.0f} KiB")
    year = page.locator(".comparison[data-kind='year_earlier']")
    assert year.locator("tr[data-facility-id='glover_garden'] .entries-change").inner_text() == "+25.0%"
    assert "データなし" in page.locator(".comparison[data-kind='previous_period']").inner_text()
    page.screenshot(path=str(ARTIFACTS / "monthly-2025-11-ja.png"))


def test_index_in_offline_browser_links_everything(built: tuple[Settings, Path], offline_browser: OfflineBrowser) -> None:
    _, index = built
    visit = offline_browser.open(index)
    _assert_clean(visit)
    page = visit.page
    assert visit.blocked_urls == []
    assert page.locator("#weekly-list a").count() == 4 and page.locator("#monthly-list a").count() == 2
    assert page.locator("#flow-topbar nav a[href='exports/index.html']").count() == 1
    page.screenshot(path=str(ARTIFACTS / "index-with-periods.png"), full_page=True)
    # the links work offline: open the open-data catalogue, the data docs and a week
    page.click("#open-data-link")
    page.wait_for_load_state("load")
    assert page.url.endswith("/exports/index.html")
    assert page.locator("#files tr[data-file='facility_daily.csv']").count() == 1
    assert "CC BY 4.0" in page.locator("#licence").inner_text()
    page.screenshot(path=str(ARTIFACTS / "open-data-catalogue.png"), full_page=True)
    page.go_back()
    page.click("#data-docs-link")
    page.wait_for_load_state("load")
    assert page.url.endswith("/data-docs/index.html")
    page.go_back()
    page.click("#weekly-list a >> nth=0")
    page.wait_for_function("window.flowDashboard && window.flowDashboard.ready")
    assert page.url.endswith("/weekly/2025-W47.html")
    assert visit.blocked_outside(TILE_HOSTS) == []
