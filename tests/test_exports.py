"""Open-data exports: CSV and GeoJSON files a city catalogue can publish as they are.

Built from the hand-made warehouse of tests/test_dashboards.py and the roll-up rows of
tests/test_dashboard_periods.py, plus what must never leak into a file: a facility whose
names start like spreadsheet formulas, and a suppressed row that still carries counts.
The indicator CSVs are placed as the nightly build_marts step leaves them (written by
flowlib.indicator_mart, header taken from its source without importing it: it loads scipy).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import stat
from datetime import date
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from test_dashboard_periods import fill_period_marts
from test_dashboards import DAY1, DAY2, _insert, create_warehouse, fill_sample_marts, make_settings, real_facilities

from flowlib import exports
from flowlib.config import PROJECT_ROOT, Settings
from flowlib.dashboards.publish import check_page
from flowlib.exports import DATASETS, UNDOCUMENTED, write_open_data

FORMULA_ID = "formula_hall"
FORMULA_JA = '=HYPERLINK("http://evil.example/","クリック")'
FORMULA_EN = "+cmd|' /C calc'!A0"
OPEN_DATA_DOC = PROJECT_ROOT / "docs" / "open-data.md"

# The sample warehouses leave the marts below empty; every open-data file must have rows to check.
# Spending of DAY2, planted for a day and a week (the period files leave day rows to the daily files)
SPENDING_ROWS: list[tuple[str, dict[str, object]]] = [
    (
        "marts.spending_by_period",
        {
            "period_start": DAY2,
            "day_type": "all",
            "segment_kind": "all",
            "segment": "all",
            "facility_id": "glover_garden",
            "visitors": 40,
            "visitor_days": 40,
            "admissions": 41,
            "paid_admissions": 40,
            "revenue_jpy": 24800,
            "revenue_per_visitor_day": 620.0,
            "is_suppressed": False,
        },
    ),
    (
        "marts.spending_routes_by_period",
        {
            "period_start": DAY2,
            "day_type": "all",
            "breakdown": "route",
            "facility_id": "all",
            "route": "glover_garden > oura_cathedral",
            "visitors": None,
            "trips": None,
            "revenue_jpy": None,
            "is_suppressed": True,
            "suppression": "primary",
        },
    ),
]
# The week the opportunity model was fitted for: the key of both of its marts
OPPORTUNITY_WEEK = {
    "period_grain": "iso_week",
    "period_start": DAY2,
    "period_label": "2026-W45",
    "source_kind": "entry_log",
    "segment": "all",
}
# One row each, as (mart, row), for the other marts the sample warehouses leave empty
EXPORT_ONLY_ROWS: list[tuple[str, dict[str, object]]] = [
    (
        "marts.all_visitors_facility_daily",
        {
            "service_date": DAY2,
            "facility_id": "glover_garden",
            "cashless_visitors": 40,
            "reported_admissions": 100,
            "cashless_share": 0.4,
            "status": "reported",
            "all_visitors_estimate": 100,
            "is_estimate": False,
            "is_suppressed": False,
        },
    ),
    (
        "marts.all_visitors_flows_daily",
        {
            "service_date": DAY2,
            "measure": "transition",
            "from_facility_id": "glover_garden",
            "to_facility_id": "oura_cathedral",
            "cashless_visitors": 20,
            "share_used": 0.4,
            "all_visitors_estimate": 50,
            "estimate_ci_low": 40,
            "estimate_ci_high": 62,
            "is_estimate": True,
            "status": "estimated",
            "is_suppressed": False,
        },
    ),
    (
        "marts.opportunity_fit",
        OPPORTUNITY_WEEK
        | {
            "status": "fitted",
            "n_facilities": 12,
            "n_pairs": 132,
            "moves": 5000,
            "deviance": 900.0,
            "null_deviance": 9000.0,
            "pseudo_r2": 0.9,
        },
    ),
    (
        "marts.opportunity_pairs",
        OPPORTUNITY_WEEK
        | {
            "from_facility_id": "glover_garden",
            "to_facility_id": "oura_cathedral",
            "walking_minutes": 4.0,
            "observed_moves": 20,
            "expected_moves": 80.0,
            "expected_low": 40.0,
            "expected_high": 130.0,
            "ratio": 0.25,
            "under_connected": True,
            "tier": "under_connected",
            "promote_rank": 1,
            "is_suppressed": False,
        },
    ),
    ("marts.measure_effects", {"measure": "signage", "status": "estimated", "effect": 0.1, "ci_low": 0.0, "ci_high": 0.2}),
    ("marts.measure_series", {"measure": "signage", "service_date": DAY2, "series_group": "treated", "value": 4.2}),
]


def indicator_headers() -> dict[str, list[str]]:
    """The CSV headers flowlib.indicator_mart.export_indicator_csv writes, read from its source."""
    tree = ast.parse((PROJECT_ROOT / "flowlib" / "indicator_mart.py").read_text(encoding="utf-8"))
    found = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in ("indicator_header", "driver_header")
        ):
            found[node.targets[0].id] = [element.value for element in node.value.elts]  # type: ignore[attr-defined]
    return {"info_satisfaction_indicator": found["indicator_header"], "info_satisfaction_drivers": found["driver_header"]}


def place_indicator_csvs(folder: Path) -> None:
    """What build_marts leaves in exports/: UTF-8 BOM CSVs, created 0600 by mkstemp."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, header in indicator_headers().items():
        path = folder / f"{stem}.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(header)
            writer.writerow(["FY2025" if name == "period" else "" for name in header])
        os.chmod(path, 0o600)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path, duckdb.DuckDBPyConnection]:
    tmp = tmp_path_factory.mktemp("exports")
    settings = make_settings(tmp)
    con = create_warehouse(tmp / "warehouse.duckdb")
    fill_sample_marts(con)
    fill_period_marts(con)
    con.execute(
        "insert into ref.facilities values (?, ?, ?, 'dejima_chinatown', 32.744, 129.873, 'low', false)",
        [FORMULA_ID, FORMULA_JA, FORMULA_EN],
    )
    _insert(con, "marts.facility_daily", service_date=DAY2, facility_id=FORMULA_ID, entries=30, visitors=25, is_suppressed=False)
    # a suppressed row that still carries counts: the export blanks them whatever the mart did
    _insert(
        con,
        "marts.facility_daily",
        service_date=DAY1,
        facility_id="hashima",
        entries=7,
        visitors=6,
        domestic_visitors=4,
        is_suppressed=True,
        suppression="primary",
    )
    for grain in ("day", "iso_week"):
        for mart, row in SPENDING_ROWS:
            _insert(con, mart, period_grain=grain, **row)
    for mart, row in EXPORT_ONLY_ROWS:
        _insert(con, mart, **row)
    place_indicator_csvs(settings.dashboards_dir / "exports")
    _forecast_rows(con)
    write_open_data(con, settings)
    yield settings, settings.dashboards_dir / "exports", con
    con.close()


