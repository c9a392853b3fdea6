"""Dashboards: built from a small hand-made warehouse, checked as HTML and in a real browser.

The warehouse uses real facility ids and coordinates (shared/realdata) and plants what must
never reach a page: a suppressed flow, a suppressed facility, a facility whose name is a
script tag (and a Jinja expression, since branca re-renders markup as a template), Wi-Fi
sensor rows (facility counts never drawn; flows and routes drawn dashed, labelled) and a survey day whose total would give back a
suppressed segment. The week before DAY2 (2025-11-16) is there for the comparison, and the
indicator mart for the satisfaction panel (tests/test_dashboard_periods.py checks the bars).
"""

from __future__ import annotations

import csv
import json
import math
import re
from datetime import date, datetime
from pathlib import Path

import duckdb
import h3
import pandas as pd
import pytest

pytest.register_assert_rewrite("browser")  # it is also a plugin (pytest_plugins below)
from browser import OfflineBrowser, browser_unavailable

from flowlib.config import PROJECT_ROOT, Settings
from flowlib.dashboards import MAX_PAGE_BYTES, build_dashboards, find_remote_assets
from flowlib.dashboards.daily import MAX_GEOJSON_CHARS, TILE_HOSTS, load_reference_geojson
from flowlib.dashboards.heat import MAX_HEAT_CELLS
from flowlib.dashboards.page_data import MAX_FLOWS
from flowlib.dashboards.publish import STALE_TEMP_SECONDS, RemoteAssetError, sweep_stale_temp_files, write_page

# One Chromium for the session, shared by every module that uses ``offline_browser`` (a fixture
# imported into two modules would start two Playwright instances, which cannot coexist).
pytest_plugins = ["browser"]

FACILITIES_CSV = PROJECT_ROOT.parent / "shared" / "realdata" / "nagasaki_facilities.csv"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

DAY1, DAY2 = date(2025, 11, 22), date(2025, 11, 23)
WEEK_BEFORE = date(2025, 11, 16)  # DAY2 - 7: the daily comparison
EVIL_ID = "dutch_slope"
EVIL_NAME_JA = "<script>alert(1)</script>オランダ坂"
EVIL_NAME_EN = "Dutch Slope {{7*7}} `${x}`"
K = 10

# (facility, entries, visitors, domestic, international, unknown); None = suppressed
FACILITY_DAY2 = [
    ("glover_garden", 420, 380, 250, 120, 10),
    ("oura_cathedral", 300, 280, 200, 75, 5),
    ("dejima", 350, 330, 210, 110, 10),
    ("shinchi_chinatown", 150, 140, 100, 40, 0),
    ("megane_bridge", 90, 85, 60, 25, 0),
    (EVIL_ID, 60, 55, 40, 15, 0),
    ("confucius_shrine", None, None, None, None, None),
]
# The tables below give a daily mart's rows as tuples, in the order of its columns here (see
# _day_rows); a row may stop before its last columns (left null). None = suppressed.
DAY_COLUMNS = {
    "marts.transitions_daily": (
        "from_facility_id",
        "to_facility_id",
        "transitions",
        "visitors",
        "next_probability",
        "transfer_minutes_median",
    ),
    "marts.routes_daily": ("route_rank", "route", "n_stops", "visitors"),
    "marts.circulation_daily": ("segment", "visitors", "multi_facility_visitors", "circulation_rate", "facilities_per_visitor"),
}
# marts.transitions_daily (from, to, transitions, visitors, next_probability, median minutes)
TRANSITIONS_DAY2 = [
    ("glover_garden", "oura_cathedral", 130, 120, 0.52, 12.0),
    ("glover_garden", "dejima", 60, 55, 0.26, 25.0),
    ("glover_garden", "shinchi_chinatown", 40, 38, 0.17, 30.0),
    ("oura_cathedral", "dejima", 70, 66, 0.61, 20.0),
    ("dejima", "shinchi_chinatown", 45, 42, 0.55, 15.0),
    ("dejima", "oura_cathedral", 20, 18, 0.24, 22.0),
    ("shinchi_chinatown", "megane_bridge", 30, 28, 0.70, 18.0),
    ("megane_bridge", EVIL_ID, 12, 12, 0.40, 35.0),
    ("dejima", "confucius_shrine", None, None, None, None),
]
DRAWN_FLOWS = [t for t in TRANSITIONS_DAY2 if t[2] is not None]
# marts.routes_daily (rank, route, stops, visitors)
ROUTES_DAY2 = [
    (1, "glover_garden > oura_cathedral > dejima", 3, 48),
    (2, "dejima > shinchi_chinatown > megane_bridge", 3, 25),
    (3, "glover_garden > dejima", 2, 20),
    (None, "oura_cathedral > confucius_shrine", 2, None),
]
# Wi-Fi sensor edges and routes of the same days (sights without gates): one published, one suppressed
SENSOR_TRANSITIONS_DAY2 = [("dejima", "megane_bridge", 5000, 4321, 0.85, None), ("dejima", "peace_park", None, None, None, None)]
SENSOR_ROUTES_DAY2 = [(1, "dejima > megane_bridge", 2, 4321), (None, "dejima > peace_park", 2, None)]
# marts.circulation_daily (segment, visitors, multi, rate, facilities/visitor)
CIRCULATION_DAY2 = [
    ("all", 900, 540, 0.60, 1.9),
    ("domestic", 600, 330, 0.55, 1.8),
    ("international", 280, 200, 0.7143, 2.2),
    ("unknown", None, None, None, None),
]
# The same weekday a week before DAY2: (facility, entries, visitors); None = suppressed
FACILITY_WEEK_BEFORE = [
    ("glover_garden", 400, 350),  # DAY2 420 / 380: +5.0 % / +8.6 %
    ("oura_cathedral", 300, 280),  # equal: ±0.0 %
    ("dejima", None, None),  # suppressed then: no change shown
    ("megane_bridge", 100, 100),  # DAY2 90 / 85: -10.0 % / -15.0 %
]
CIRCULATION_WEEK_BEFORE = [("all", 800, 400, 0.50), ("domestic", 500, 275, 0.55), ("international", None, None, None)]

