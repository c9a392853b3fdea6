"""A bad and a late feed through real Airflow: `airflow dags test nightly_flow` on a night
with one corrupted POS file and a Wi-Fi delivery that never came, then
`airflow dags test catchup_flow` once the file is corrected and the delivery arrives.

One generated data set serves three runs: a clean `flowlib run` (the reference), the
partial night and the catch-up. The partial night must build everything else, show the
gaps and end failed; after the catch-up the marts must equal the clean run's.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import airflow_night, mart_names

from flowlib.demo import generate

pytestmark = pytest.mark.e2e
PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIRST, LAST = date(2026, 11, 2), date(2026, 11, 3)
BAD_FILE = f"entry_log/pos_a/{LAST.isoformat()}/dejima.csv"
LATE_FILE = f"wifi/vendor_a/{LAST.isoformat()}.json"


def marts(warehouse: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = mart_names(con)
        return {name: con.execute(f"select * from marts.{name} order by all").fetchall() for name in names}
    finally:
        con.close()


def same_rows(left: list[tuple], right: list[tuple]) -> bool:
    """Equal row by row; a float may differ by one step of its 0.1 rounding (DuckDB sums
    doubles in a thread-dependent order, so a rounded mean can flip at .x5)."""
    if len(left) != len(right):
        return False
    for a, b in zip(left, right):
        for x, y in zip(a, b):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, abs_tol=0.1 + 1e-9):
                    return False
            elif x != y:
                return False
    return True


def entries(all_marts: dict[str, list[tuple]]) -> dict[tuple[date, str], int]:
    """(service day, facility) -> card-tap entries, from facility_daily's rows."""
    return {(row[0], row[2]): row[3] for row in all_marts["facility_daily"] if row[1] == "entry_log"}


def task_states(airflow_db: Path, dag_id: str) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(airflow_db) as meta:
        return {
            task: (state, tries)
            for task, state, tries in meta.execute(
                "select task_id, state, try_number from task_instance where dag_id = ?", [dag_id]
            ).fetchall()
        }