def _forecast_rows(con: duckdb.DuckDBPyConnection) -> None:
    """marts.forecast_daily as flowlib.forecast writes it: one forecast row and one stated reason."""
    from flowlib.forecast import _TABLES

    con.execute(f"create table marts.forecast_daily ({_TABLES['marts.forecast_daily']})")
    con.execute(
        "insert into marts.forecast_daily values (DATE '2026-11-14', 'entry_log', 'dejima', DATE '2026-11-15', 1, "
        "'weekend_holiday', 0, 'forecast', '', '', 812.4, 770, 850, 748, 875, '', '', 'model'), "
        "(DATE '2026-11-14', 'entry_log', 'hashima', DATE '2026-11-15', 1, 'weekend_holiday', 0, "
        "'insufficient_history', '履歴不足', 'insufficient history', null, null, null, null, null, '', '', 'model')"
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def read_geojson(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------ files and catalogue


def test_every_dataset_is_written_and_catalogued(exported) -> None:  # type: ignore[no-untyped-def]
    _, folder, _ = exported
    expected = {f"{d.name}.csv" for d in DATASETS} | {f"{d.name}.geojson" for d in DATASETS if d.geometry}
    expected |= {"info_satisfaction_indicator.csv", "info_satisfaction_drivers.csv", "column_dictionary.csv"}
    written = {p.name for p in folder.iterdir()}
    assert expected | {"catalogue.json", "index.html", "LICENSE.txt"} == written
    catalogue = json.loads((folder / "catalogue.json").read_text(encoding="utf-8"))
    assert {entry["file"] for entry in catalogue["files"]} == expected
    assert catalogue["license"]["id"] == "CC-BY-4.0"
    assert "OpenStreetMap" in catalogue["attribution"][0]["text"] and catalogue["attribution"][0]["license"] == "ODbL 1.0"
    for entry in catalogue["files"]:
        assert entry["rows"] >= 1 and entry["bytes"] > 0 and entry["title_ja"] and entry["title_en"], entry
    licence = (folder / "LICENSE.txt").read_text(encoding="utf-8")
    assert "CC BY 4.0" in licence and "© OpenStreetMap contributors" in licence and "ODbL" in licence
    page = (folder / "index.html").read_text(encoding="utf-8")
    check_page(page, "exports/index.html")  # no remote script or stylesheet
    assert "CC BY 4.0" in page and "OpenStreetMap contributors" in page
    assert '<a href="facility_daily.csv">' in page


def test_files_are_world_readable(exported) -> None:  # type: ignore[no-untyped-def]
    """nginx serves the folder as another user; build_marts' indicator CSVs come 0600."""
    _, folder, _ = exported
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path.name


def test_csv_format_matches_the_indicator_csvs(exported) -> None:  # type: ignore[no-untyped-def]
    _, folder, _ = exported
    for path in folder.glob("*.csv"):
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf"), path.name  # UTF-8 with BOM, as the indicator CSVs
        assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b""), path.name  # CRLF only
    rows = read_csv(folder / "facility_daily.csv")
    glover = next(
        r
        for r in rows
        if r["facility_id"] == "glover_garden" and r["service_date"] == DAY2.isoformat() and r["source_kind"] == "entry_log"
    )
    assert glover["entries"] == "420" and glover["is_suppressed"] == "FALSE" and glover["suppression"] == ""


def test_suppressed_cells_stay_marked_with_counts_empty(exported) -> None:  # type: ignore[no-untyped-def]
    _, folder, _ = exported
    facility = read_csv(folder / "facility_daily.csv")
    for row in facility:
        if row["facility_id"] in ("confucius_shrine", "hashima"):
            assert row["is_suppressed"] == "TRUE" and row["suppression"] == "primary"
            assert all(row[c] == "" for c in ("entries", "visitors", "domestic_visitors", "international_visitors")), row
    assert any(r["facility_id"] == "hashima" for r in facility)  # the row stays, marked
    transitions = read_csv(folder / "transitions_daily.csv")
    hidden = [r for r in transitions if r["to_facility_id"] == "confucius_shrine"]
    assert hidden and all(r["is_suppressed"] == "TRUE" and r["visitors"] == "" and r["next_probability"] == "" for r in hidden)
    routes = read_csv(folder / "routes_daily.csv")
    assert any(r["is_suppressed"] == "TRUE" and r["visitors"] == "" and r["route_rank"] == "" for r in routes)
    # roll-ups: suppressed and partial (period total withheld, distinct visitors kept)
    visits = read_csv(folder / "facility_visits_by_period.csv")
    confucius = next(r for r in visits if r["period_label"] == "2025-W47" and r["facility_id"] == "confucius_shrine")
    assert confucius["is_suppressed"] == "TRUE" and confucius["entries"] == confucius["visitors"] == ""
    oura = next(
        r
        for r in visits
        if r["period_label"] == "2025-W47" and r["facility_id"] == "oura_cathedral" and r["segment_kind"] == "all"
    )
    assert (oura["is_suppressed"], oura["suppression"], oura["entries"], oura["visitors"]) == ("FALSE", "partial", "", "500")
    area = read_csv(folder / "wifi_area_hourly.csv")
    assert any(r["is_suppressed"] == "TRUE" and r["connections"] == "" for r in area)


def test_formula_cells_are_neutralised(exported) -> None:  # type: ignore[no-untyped-def]
    _, folder, _ = exported
    facility = next(r for r in read_csv(folder / "facilities.csv") if r["facility_id"] == FORMULA_ID)
    assert facility["name_ja"] == "'" + FORMULA_JA and facility["name_en"] == "'" + FORMULA_EN
    assert facility["lat"] == "32.744"  # numbers stay numbers
    raw = (folder / "facilities.csv").read_bytes().decode("utf-8-sig")
    assert "\n=" not in raw and ",=" not in raw and ",+" not in raw and ',"=' not in raw
    feature = next(
        f for f in read_geojson(folder / "facilities.geojson")["features"] if f["properties"]["facility_id"] == FORMULA_ID
    )
    assert feature["properties"]["name_ja"] == "'" + FORMULA_JA
    for cell, expected in (("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("a=b", "a=b"), (-1, "-1")):
        assert exports.csv_cell(cell) == expected


def test_period_files_leave_day_rows_to_the_daily_files(exported) -> None:  # type: ignore[no-untyped-def]
    _, folder, _ = exported
    for name in ("facility_visits_by_period", "transitions_by_period", "routes_by_period", "circulation_by_period"):
        grains = {r["period_grain"] for r in read_csv(folder / f"{name}.csv")}
        assert "day" not in grains and "iso_week" in grains, name
    assert {"month"} <= {r["period_grain"] for r in read_csv(folder / "facility_visits_by_period.csv")}


def test_geojson_points_and_flows(exported) -> None:  # type: ignore[no-untyped-def]
    _, folder, _ = exported
    facilities = real_facilities()
    points = read_geojson(folder / "facilities.geojson")
    assert points["type"] == "FeatureCollection" and points["license"] == "CC-BY-4.0"
    assert "OpenStreetMap contributors" in points["attribution"]
    glover = next(f for f in points["features"] if f["properties"]["facility_id"] == "glover_garden")
    assert glover["geometry"] == {
        "type": "Point",
        "coordinates": [round(float(facilities["glover_garden"]["lon"]), 6), round(float(facilities["glover_garden"]["lat"]), 6)],
    }
    daily = read_geojson(folder / "facility_daily.geojson")["features"]
    confucius = next(f for f in daily if f["properties"]["facility_id"] == "confucius_shrine")
    assert confucius["properties"]["is_suppressed"] is True and confucius["properties"]["entries"] is None
    assert confucius["geometry"]["type"] == "Point"
    flows = read_geojson(folder / "transitions_daily.geojson")["features"]
    move = next(
        f
        for f in flows
        if f["properties"]["from_facility_id"] == "glover_garden"
        and f["properties"]["to_facility_id"] == "oura_cathedral"
        and f["properties"]["service_date"] == DAY2.isoformat()
    )
    assert move["geometry"]["type"] == "LineString"
    assert move["geometry"]["coordinates"][0] == glover["geometry"]["coordinates"]
    assert move["properties"]["visitors"] == 120 and move["properties"]["is_suppressed"] is False
    hidden = next(f for f in flows if f["properties"]["to_facility_id"] == "confucius_shrine")
    assert hidden["properties"]["visitors"] is None and hidden["properties"]["is_suppressed"] is True
    by_period = read_geojson(folder / "facility_visits_by_period.geojson")["features"]
    assert by_period and all(
        f["properties"]["day_type"] == "all"
        and f["properties"]["segment_kind"] == "all"
        and f["properties"]["hour_of_day"] is None
        for f in by_period
    )
    assert {f["properties"]["period_grain"] for f in by_period} == {"iso_week", "month"}
    period_flows = read_geojson(folder / "transitions_by_period.geojson")["features"]
    assert {f["geometry"]["type"] for f in period_flows if f["geometry"]} == {"LineString"}


def test_column_dictionary_covers_every_column(exported) -> None:  # type: ignore[no-untyped-def]
    _, folder, _ = exported
    dictionary = read_csv(folder / "column_dictionary.csv")
    documented = {(r["file"], r["column"]): r for r in dictionary}
    for row in dictionary:
        assert row["description_ja"] and row["description_en"] and row["description_ja"] != UNDOCUMENTED[2], row
    for path in folder.glob("*.csv"):
        if path.name == "column_dictionary.csv":
            continue
        header = next(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
        assert [c for c in header if (path.name, c) not in documented] == [], path.name
    for path in folder.glob("*.geojson"):
        properties = read_geojson(path)["features"][0]["properties"]
        assert [c for c in properties if (path.name, c) not in documented] == [], path.name
        assert (path.name, "geometry") in documented
    for stem, header in indicator_headers().items():  # the columns build_marts writes
        assert [c for c in header if exports.column_doc(stem, c) == UNDOCUMENTED] == [], stem
    # docs/open-data.md describes every file and column of the dictionary
    doc = OPEN_DATA_DOC.read_text(encoding="utf-8")
    missing = [
        f"{file}:{column}"
        for file, column in documented
        if f"`{file}`" not in doc or f"| `{column}` |" not in doc.split(f"`{file}`", 1)[-1]
    ]
    assert missing == []


def test_rewrite_is_atomic_and_leaves_unchanged_files_alone(exported, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    settings, folder, con = exported
    path = folder / "facility_daily.csv"
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    write_open_data(con, settings)
    assert path.stat().st_mtime_ns == mtime and path.read_bytes() == before  # same content: not rewritten
    assert list(folder.glob(".*.tmp")) == []

    real = exports._text_cell  # what writes a text column's cells

    def failing(value):  # type: ignore[no-untyped-def]
        if value == "megane_bridge":
            raise OSError("disk full")
        return real(value)

    _insert(
        con,
        "marts.facility_daily",
        service_date=date(2025, 11, 24),
        facility_id="megane_bridge",
        entries=1,
        visitors=1,
        is_suppressed=True,
    )
    monkeypatch.setattr(exports, "_text_cell", failing)
    with pytest.raises(OSError, match="disk full"):
        write_open_data(con, settings)
    assert path.read_bytes() == before  # the published file is the previous one, whole
    assert list(folder.glob(".*.tmp")) == []
    con.execute("delete from marts.facility_daily where service_date = date '2025-11-24'")


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["VARCHAR", "DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "HUGEINT", "DATE", "BOOLEAN"]).flatmap(
        lambda kind: st.tuples(
            st.just(kind),
            st.lists(
                st.none()
                | {
                    # half of them start as a formula would
                    "VARCHAR": st.tuples(
                        st.sampled_from(["", "", "", *exports.FORMULA_PREFIXES]),
                        st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
                    ).map("".join),
                    "DOUBLE": st.floats(allow_nan=True, allow_infinity=True),
                    "FLOAT": st.floats(width=32, allow_nan=True, allow_infinity=True),
                    "BIGINT": st.integers(-(2**63), 2**63 - 1),
                    "INTEGER": st.integers(-(2**31), 2**31 - 1),
                    "SMALLINT": st.integers(-(2**15), 2**15 - 1),
                    "HUGEINT": st.integers(-(2**127), 2**127 - 1),
                    "DATE": st.dates(),
                    "BOOLEAN": st.booleans(),
                }[kind],
                max_size=20,
            ),
        )
    )
)
def test_cells_converted_by_column_type_write_what_csv_cell_writes(typed) -> None:  # type: ignore[no-untyped-def]
    """The open data are written with one conversion per column type (ints and dates as they
    come, text and floats by a narrow helper); each file must be byte for byte what calling
    csv_cell on every cell writes."""
    kind, values = typed
    rows = [[value, "x", value] for value in values]
    converters = exports._cell_converters([kind, "VARCHAR", kind])
    fast, careful = io.StringIO(), io.StringIO()
    for row in rows:
        converted = list(row)
        for index, convert in converters:
            converted[index] = convert(converted[index])
        csv.writer(fast, lineterminator="\r\n").writerow(converted)
        csv.writer(careful, lineterminator="\r\n").writerow([exports.csv_cell(v) for v in row])
    assert fast.getvalue() == careful.getvalue()