# (date, segment, respondents, satisfied, share); None = suppressed
SATISFACTION = [
    # as the mart protects it: all (26) would give the hidden international answers back
    (DAY1, "all", None, None, None),
    (DAY1, "domestic", 20, 12, 0.60),
    (DAY1, "international", None, None, None),
    (DAY2, "all", 40, 30, 0.75),
    (DAY2, "domestic", 25, 18, 0.72),
    (DAY2, "international", 15, 12, 0.80),
]

# The key every roll-up mart starts with (sql/marts/*_by_period.sql), written once
PERIOD_KEY = (
    "period_grain varchar, period_start date, period_end date, period_label varchar, source_kind varchar, "
    "day_type varchar, segment_kind varchar, segment varchar"
)
SCHEMA_SQL = f"""
create schema if not exists ref; create schema if not exists marts; create schema if not exists ops;
create table ref.facilities (facility_id varchar, name_ja varchar, name_en varchar, area_id varchar,
    lat double, lon double, confidence varchar, harbour_side boolean);
create table ref.areas (area_id varchar, name_ja varchar, name_en varchar);
create table marts.facility_daily (service_date date, source_kind varchar default 'entry_log', facility_id varchar,
    entries bigint, visitors bigint, domestic_visitors bigint, international_visitors bigint, unknown_visitors bigint,
    is_suppressed boolean, suppression varchar, day_type varchar);
create table marts.facility_entries_hourly (service_date date, source_kind varchar default 'entry_log',
    facility_id varchar, hour_of_day smallint, entries bigint, visitors bigint, is_suppressed boolean, suppression varchar);
create table marts.transitions_daily (service_date date, source_kind varchar default 'entry_log', from_facility_id varchar,
    to_facility_id varchar, transitions bigint, visitors bigint, transfer_minutes_p25 double, transfer_minutes_median double,
    transfer_minutes_p75 double, next_probability double, is_suppressed boolean, suppression varchar, day_type varchar);
create table marts.routes_daily (service_date date, source_kind varchar default 'entry_log', route_rank integer,
    route varchar, n_stops integer, visitors bigint, is_suppressed boolean, suppression varchar);
create table marts.circulation_daily (service_date date, source_kind varchar default 'entry_log', segment varchar,
    visitors bigint, multi_facility_visitors bigint, circulation_rate double, facilities_per_visitor double,
    is_suppressed boolean, suppression varchar, day_type varchar);
create table marts.wifi_h3_hourly (service_date date, h3_cell varchar, hour_of_day integer, lat double,
    lon double, connections hugeint, is_suppressed boolean);
create table marts.wifi_area_hourly (service_date date, area_id varchar, hour_of_day smallint, connections hugeint,
    is_suppressed boolean);
create table marts.survey_satisfaction_daily (service_date date, segment varchar, respondents bigint,
    satisfied bigint, satisfied_share double, is_suppressed boolean);
create table marts.facility_visits_by_period ({PERIOD_KEY}, facility_id varchar, hour_of_day smallint,
    entries bigint, visitors bigint, is_suppressed boolean, suppression varchar);
create table marts.transitions_by_period ({PERIOD_KEY}, from_facility_id varchar, to_facility_id varchar,
    transitions bigint, visitors bigint, transfer_minutes_p25 double, transfer_minutes_median double,
    transfer_minutes_p75 double, next_probability double, is_suppressed boolean, suppression varchar);
create table marts.routes_by_period ({PERIOD_KEY}, origin_facility_id varchar, destination_facility_id varchar,
    route varchar, n_stops integer, route_rank integer, trips bigint, visitors bigint, trip_minutes_median double,
    is_suppressed boolean, suppression varchar);
create table marts.circulation_by_period ({PERIOD_KEY}, facility_role varchar, facility_id varchar, visitors bigint,
    multi_facility_visitors bigint, single_facility_visitors bigint, circulation_rate double,
    facilities_per_visitor double, is_suppressed boolean, suppression varchar);
create table marts.dwell_by_period ({PERIOD_KEY}, facility_id varchar, dwell_method varchar, visitors bigint,
    dwell_minutes_p25 double, dwell_minutes_median double, dwell_minutes_p75 double, dwell_minutes_mean double,
    is_suppressed boolean, suppression varchar);
create table marts.info_satisfaction_indicator (period_type varchar, period_start date, period_label varchar,
    segment varchar, respondents integer, satisfied integer, share double, ci_low double, ci_high double,
    effective_n double, weighted boolean, too_few_answers boolean, baseline_share double, target_share double,
    progress_to_target double, change_vs_baseline_p_value double, change_significant boolean, period_end date,
    months_with_answers integer);
create table marts.info_satisfaction_drivers (period_type varchar, period_start date, period varchar, segment varchar,
    driver_type varchar, driver_value varchar, respondents integer, satisfied integer, share double, ci_low double,
    ci_high double, effective_n double, weighted boolean, too_few_answers boolean, gap_vs_segment double,
    largest_gap boolean);
create table marts.spending_by_period (period_grain varchar, period_start date, period_end date, period_label varchar,
    day_type varchar, segment_kind varchar, segment varchar, facility_id varchar, visitors bigint, visitor_days bigint,
    admissions bigint, paid_admissions bigint, revenue_jpy bigint, revenue_per_visitor_day double,
    revenue_per_paid_admission double, is_suppressed boolean, suppression varchar);
create table marts.spending_routes_by_period (period_grain varchar, period_start date, period_end date,
    period_label varchar, day_type varchar, breakdown varchar, facility_id varchar, route varchar, visitors bigint,
    visitor_days bigint, trips bigint, paid_admissions bigint, revenue_jpy bigint, paid_admissions_per_unit double,
    revenue_per_unit_jpy double, is_suppressed boolean, suppression varchar);
create table marts.all_visitors_facility_daily (service_date date, facility_id varchar, cashless_visitors bigint,
    reported_admissions bigint, cashless_share double, share_ci_low double, share_ci_high double, share_basis varchar,
    share_days integer, all_visitors_estimate bigint, estimate_ci_low bigint, estimate_ci_high bigint,
    is_estimate boolean, status varchar, is_suppressed boolean, suppression varchar);
create table marts.all_visitors_flows_daily (service_date date, measure varchar, from_facility_id varchar,
    to_facility_id varchar, route varchar, cashless_visitors bigint, share_used double, all_visitors_estimate bigint,
    estimate_ci_low bigint, estimate_ci_high bigint, is_estimate boolean, status varchar, is_suppressed boolean,
    suppression varchar);
create table marts.opportunity_fit (period_grain varchar, period_start date, period_label varchar, source_kind varchar,
    segment varchar, status varchar, n_facilities integer, n_pairs integer, moves bigint, deviance double,
    null_deviance double, pseudo_r2 double, mcfadden_r2 double, dispersion double, nb_alpha double,
    distance_coefficient double, distance_ci_low double, distance_ci_high double);
create table marts.opportunity_pairs (period_grain varchar, period_start date, period_label varchar, source_kind varchar,
    segment varchar, from_facility_id varchar, to_facility_id varchar, walking_minutes double, observed_moves bigint,
    observed_below_k boolean, expected_moves double, expected_low double, expected_high double, ratio double,
    under_connected boolean, tier varchar, promote_rank integer, is_suppressed boolean, suppression varchar);
create table marts.measure_effects (measure varchar, title_ja varchar, title_en varchar, what_changed varchar,
    source_file varchar, start_date date, end_date date, outcome varchar, treated_unit varchar, comparison_units varchar,
    comparison_chosen_by varchar, status varchar, reason varchar, pre_days integer, post_days integer, effect double,
    ci_low double, ci_high double, effect_scale varchar, effect_percent double, ci_low_percent double,
    ci_high_percent double, p_value double, pre_trend_slope double, pre_trend_p_value double, pre_trend_ok boolean);
create table marts.measure_series (measure varchar, service_date date, series_group varchar, value double);
create table ops.load_log (source varchar, service_date date, file_name varchar, file_bytes bigint,
    file_sha256 varchar, rows_read integer, rows_loaded integer, rows_quarantined integer, outcome varchar,
    message varchar, loaded_at timestamp);
"""