def after(run: subprocess.CompletedProcess, root: Path, data: Path, dag_id: str) -> dict:
    """What a run left: its exit code and output, its task states, the marts and two pages."""
    dashboards = root / "dashboards"
    return {
        "rc": run.returncode,
        "stdout": run.stdout,
        "stderr": run.stderr,
        "states": task_states(root / "airflow" / "airflow.db", dag_id),
        "marts": marts(data / "warehouse.duckdb"),
        "index": (dashboards / "index.html").read_text(encoding="utf-8"),
        "page": (dashboards / "daily" / f"{LAST.isoformat()}.html").read_text(encoding="utf-8"),
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("partial")
    pristine = root / "pristine"
    generate(pristine, FIRST, LAST, seed=7, scale=0.05)
    base_env = {**os.environ, "FLOW_MIN_CELL_COUNT": "1", "FLOW_CATCHUP_LOOKBACK_DAYS": "3650"}
    for name in ("FLOW_LANDING_DIR", "FLOW_WAREHOUSE"):
        base_env.pop(name, None)

    # the reference: every file as delivered, one clean night without Airflow
    clean = root / "clean"
    shutil.copytree(pristine, clean / "landing")
    env = {**base_env, "FLOW_DATA_DIR": str(clean), "FLOW_DASHBOARDS_DIR": str(root / "clean-dashboards")}
    done = subprocess.run(
        [sys.executable, "-m", "flowlib", "run", "--first", FIRST.isoformat(), "--last", LAST.isoformat()],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    # the partial night: one POS file with a damaged header, the Wi-Fi delivery not there
    data = root / "data"
    landing = data / "landing"
    shutil.copytree(pristine, landing)
    damaged = landing / BAD_FILE
    header, _, body = damaged.read_bytes().partition(b"\n")
    damaged.write_bytes(header.replace("券種".encode("cp932"), "券　種".encode("cp932")) + b"\n" + body)
    (landing / LATE_FILE).unlink()
    env = {
        **base_env,
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root / 'airflow' / 'airflow.db'}",
        "FLOW_DATA_DIR": str(data),
        "FLOW_DASHBOARDS_DIR": str(root / "dashboards"),
    }
    night = airflow_night(env, FIRST, LAST, timeout=900)
    after_night = after(night, root, data, "nightly_flow")

    # the producer corrects the file and the Wi-Fi delivery arrives: one catch-up cycle
    shutil.copy2(pristine / BAD_FILE, landing / BAD_FILE)
    shutil.copy2(pristine / LATE_FILE, landing / LATE_FILE)
    catchup = subprocess.run(
        ["bash", "scripts/run_catchup.sh"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    after_catchup = after(catchup, root, data, "catchup_flow")
    return {"pristine": pristine, "clean": marts(clean / "warehouse.duckdb"), "night": after_night, "catchup": after_catchup}


def test_a_corrupted_pos_file_fails_its_task_at_once_the_rest_is_built_and_the_run_ends_failed(runs):
    night = runs["night"]
    assert night["rc"] != 0 and "run finished: failed" in night["stdout"]
    states = night["states"]
    assert states["ingest_entry_pos_a"] == ("failed", 1), states  # no retries for a refused file
    for task in (
        "ingest_entry_pos_b",
        "ingest_survey_web",
        "ingest_wifi_vendor_a",
        "record_deliveries",
        "build_marts",
        "build_data_docs",
        "publish_dashboards",
    ):
        assert states[task][0] == "success", (task, states)
    assert states["check_feeds"][0] == "failed"
    # the first day as in the clean run; on the second, every facility but vendor A's
    vendor_a = {path.stem for path in (runs["pristine"] / "entry_log" / "pos_a" / LAST.isoformat()).glob("*.csv")}
    assert len(vendor_a) >= 3
    night_entries, clean_entries = entries(night["marts"]), entries(runs["clean"])
    assert {k: v for k, v in night_entries.items() if k[0] == FIRST} == {k: v for k, v in clean_entries.items() if k[0] == FIRST}
    assert {k: v for k, v in night_entries.items() if k[0] == LAST} == {
        k: v for k, v in clean_entries.items() if k[0] == LAST and k[1] not in vendor_a
    }


def test_the_pages_show_the_rejected_and_the_late_feed(runs):
    page, index = runs["night"]["page"], runs["night"]["index"]
    rejected = re.search(r'<tr data-source="entry_pos_a" data-day="2026-11-03" data-status="rejected">.*?</tr>', page, re.S)
    assert rejected and f"{BAD_FILE}, line 1: missing column(s) 券種" in rejected.group(0)
    assert '<tr data-source="wifi_vendor_a" data-day="2026-11-03" data-status="late">' in page
    for facility in ("dejima", "glover_garden", "oura_cathedral"):
        assert f'data-scope="facility" data-scope-id="{facility}"' in page
    assert 'data-scope="area"' in page
    freshness = re.search(r'<section id="freshness">.*?</section>', index, re.S).group(0)
    assert re.search(r'data-source="wifi_vendor_a" data-status="late".*?class="last-loaded">2026-11-02<', freshness, re.S)
    assert re.search(r'data-source="entry_pos_b" data-status="loaded".*?class="last-loaded">2026-11-03<', freshness, re.S)


def test_the_catchup_run_rebuilds_the_day_and_its_marts_equal_a_clean_runs(runs):
    done = runs["catchup"]
    assert done["rc"] == 0, done["stdout"][-2000:] + done["stderr"][-2000:]
    assert {task: state for task, (state, _) in done["states"].items()} == {
        task: "success" for task in ("find_work", "reload", "build_marts", "build_data_docs", "republish", "check_feeds")
    }
    assert done["marts"].keys() == runs["clean"].keys()
    different = [name for name in runs["clean"] if not same_rows(done["marts"][name], runs["clean"][name])]
    assert different == []
    assert runs["night"]["marts"]["facility_daily"] != runs["clean"]["facility_daily"]  # the test can fail
    page = done["page"]
    assert 'data-complete="true"' in page and 'data-status="rejected"' not in page
    wifi = re.search(r'<tr data-source="wifi_vendor_a" data-day="2026-11-03" data-status="loaded">.*?</tr>', page, re.S)
    assert wifi and "arrived late" in wifi.group(0)
