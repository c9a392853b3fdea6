"""End to end through real Airflow: `airflow dags test nightly_flow` on a small generated
data set, against a freshly migrated metadata DB; then the marts and pages must hold the
generator's ground truth."""

from __future__ import annotations

import os
import sqlite3
from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import airflow_night

from flowlib.demo import GroundTruth, generate

pytestmark = pytest.mark.e2e
FIRST, LAST = date(2026, 11, 2), date(2026, 11, 3)  # a Monday and the Culture Day holiday


@pytest.fixture(scope="module")
def nightly_run(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("e2e")
    data_dir = root / "data"
    truth = generate(data_dir / "landing", FIRST, LAST, seed=7, scale=0.05)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root / 'airflow' / 'airflow.db'}",
        "FLOW_DATA_DIR": str(data_dir),
        "FLOW_DASHBOARDS_DIR": str(root / "dashboards"),
        "FLOW_MIN_CELL_COUNT": "1",
    }
    env.pop("FLOW_LANDING_DIR", None)
    env.pop("FLOW_WAREHOUSE", None)
    run = airflow_night(env, FIRST, LAST, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with sqlite3.connect(root / "airflow" / "airflow.db") as meta:
        states = dict(meta.execute("select task_id, state from task_instance where dag_id = 'nightly_flow'").fetchall())
    return {"root": root, "truth": truth, "states": states, "stdout": run.stdout, "warehouse": data_dir / "warehouse.duckdb"}


def test_every_task_succeeded(nightly_run):
    states = nightly_run["states"]
    assert {"service_dates", "prepare_warehouse", "build_marts", "publish_dashboards"} <= set(states)
    assert any(t.startswith("ingest_") for t in states)
    assert set(states.values()) == {"success"}, states
    assert "[nightly]   done    build_marts" in nightly_run["stdout"]


def test_marts_hold_the_generators_ground_truth(nightly_run):
    truth: GroundTruth = nightly_run["truth"]
    con = duckdb.connect(str(nightly_run["warehouse"]), read_only=True)
    try:
        for day, expected in truth.days.items():
            entries = dict(
                con.execute(
                    "select facility_id, entries from marts.facility_daily where service_date = ? and source_kind = 'entry_log'",
                    [day],
                ).fetchall()
            )
            assert entries == {f: n for f, n in expected.entries_per_facility.items() if n}
            transitions = {
                f"{a}>{b}": {"transitions": t, "visitors": v}
                for a, b, t, v in con.execute(
                    "select from_facility_id, to_facility_id, transitions, visitors "
                    "from marts.transitions_daily where service_date = ? and source_kind = 'entry_log'",
                    [day],
                ).fetchall()
            }
            assert transitions == expected.transitions
            circulation = dict(
                con.execute(
                    "select segment, multi_facility_visitors from marts.circulation_daily "
                    "where service_date = ? and not is_suppressed and source_kind = 'entry_log'",
                    [day],
                ).fetchall()
            )
            assert circulation["all"] == expected.multi_facility_visitors["all"]
            routes = dict(
                con.execute(
                    "select route, visitors from marts.routes_daily where service_date = ? and source_kind = 'entry_log'", [day]
                ).fetchall()
            )
            expected_routes = {r.replace(">", " > "): n for r, n in expected.routes.items() if 2 <= r.count(">") + 1 <= 5}
            assert routes == expected_routes
            wifi = con.execute("select sum(connections) from marts.wifi_area_hourly where service_date = ?", [day]).fetchone()[0]
            assert wifi == sum(expected.wifi_connections_per_ap.values())
            quarantined = {
                (f, line)
                for f, line in con.execute(
                    "select file_name, line_number from ops.quarantine where service_date = ?", [day]
                ).fetchall()
            }
            assert {(q["file"], q["line"]) for q in expected.expected_quarantines} <= quarantined
    finally:
        con.close()


def test_dashboards_were_published(nightly_run):
    dashboards = nightly_run["root"] / "dashboards"
    index = (dashboards / "index.html").read_text(encoding="utf-8")
    for day in (FIRST, LAST):
        assert (dashboards / "daily" / f"{day.isoformat()}.html").exists()
        assert day.isoformat() in index


def _raw_card_ids(landing: Path) -> set[str]:
    """Card ids as the POS files carry them, read without the project's parsers."""
    import csv
    import io

    ids: set[str] = set()
    for path in (landing / "entry_log").rglob("*.csv"):
        data = path.read_bytes()
        text = data.decode("utf-8-sig") if "pos_b" in path.parts else data.decode("cp932")
        for row in csv.DictReader(io.StringIO(text)):
            ids.add(row.get("カードID") or row.get("カード番号"))
    return {i for i in ids if i}


def test_no_raw_or_unkeyed_hashed_card_id_leaves_ingest(nightly_run):
    import hashlib

    root: Path = nightly_run["root"]
    card_ids = _raw_card_ids(root / "data" / "landing")
    assert len(card_ids) > 100
    needles = {c.encode() for c in card_ids} | {hashlib.sha256(c.encode()).hexdigest().encode() for c in card_ids}
    places = [
        nightly_run["warehouse"],
        *(root / "airflow").rglob("*"),
        *(root / "dashboards").rglob("*"),
        *(root / "data" / "validation_results").rglob("*"),
    ]
    scanned = 0
    for place in places:
        if place.is_file():
            blob = place.read_bytes()
            scanned += 1
            leaked = [n for n in needles if n in blob]
            assert not leaked, f"{place} holds {len(leaked)} raw or unkeyed-hashed card ids"
    assert scanned > 10