# marts.info_satisfaction_indicator: a row per tuple of INDICATOR, in the order of INDICATOR_COLUMNS
# (fill_indicator adds the rest). Baseline / target from config/indicator.yaml.
BASELINE = {"domestic": 0.531, "international": 0.718}
TARGET = {"domestic": 0.743, "international": 0.774}
# fmt: off
INDICATOR_COLUMNS = (
    "period_type", "period_start", "period_end", "period_label", "segment", "respondents", "satisfied", "share", "ci_low",
    "ci_high", "too_few_answers", "progress_to_target", "change_significant", "change_vs_baseline_p_value",
    "months_with_answers",
)
# one row per line: the columns read as a table
INDICATOR = [
    ("month", date(2025, 10, 1), date(2025, 10, 31), "2025-10", "domestic", 100, 55, 0.55, 0.452, 0.644, False, 0.0896, False, 0.70, 1),
    ("month", date(2025, 10, 1), date(2025, 10, 31), "2025-10", "international", 40, 30, 0.75, 0.598, 0.858, False, 0.5714, False, 0.66, 1),
    # November: domestic enough, international too few (a share planted anyway: never shown)
    ("month", date(2025, 11, 1), date(2025, 11, 30), "2025-11", "domestic", 120, 72, 0.60, 0.511, 0.683, False, 0.3255, False, 0.12, 1),
    ("month", date(2025, 11, 1), date(2025, 11, 30), "2025-11", "international", 12, 5, 0.4167, 0.19, 0.68, True, None, None, None, 1),
    ("month", date(2025, 11, 1), date(2025, 11, 30), "2025-11", "all", 140, 80, 0.5714, 0.49, 0.65, False, None, None, None, 1),
    # December starts after every page's day: only the index (latest) shows it
    ("month", date(2025, 12, 1), date(2025, 12, 31), "2025-12", "domestic", 90, 63, 0.70, 0.60, 0.785, False, 0.7877, True, 0.001, 1),
    ("month", date(2025, 12, 1), date(2025, 12, 31), "2025-12", "international", 8, 6, None, None, None, True, None, None, None, 1),
    ("fiscal_year", date(2025, 4, 1), date(2026, 3, 31), "FY2025", "domestic", 600, 372, 0.62, 0.580, 0.658, False, 0.4198, True, 0.0001, 9),
    ("fiscal_year", date(2025, 4, 1), date(2026, 3, 31), "FY2025", "international", 200, 150, 0.75, 0.686, 0.805, False, 0.5714, False, 0.32, 9),
]
# fmt: on


def real_facilities() -> dict[str, dict[str, str]]:
    if not FACILITIES_CSV.is_file():
        pytest.fail(f"{FACILITIES_CSV} is missing: the tests use the real facility list from shared/realdata")
    with FACILITIES_CSV.open(encoding="utf-8") as handle:
        return {row["facility_id"]: row for row in csv.DictReader(handle)}


def create_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """A warehouse with the documented tables, ref data from the real facility list."""
    con = duckdb.connect(str(path))
    con.execute(SCHEMA_SQL)
    for facility_id, row in real_facilities().items():
        name_ja, name_en = row["name_ja"], row["name_en"]
        if facility_id == EVIL_ID:
            name_ja, name_en = EVIL_NAME_JA, EVIL_NAME_EN
        con.execute(
            "insert into ref.facilities values (?, ?, ?, null, ?, ?, ?, false)",
            [facility_id, name_ja, name_en, float(row["lat"]), float(row["lon"]), row["confidence"]],
        )
    return con


def _insert(con: duckdb.DuckDBPyConnection, table: str, **values: object) -> None:
    names = ", ".join(values)
    con.execute(f"insert into {table} ({names}) values ({', '.join('?' for _ in values)})", list(values.values()))


