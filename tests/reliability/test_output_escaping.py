"""Hostile text on its way out: HTML pages and CSV exports.

- ``flowlib.dashboards.publish.esc`` (what popups, tooltips and labels go through) leaves
  nothing live for HTML, for folium's JS template literals or for branca's Jinja pass;
- a daily page rendered with hostile facility names and ids carries no live markup, no
  evaluated template and nothing unescaped inside a <script> block;
- survey free text (which may hold anything, see the corpus) is never rendered at all;
- every text cell that a spreadsheet would run as a formula (= + - @ tab CR) is
  neutralised: in ``flowlib.indicator_mart.export_indicator_csv`` (hostile rows written
  into its marts) and in the open-data folder ``flowlib.exports`` writes (every CSV cell
  and GeoJSON string of a real run, and ``csv_cell`` for any text).
"""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from tree_strings import strings

from bench.reliability.harness import PROJECT_ROOT
from flowlib.dashboards.page_data import DayData, Facility, FacilityDay, Flow, HeatSeries, Route, SegmentShare
from flowlib.dashboards.publish import esc

#: Evaluates to 1337 if any template engine ever runs it.
TEMPLATE_PROBES = ("{{ 7*191 }}", "{% print(7*191) %}", "${7*191}", "#{7*191}")
HOSTILE_NAMES = (
    "<script>alert('name')</script>",
    '"><img src=x onerror=alert(1)>',
    "`); alert(1); (`",
    "</textarea><svg/onload=alert(1)>",
    "\\`${alert(1)}",
    *TEMPLATE_PROBES,
)
LIVE_IN_SCRIPT = ("<script>alert", "<img src=x", "${7*191}", "${alert", "<svg/onload", "`); alert")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@hsettings(max_examples=300, deadline=None)
@given(st.text())
def test_esc_leaves_nothing_live_and_loses_nothing(text):
    out = esc(text)
    for live in "<>\"'`${}\\":
        assert live not in out
    assert html.unescape(out) == text


def hostile_day() -> DayData:
    name = " ".join(HOSTILE_NAMES)
    located = Facility("dejima", name, name, 32.7437, 129.8733)
    other = Facility("glover_garden", HOSTILE_NAMES[0], HOSTILE_NAMES[1], 32.7339, 129.8694)
    unknown_id = "<img src=x onerror=alert('id')>{{ 7*191 }}"  # a facility id not in ref.facilities
    facilities = {f.facility_id: f for f in (located, other)}
    share = [SegmentShare("all", 120, 60, 0.5, False), SegmentShare("domestic", None, None, None, True)]
    return DayData(
        service_date=date(2026, 11, 3),
        facilities=facilities,
        facility_days=[
            FacilityDay(located, 300, 120, 80, 30, 10, False),
            FacilityDay(other, 200, 90, 60, 20, 10, False),
            FacilityDay(Facility(unknown_id, unknown_id, unknown_id, None, None), None, None, None, None, None, True),
        ],
        flows=[
            Flow("dejima", "glover_garden", 40, 30, 0.5, 25.0, False),
            Flow("glover_garden", "dejima", 20, 15, 0.4, 30.0, False),
        ],
        routes=[Route(1, ("dejima", "glover_garden"), 25), Route(2, ("dejima", unknown_id), 12)],
        suppressed_routes=3,
        circulation=share,
        satisfaction=share,
        heat=HeatSeries(),
    )


@pytest.fixture(scope="module")
def hostile_page() -> str:
    from flowlib.dashboards.daily import NavLink, render_map_page

    return render_map_page(
        hostile_day(),
        k=10,
        geo_dir=PROJECT_ROOT / "geo",
        nav_links=[NavLink("../index.html", "一覧", "All days")],
        assets_url="../assets",
    )


def test_hostile_facility_names_never_become_markup(hostile_page):
    assert "<script>alert(" not in hostile_page
    assert "<img src=x" not in hostile_page
    assert "<svg/onload" not in hostile_page
    assert "</textarea>" not in hostile_page
    # and they are on the page, escaped: nothing was dropped
    assert esc(HOSTILE_NAMES[0]) in hostile_page or html.escape(HOSTILE_NAMES[0]) in hostile_page


def test_no_template_engine_ever_evaluates_a_name(hostile_page):
    # folium names its elements with random 32-digit hex ids (map_<id>, layer_control_<id>_layers),
    # which may contain any digits
    without_element_ids = re.sub(r"[0-9a-f]{32}", "<id>", hostile_page)
    assert "1337" not in without_element_ids


def test_nothing_unescaped_reaches_a_script_block(hostile_page):
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", hostile_page, flags=re.S | re.I)
    assert scripts
    for block in scripts:
        for live in LIVE_IN_SCRIPT:
            assert live not in block, f"{live!r} is live inside a <script> block"