def _facility_day(
    con: duckdb.DuckDBPyConnection, day: date, facility_id: str, entries: object, visitors: object, **extra: object
) -> None:
    """A row of marts.facility_daily (card taps unless extra says otherwise); no entries: suppressed."""
    suppressed = entries is None
    _insert(
        con,
        "marts.facility_daily",
        service_date=day,
        facility_id=facility_id,
        entries=entries,
        visitors=visitors,
        is_suppressed=suppressed,
        suppression="primary" if suppressed else None,
        **extra,
    )


def _day_rows(con: duckdb.DuckDBPyConnection, table: str, day: date, rows: list[tuple], **extra: object) -> None:
    """Rows of a daily mart given as tuples in the order of DAY_COLUMNS[table], so the sample data
    above stays a table whatever the mart; a row without visitors is suppressed, as the marts mark it."""
    for row in rows:
        values = dict(zip(DAY_COLUMNS[table], row))  # a shorter row leaves its last columns null
        _insert(con, table, service_date=day, **values, is_suppressed=values["visitors"] is None, **extra)


def fill_sample_marts(con: duckdb.DuckDBPyConnection) -> None:
    facilities = real_facilities()
    for day, scale in ((DAY1, 0.8), (DAY2, 1.0)):
        for fid, *counts in FACILITY_DAY2:
            entries, visitors, domestic, international, unknown = (None if c is None else round(c * scale) for c in counts)
            _facility_day(
                con,
                day,
                fid,
                entries,
                visitors,
                domestic_visitors=domestic,
                international_visitors=international,
                unknown_visitors=unknown,
                day_type="weekend_holiday",
            )
        _day_rows(con, "marts.transitions_daily", day, TRANSITIONS_DAY2)
        _day_rows(con, "marts.routes_daily", day, ROUTES_DAY2)
        _day_rows(con, "marts.circulation_daily", day, CIRCULATION_DAY2)
        # Wi-Fi sensor counts of the same marts: exported, never drawn (a second count of a facility)
        _facility_day(con, day, "glover_garden", 98765, 87654, source_kind="wifi_sensor")
        # ... but their flows and routes are drawn (sights without gates), dashed and labelled
        _day_rows(con, "marts.transitions_daily", day, SENSOR_TRANSITIONS_DAY2, source_kind="wifi_sensor")
        _day_rows(con, "marts.routes_daily", day, SENSOR_ROUTES_DAY2, source_kind="wifi_sensor")
        _day_rows(con, "marts.circulation_daily", day, [("all", 7777, 7000, 0.9001)], source_kind="wifi_sensor")
        # Wi-Fi: one H3 cell per busy facility, busier at midday; one suppressed cell.
        for index, fid in enumerate(["glover_garden", "dejima", "shinchi_chinatown", "megane_bridge", "nagasaki_station"]):
            lat, lon = float(facilities[fid]["lat"]), float(facilities[fid]["lon"])
            cell = h3.latlng_to_cell(lat, lon, 10)
            clat, clon = h3.cell_to_latlng(cell)
            for hour in range(7, 22):
                connections = int((60 + 25 * index) * scale * (1.5 - abs(hour - 13) / 10))
                con.execute(
                    "insert into marts.wifi_h3_hourly values (?, ?, ?, ?, ?, ?, false)",
                    [day, cell, hour, clat, clon, connections],
                )
        quiet = h3.latlng_to_cell(float(facilities["peace_park"]["lat"]), float(facilities["peace_park"]["lon"]), 10)
        con.execute("insert into marts.wifi_h3_hourly values (?, ?, 3, 32.77, 129.86, null, true)", [day, quiet])
        for hour, entries in ((10, 60), (11, 5)):
            _insert(
                con,
                "marts.facility_entries_hourly",
                service_date=day,
                facility_id="glover_garden",
                hour_of_day=hour,
                entries=entries if entries >= K else None,
                visitors=entries if entries >= K else None,
                is_suppressed=entries < K,
                suppression="primary" if entries < K else None,
            )
        for hour in (9, 12):
            _insert(
                con,
                "marts.wifi_area_hourly",
                service_date=day,
                area_id="dejima_chinatown",
                hour_of_day=hour,
                connections=150 + hour,
                is_suppressed=False,
            )
        _insert(
            con,
            "marts.wifi_area_hourly",
            service_date=day,
            area_id="inasayama",
            hour_of_day=3,
            connections=None,
            is_suppressed=True,
        )
    for fid, entries, visitors in FACILITY_WEEK_BEFORE:
        _facility_day(con, WEEK_BEFORE, fid, entries, visitors)
    _day_rows(con, "marts.circulation_daily", WEEK_BEFORE, CIRCULATION_WEEK_BEFORE)
    for row in SATISFACTION:
        con.execute("insert into marts.survey_satisfaction_daily values (?, ?, ?, ?, ?, ?)", [*row, row[2] is None])
    fill_indicator(con)
    last_night = datetime(2025, 11, 24, 2, 10)
    earlier = datetime(2025, 11, 23, 2, 5)
    loads = [
        ("entry_pos_a", DAY2, "glover_garden.csv", 900, 900, 0, "loaded", last_night),
        ("entry_pos_a", DAY2, "dejima.csv", 700, 700, 0, "loaded", last_night),
        ("entry_pos_b", DAY2, "oura_cathedral.csv", 520, 517, 3, "loaded", last_night),
        ("wifi_vendor_a", DAY2, "2025-11-23.json", 4000, 4000, 0, "loaded", last_night),
        ("survey_web", DAY1, "2025-11-22.csv", 40, 40, 0, "loaded", earlier),
    ]
    for source, day, name, read, loaded, quarantined, outcome, at in loads:
        con.execute(
            "insert into ops.load_log values (?, ?, ?, 1000, 'sha', ?, ?, ?, ?, null, ?)",
            [source, day, name, read, loaded, quarantined, outcome, at],
        )