def test_survey_free_text_is_never_published(reference):
    """Free text may carry anything (the corpus loads <script> and formulas into raw);
    no page, data doc or export shows it."""
    planted = ("xss-7732", "=HYPERLINK(", "プライバシー試験")
    published = [p for p in (reference.root / "dashboards").rglob("*") if p.is_file()]
    assert published
    for path in published:
        blob = path.read_bytes()
        for text in planted:
            assert text.encode() not in blob and html.escape(text).encode() not in blob, f"{path} shows {text!r}"


HOSTILE_CELLS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1", '=HYPERLINK("http://x")']


#: One plausible segment share, the same in both indicator marts (only the text cells are hostile).
SHARE = {
    "respondents": 40,
    "satisfied": 25,
    "share": 0.625,
    "ci_low": 0.5,
    "ci_high": 0.7,
    "effective_n": 40.0,
    "weighted": False,
    "too_few_answers": False,
}


def _write_indicator_tables(con, texts: list[str]) -> None:
    from flowlib.indicator import DRIVER_MART_TYPES, INDICATOR_MART_TYPES
    from flowlib.indicator_mart import DRIVERS_TABLE, INDICATOR_TABLE, _replace_table
    from flowlib.warehouse import transaction

    indicator = pd.DataFrame(
        [
            {
                "period_type": "month",
                "period_start": date(2026, 11, 1),
                "period_label": text,
                "segment": text,
                **SHARE,
                "baseline_share": 0.531,
                "target_share": 0.743,
                "progress_to_target": -0.25,
                "change_vs_baseline_p_value": 0.2,
                "change_significant": False,
                "period_end": date(2026, 11, 30),
                "months_with_answers": 1,
            }
            for text in texts
        ]
    )
    drivers = pd.DataFrame(
        [
            {
                "period_type": "fiscal_year",
                "period_start": date(2026, 4, 1),
                "period": text,
                "segment": "all",
                "driver_type": "info_source",
                "driver_value": text,
                **SHARE,
                "gap_vs_segment": -0.032,
                "largest_gap": False,
            }
            for text in texts
        ]
    )
    con.execute("create schema if not exists marts")
    with transaction(con):
        _replace_table(con, INDICATOR_TABLE, INDICATOR_MART_TYPES, indicator[list(INDICATOR_MART_TYPES)])
        _replace_table(con, DRIVERS_TABLE, DRIVER_MART_TYPES, drivers[list(DRIVER_MART_TYPES)])


def test_csv_export_neutralises_every_formula_cell(tmp_path):
    import duckdb

    from flowlib.indicator_mart import export_indicator_csv

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        _write_indicator_tables(con, HOSTILE_CELLS)
        files = export_indicator_csv(con, tmp_path / "exports")
    finally:
        con.close()
    seen = 0
    for path in files:
        rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
        for row in rows[1:]:
            for cell in row:
                if cell.startswith(FORMULA_START):
                    float(cell)  # only a plain negative number may start with '-'
                if cell.startswith("'") and cell[1:] in HOSTILE_CELLS:
                    seen += 1
    assert seen >= 2 * len(HOSTILE_CELLS), "the hostile text did not reach the export, so nothing was tested"


@hsettings(max_examples=300, deadline=None)
@given(st.text())
def test_neutralise_cell_disarms_any_text_and_keeps_it_readable(text):
    from flowlib.indicator_mart import _cell_text

    cell = _cell_text(text)
    assert not cell.startswith(FORMULA_START)
    assert cell == text or cell == "'" + text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_every_open_data_cell_is_disarmed(reference):
    """Every CSV cell and GeoJSON string property the night published (dashboards/exports)."""
    import json

    folder = reference.root / "dashboards" / "exports"
    csvs, geojsons = sorted(folder.glob("*.csv")), sorted(folder.glob("*.geojson"))
    assert len(csvs) >= 5, "no open-data export found: nothing was checked"
    for path in csvs:
        for row in csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")):
            for cell in row:
                assert not cell.startswith(FORMULA_START) or _is_number(cell), f"{path.name}: {cell!r}"
    for path in geojsons:
        for feature in json.loads(path.read_text(encoding="utf-8")).get("features", []):
            for text in strings(feature.get("properties", {})):
                assert not text.startswith(FORMULA_START) or _is_number(text), f"{path.name}: {text!r}"


@hsettings(max_examples=300, deadline=None)
@given(st.text())
def test_open_data_csv_cell_disarms_any_text(text):
    from flowlib.exports import csv_cell

    cell = csv_cell(text)
    assert not cell.startswith(FORMULA_START)
    assert cell in (text, "'" + text)