def fill_indicator(con: duckdb.DuckDBPyConnection) -> None:
    for row in INDICATOR:
        values = dict(zip(INDICATOR_COLUMNS, row, strict=True))
        _insert(
            con,
            "marts.info_satisfaction_indicator",
            **values,
            effective_n=values["respondents"],
            weighted=False,
            baseline_share=BASELINE.get(values["segment"]),
            target_share=TARGET.get(values["segment"]),
        )
    _insert(
        con,
        "marts.info_satisfaction_drivers",
        period_type="fiscal_year",
        period_start=date(2025, 4, 1),
        period="FY2025",
        segment="domestic",
        driver_type="info_source",
        driver_value="sns",
        respondents=200,
        satisfied=140,
        share=0.7,
        ci_low=0.63,
        ci_high=0.76,
        effective_n=200,
        weighted=False,
        too_few_answers=False,
        gap_vs_segment=0.08,
        largest_gap=True,
    )


def make_settings(tmp: Path) -> Settings:
    """Settings writing into tmp; the colleague's real geo/ layers give the page its context."""
    return Settings(data_dir=tmp / "data", dashboards_dir=tmp / "dashboards", geo_dir=PROJECT_ROOT / "geo")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    tmp = tmp_path_factory.mktemp("dash")
    settings = make_settings(tmp)
    con = create_warehouse(tmp / "warehouse.duckdb")
    fill_sample_marts(con)
    index = build_dashboards(con, settings)
    con.close()
    return settings, index


def daily_html(settings: Settings, day: date = DAY2) -> str:
    return (settings.dashboards_dir / "daily" / f"{day.isoformat()}.html").read_text(encoding="utf-8")


def json_decoded(page: str) -> str:
    """The page with folium's JSON \\uXXXX escapes decoded, to search JS option strings."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda match: chr(int(match.group(1), 16)), page)


# ------------------------------------------------------------------ HTML


def test_pages_written_atomically(built: tuple[Settings, Path]) -> None:
    settings, index = built
    assert index == settings.dashboards_dir / "index.html"
    for day in (WEEK_BEFORE, DAY1, DAY2):
        assert (settings.dashboards_dir / "daily" / f"{day.isoformat()}.html").is_file()
    leftovers = [p.name for p in settings.dashboards_dir.rglob("*.tmp")]
    assert leftovers == []


def test_daily_page_shows_expected_values(built: tuple[Settings, Path]) -> None:
    settings, _ = built
    page = daily_html(settings)
    assert '<html lang="ja" data-lang="ja">' in page
    assert "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png" in page
    options = json_decoded(page)
    assert '<a href=\\"https://maps.gsi.go.jp/development/ichiran.html\\">地理院タイル</a>' in options
    assert '&copy; <a href=\\"https://www.openstreetmap.org/copyright\\">OpenStreetMap</a> contributors' in options
    assert "TDHeatmap" in page and "L.heatLayer" in page
    assert "グラバー園" in page and "Glover Garden" in page
    assert "秘匿 / suppressed (&lt;10)" in page  # confucius_shrine
    for route in ("グラバー園 → 大浦天主堂 → 出島", "Glover Garden → Oura Cathedral (Oura Church) → Dejima"):
        assert route in page
    assert "72.0%" in page and "80.0%" in page and "75.0%" in page  # satisfaction
    assert "60.0%" in page and "71.4%" in page  # circulation
    assert "52.0%" in page  # top next destination of Glover Garden in its popup
    assert "長崎港（模式図）" in options or not (settings.geo_dir / "outline.geojson").exists()
    assert find_remote_assets(page) == []
    assert "../assets/leaflet/leaflet.js" in page


def test_suppressed_flow_and_route_not_drawn(built: tuple[Settings, Path]) -> None:
    page = daily_html(built[0])
    assert page.count('"className": "flow-line') == len(DRAWN_FLOWS) + 1  # + the Wi-Fi sensor edge
    assert "出島 → 長崎孔子廟" not in page and "Dejima → Nagasaki Confucius Shrine" not in page
    assert "大浦天主堂 → 長崎孔子廟" not in page  # the suppressed route
    assert "flow-line flow-lt-50 flow-lt-100" in page  # the 12-visitor flow hides under ≥50


def test_data_derived_text_is_escaped(built: tuple[Settings, Path]) -> None:
    settings, index = built
    pages = [daily_html(settings, DAY1), daily_html(settings, DAY2), index.read_text(encoding="utf-8")]
    for page in pages:
        assert "<script>alert(1)</script>" not in page
        assert "{{7*7}}" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[1]
    assert "&#123;&#123;7*7&#125;&#125;" in pages[1]  # not evaluated by branca's Jinja pass
    assert "Dutch Slope 49" not in pages[1]


def test_daily_pages_count_facilities_by_card_taps_only(built: tuple[Settings, Path]) -> None:
    """Wi-Fi sensor counts of facilities and circulation are exported, never shown next to card taps."""
    page = daily_html(built[0])
    for sensor_value in ("98,765", "98765", "87,654", "90.0%"):
        assert sensor_value not in page


def test_sensor_flows_and_routes_are_drawn_dashed_with_their_kind(built: tuple[Settings, Path]) -> None:
    """Sights without gates appear in flows and routes, each edge saying which kind measured it."""
    page = daily_html(built[0])
    sensor_lines = re.findall(r'\{[^{}]*"className": "flow-line[^"]*flow-sensor"[^{}]*\}', page)
    assert len(sensor_lines) == 1  # the published sensor edge; the suppressed one is not drawn
    assert '"dashArray": "8 6"' in sensor_lines[0] and '"color": "#6741d9"' in sensor_lines[0]
    assert "出島 → 眼鏡橋: 4,321人（85.0%）・計測: Wi-Fiセンサー" in page
    assert "Dejima → Megane Bridge (Spectacles Bridge): 4,321 visitors (85.0%); measured by: Wi-Fi sensors" in page
    assert "計測: カード入場記録" in page and "measured by: card admissions" in page  # card edges say so too
    assert "出島 → 平和公園" not in page and "Dejima → Peace Park" not in page  # suppressed sensor cell
    assert 'id="legend-sensor-flow"' in page and "Wi-Fiセンサー（ゲートのない施設）" in page
    sensor_routes = page[page.index('id="sensor-routes-table"') :]
    sensor_routes = sensor_routes[: sensor_routes.index("</table>")]
    assert "出島 → 眼鏡橋" in sensor_routes and "計測: Wi-Fiセンサー" in sensor_routes
    assert "平和公園" not in sensor_routes


def test_daily_comparison_with_same_weekday_a_week_earlier(built: tuple[Settings, Path]) -> None:
    page = daily_html(built[0])
    block = page[page.index('<section class="comparison" data-kind="previous_week"') :]
    block = block[: block.index("</section>")]
    assert 'data-status="ok"' in block and 'href="2025-11-16.html"' in block
    glover = re.search(r'data-facility-id="glover_garden">(.*?)</tr>', block, re.S).group(1)
    assert "+5.0%" in glover and "+8.6%" in glover  # 420 vs 400, 380 vs 350
    assert "±0.0%" in re.search(r'data-facility-id="oura_cathedral">(.*?)</tr>', block, re.S).group(1)
    megane = re.search(r'data-facility-id="megane_bridge">(.*?)</tr>', block, re.S).group(1)
    assert "−10.0%" in megane and "−15.0%" in megane
    # suppressed a week ago: no change; suppressed now: said so; absent a week ago: no data
    assert re.search(r'data-facility-id="dejima">.*?data-status="reference_suppressed".*?比較不可（秘匿）', block, re.S)
    assert re.search(r'data-facility-id="confucius_shrine">.*?秘匿', block, re.S)
    assert re.search(r'data-facility-id="shinchi_chinatown">.*?data-status="no_data".*?データなし', block, re.S)
    circulation = block[block.index("comparison-circulation") : block.index("comparison-facilities")]
    assert re.search(r'data-segment="all">.*?\+10\.0 pt', circulation, re.S)  # 60 % vs 50 %
    assert re.search(r'data-segment="domestic">.*?±0\.0 pt', circulation, re.S)
    assert re.search(r'data-segment="international">.*?reference_suppressed', circulation, re.S)
    # DAY1's week before has no data at all
    earlier = daily_html(built[0], DAY1)
    assert re.search(r'data-kind="previous_week" data-status="no_data".*?データなし', earlier, re.S)


def test_survey_total_never_gives_back_a_suppressed_segment(built: tuple[Settings, Path]) -> None:
    """DAY1: 26 answers in all, 20 domestic, international suppressed: 26 - 20 would tell it,
    so the mart hides all too, and the page shows what the mart says (never re-derives)."""
    page = daily_html(built[0], DAY1)
    table = page[page.index('id="satisfaction-table"') :]
    table = table[: table.index("</table>")]
    assert re.search(r'data-segment="all">.*?秘匿', table, re.S)
    assert ">26<" not in table and "65.4%" not in table
    assert "60.0%" in table  # domestic stays published


def test_index_lists_days_loads_and_kpi(built: tuple[Settings, Path]) -> None:
    settings, index = built
    page = index.read_text(encoding="utf-8")
    assert page.index("daily/2025-11-23.html") < page.index("daily/2025-11-22.html")  # latest first
    kpi = page[page.index('id="kpi"') : page.index('id="daily-pages"')]
    assert "72.0%" in kpi and "80.0%" in kpi
    loads = page[page.index('id="load-table"') :]
    assert re.search(r'data-source="entry_pos_a".*?<td class="num">2</td>.*?1,600.*?1,600', loads, re.S)
    assert re.search(r'data-source="entry_pos_b" class="load-warning"', loads)  # 3 rows quarantined
    assert re.search(r'data-source="survey_web" class="load-warning".*?昨夜は取り込みなし', loads, re.S)
    assert "data-docs/index.html" not in page
    assert find_remote_assets(page) == []


def test_index_links_data_docs_when_present(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    (settings.dashboards_dir / "data-docs").mkdir(parents=True)
    (settings.dashboards_dir / "data-docs" / "index.html").write_text("<html></html>", encoding="utf-8")
    con = create_warehouse(tmp_path / "w.duckdb")
    fill_sample_marts(con)
    page = build_dashboards(con, settings, service_dates=[DAY2]).read_text(encoding="utf-8")
    assert 'href="data-docs/index.html"' in page
    assert list((settings.dashboards_dir / "daily").glob("*.html")) == [settings.dashboards_dir / "daily" / "2025-11-23.html"]


def test_page_stays_small_on_heavy_input(tmp_path: Path) -> None:
    """Thousands of H3 cells x 24 hours and every facility pair still give a page < 5 MB."""
    settings = make_settings(tmp_path)
    con = create_warehouse(tmp_path / "heavy.duckdb")
    ids = list(real_facilities())
    centre = h3.latlng_to_cell(32.745, 129.873, 10)
    cells = list(h3.grid_disk(centre, 40))  # 4,921 cells, well over MAX_HEAT_CELLS
    assert len(cells) > MAX_HEAT_CELLS
    heat = pd.DataFrame(
        [
            (DAY2, cell, hour, *h3.cell_to_latlng(cell), 10 + (i * 7 + hour * 13) % 500, False)
            for i, cell in enumerate(cells)
            for hour in range(24)
        ],
        columns=["service_date", "h3_cell", "hour_of_day", "lat", "lon", "connections", "is_suppressed"],
    )
    con.register("heat_frame", heat)
    con.execute("insert into marts.wifi_h3_hourly select * from heat_frame")
    pairs = [(a, b) for a in ids for b in ids if a != b]
    assert len(pairs) > MAX_FLOWS
    _day_rows(con, "marts.transitions_daily", DAY2, [(a, b, 20 + n, 15 + n, 0.1, 10) for n, (a, b) in enumerate(pairs)])
    for fid in ids:
        _facility_day(con, DAY2, fid, 500, 400, domestic_visitors=300, international_visitors=90, unknown_visitors=10)
    build_dashboards(con, settings, service_dates=[DAY2])
    size = (settings.dashboards_dir / "daily" / "2025-11-23.html").stat().st_size
    print(f"\nheavy-input page: {size / 1e6:.2f} MB ({len(heat):,} heat rows, {len(pairs)} flows)")
    assert size < MAX_PAGE_BYTES
    page = daily_html(settings)
    assert page.count('"className": "flow-line') == MAX_FLOWS


def test_failed_check_leaves_previous_page(tmp_path: Path) -> None:
    target = tmp_path / "page.html"
    write_page(target, "<html><body>yesterday</body></html>")
    with pytest.raises(RemoteAssetError, match="cdn.example.org"):
        write_page(target, '<html><script src="https://cdn.example.org/x.js"></script></html>')
    assert target.read_text(encoding="utf-8") == "<html><body>yesterday</body></html>"
    assert list(tmp_path.glob("*.tmp")) == []


# ------------------------------------------------------------------ browser


def _assert_clean(visit) -> None:  # type: ignore[no-untyped-def]
    assert visit.unexpected_errors(TILE_HOSTS) == []
    assert visit.blocked_outside(TILE_HOSTS) == []  # only tiles were requested remotely


def test_daily_page_in_offline_browser(built: tuple[Settings, Path], offline_browser: OfflineBrowser) -> None:
    settings, _ = built
    path = settings.dashboards_dir / "daily" / "2025-11-23.html"
    visit = offline_browser.open(path)
    page = visit.page
    _assert_clean(visit)
    print(
        f"\nrender {path.name}: {visit.load_ms:.0f} ms navigation→map ready "
        f"(in-page {visit.ready_ms:.0f} ms), {path.stat().st_size / 1024:.0f} KiB"
    )

    assert page.evaluate("window.flowDashboard.map instanceof L.Map")
    overlays = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    for expected in ("人の流れ", "施設", "Wi-Fi 混雑（時間別）", "Wi-Fi 混雑（終日）"):
        assert any(expected in text for text in overlays), (expected, overlays)
    bases = page.locator(".leaflet-control-layers-base label").all_inner_texts()
    assert any("地理院タイル" in text for text in bases) and any("OpenStreetMap" in text for text in bases)

    assert page.locator("#flow-legend").is_visible()
    assert page.locator(".leaflet-control-timecontrol").first.is_visible()  # hour slider
    rows = page.locator("#routes-table tbody tr")
    assert rows.count() == 3
    assert rows.nth(0).inner_text().split("\t")[-1].strip() == "48"
    assert "グラバー園 → 大浦天主堂 → 出島" in rows.nth(0).inner_text()
    satisfaction = page.locator("#satisfaction-table tr[data-segment='domestic']").inner_text()
    assert "72.0%" in satisfaction and "25" in satisfaction
    assert "80.0%" in page.locator("#satisfaction-table tr[data-segment='international']").inner_text()
    assert "71.4%" in page.locator("#circulation-table tr[data-segment='international']").inner_text()

    assert page.locator("path.flow-line:not(.flow-sensor)").count() == len(DRAWN_FLOWS)
    assert page.locator("path.flow-line.flow-sensor").count() == 1  # the Wi-Fi sensor edge, dashed
    assert page.locator("path.facility-marker").count() == len(FACILITY_DAY2)
    page.select_option("#flow-min-filter", "50")
    assert page.locator("path.flow-line:not(.flow-sensor)").evaluate_all(
        "ls => ls.filter(l => getComputedStyle(l).display !== 'none').length"
    ) == sum(1 for flow in DRAWN_FLOWS if flow[3] >= 50)

    page.select_option("#flow-min-filter", "0")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "daily-2025-11-23-ja.png"))

    # comparison with the same weekday a week earlier, as rendered
    comparison = page.locator(".comparison[data-kind='previous_week']")
    glover = comparison.locator("tr[data-facility-id='glover_garden']")
    assert glover.locator(".entries-change").inner_text() == "+5.0%"
    assert glover.locator(".visitors-change").inner_text() == "+8.6%"
    assert "change-up" in glover.locator(".entries-change .change").get_attribute("class")
    assert comparison.locator("tr[data-facility-id='dejima'] .entries-change").inner_text() == "比較不可（秘匿）"
    assert comparison.locator("tr[data-facility-id='shinchi_chinatown'] .entries-change").inner_text() == "データなし"
    assert "秘匿" in comparison.locator("tr[data-facility-id='confucius_shrine']").inner_text()
    assert comparison.locator(".comparison-circulation tr[data-segment='all'] .change").inner_text() == "+10.0 pt"
    comparison.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "daily-2025-11-23-comparison.png"))

    # Escaped names render as text, never as markup (a running alert(1) would open a dialog).
    page.evaluate(
        "window.flowDashboard.map.eachLayer(l => { if (l.options && l.options.className === 'facility-marker' && l.getPopup && l.getPopup() && l.getPopup().getContent().outerHTML.includes('dutch_slope')) l.openPopup(); })"
    )
    popup = page.locator(".leaflet-popup-content")
    assert "<script>alert(1)</script>オランダ坂" in popup.inner_text()
    assert visit.dialogs == []
    page.screenshot(path=str(ARTIFACTS / "daily-2025-11-23-ja-popup.png"))

    # ja/en toggle
    assert page.locator("#satisfaction-table .lang-ja").first.is_visible()
    page.click("#lang-toggle")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("#satisfaction-table .lang-en").first.is_visible()
    assert not page.locator("#satisfaction-table .lang-ja").first.is_visible()
    assert "Dutch Slope {{7*7}} `${x}`" in popup.inner_text()
    page.screenshot(path=str(ARTIFACTS / "daily-2025-11-23-en.png"))
    _assert_clean(visit)


def test_index_page_in_offline_browser(built: tuple[Settings, Path], offline_browser: OfflineBrowser) -> None:
    _, index = built
    visit = offline_browser.open(index)
    page = visit.page
    _assert_clean(visit)
    assert visit.blocked_urls == []
    links = page.locator("#daily-list a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert links == ["daily/2025-11-23.html", "daily/2025-11-22.html", "daily/2025-11-16.html"]
    assert "72.0%" in page.locator("#kpi .card[data-segment='domestic']").inner_text()
    assert "80.0%" in page.locator("#kpi .card[data-segment='international']").inner_text()
    # the indicator panel: latest month with enough answers (December), its too-few cell as such
    december = page.locator("#kpi .indicator-period[data-period-type='month']")
    assert december.get_attribute("data-period") == "2025-12"
    assert "70.0%" in december.locator(".indicator-row[data-segment='domestic'] .indicator-value").inner_text()
    assert december.locator(".indicator-row[data-segment='international'] .indicator-value").inner_text() == "回答数不足"
    assert "週別ページは" in page.locator("#weekly-pages").inner_text()  # no roll-up in this warehouse
    assert page.locator("#load-table tbody tr").count() == 4
    page.screenshot(path=str(ARTIFACTS / "index.png"), full_page=True)
    page.click("#lang-toggle")
    assert page.locator("#kpi h2 .lang-en").is_visible()
    assert "In-trip information satisfaction" in page.locator("#kpi h2").inner_text()


def test_empty_day_without_geo_files_still_builds(tmp_path: Path, offline_browser: OfflineBrowser) -> None:
    """No marts rows, no load log, no geo/ layers: the page says so instead of breaking."""
    settings = Settings(data_dir=tmp_path / "data", dashboards_dir=tmp_path / "dashboards", geo_dir=tmp_path / "no-geo")
    con = create_warehouse(tmp_path / "empty.duckdb")
    index = build_dashboards(con, settings, service_dates=[DAY2])
    page = daily_html(settings)
    assert "公表できるルートなし" in page and "回答なし" in page and "TDHeatmap(" not in page
    assert "取り込み記録がありません" in index.read_text(encoding="utf-8")
    visit = offline_browser.open(settings.dashboards_dir / "daily" / "2025-11-23.html")
    _assert_clean(visit)
    assert visit.page.locator("#routes-table tbody tr").inner_text().strip() == "公表できるルートなし"


def test_missing_browser_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        browser_unavailable("/usr/bin/chromium is missing")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="install_system_deps"):
        browser_unavailable("/usr/bin/chromium is missing")


def test_reference_layers_are_rounded_simplified_and_escaped(tmp_path: Path) -> None:
    """A detailed outline is shrunk before it is embedded in every daily page."""
    ring = [
        [129.87 + 0.02 * math.cos(2 * math.pi * i / 60_000), 32.74 + 0.02 * math.sin(2 * math.pi * i / 60_000)]
        for i in range(60_000)
    ]
    ring.append(ring[0])
    feature = {
        "type": "Feature",
        "properties": {"name_ja": "<b>港</b>", "name_en": "Port", "kind": "harbour"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    path = tmp_path / "outline.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8")
    layer = load_reference_geojson(path)
    assert layer is not None
    assert len(json.dumps(layer)) <= MAX_GEOJSON_CHARS
    properties = layer["features"][0]["properties"]
    assert properties["kind"] == "harbour" and "&lt;b&gt;港&lt;/b&gt;" in properties["label"]
    first = layer["features"][0]["geometry"]["coordinates"][0][0]
    assert all(len(str(value).split(".")[1]) <= 5 for value in first)
    assert load_reference_geojson(tmp_path / "missing.geojson") is None


def test_temp_files_of_a_killed_run_are_swept_and_a_running_writers_are_kept(tmp_path):
    import os
    import time

    daily = tmp_path / "daily"
    daily.mkdir()
    debris = daily / ".2026-11-03.html.k3j2.tmp"
    in_flight = tmp_path / ".index.html.x81q.tmp"
    page = daily / "2026-11-03.html"
    for path in (debris, in_flight, page):
        path.write_text("x")
    old = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(debris, (old, old))
    os.utime(page, (old, old))
    assert sweep_stale_temp_files(tmp_path) == [debris]
    assert not debris.exists() and in_flight.exists() and page.exists()
    assert sweep_stale_temp_files(tmp_path / "missing") == []


def test_write_page_numbers_folium_element_ids_so_a_page_renders_to_the_same_bytes(tmp_path: Path) -> None:
    import folium

    from flowlib.dashboards.publish import numbered_element_ids

    def render() -> str:
        fmap = folium.Map(location=(32.74, 129.87), zoom_start=13, tiles=None)
        group = folium.FeatureGroup(name="flows").add_to(fmap)
        for lat in (32.74, 32.75):
            folium.CircleMarker((lat, 129.87), radius=4).add_to(group)
        return fmap.get_root().render()

    first, second = render(), render()
    assert first != second  # folium draws new random ids each time
    a, b = numbered_element_ids(first), numbered_element_ids(second)
    assert a == b
    # every element keeps one name: the ids map one to one, in order of first appearance
    ids = re.findall(r"(?<=[a-z]_)[0-9a-f]{32}(?![0-9a-f])", first)
    numbered = re.findall(r"(?<=[a-z]_)[0-9a-f]{32}(?![0-9a-f])", a)
    assert len(ids) == len(numbered) and len(set(ids)) == len(set(numbered)) > 3
    assert dict(zip(ids, numbered)) == {old: f"{rank + 1:032x}" for rank, old in enumerate(dict.fromkeys(ids))}
    # and the page the project writes is the numbered one
    page = f'<div id="map_{"9" * 32}"></div><script>var map_{"9" * 32} = 1;</script>'
    written = write_page(tmp_path / "p.html", page).read_text(encoding="utf-8")
    assert written == f'<div id="map_{1:032x}"></div><script>var map_{1:032x} = 1;</script>'


def test_numbered_ids_leave_other_hex_text_alone() -> None:
    from flowlib.dashboards.publish import numbered_element_ids

    pseudonym, digest = "ab" * 32, "cd" * 16
    page = f"map_{'e' * 32} {pseudonym} sha {digest} map_{'e' * 32}.addTo(x_{'f' * 32})"
    assert numbered_element_ids(page) == f"map_{1:032x} {pseudonym} sha {digest} map_{1:032x}.addTo(x_{2:032x})"
