"""Every DAG imports cleanly, cheaply, and carries the operational settings we rely on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DAG_FILES = sorted((PROJECT_ROOT / "dags").glob("*.py"))
HEAVY_MODULES = ["duckdb", "pandas", "great_expectations", "geopandas", "folium", "h3", "pyarrow"]

PROBE = """
import json, sys, importlib.util
before = set(sys.modules)
spec = importlib.util.spec_from_file_location("dag_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
heavy = [m for m in json.loads(sys.argv[2]) if m in sys.modules and m not in before]
print(json.dumps({"heavy": heavy}))
"""


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {Path(f).stem for f in map(str, DAG_FILES)} <= set(dagbag.dag_ids)


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.stem)
def test_file_name_is_the_dag_id(dagbag, dag_file):
    assert dag_file.stem in dagbag.dag_ids


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.stem)
def test_parsing_does_no_heavy_imports(dag_file):
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(dag_file), json.dumps(HEAVY_MODULES)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1])["heavy"] == []


def test_dags_have_tags_retries_and_failure_callbacks(dagbag):
    for dag in dagbag.dags.values():
        assert dag.tags, dag.dag_id
        assert dag.max_active_runs == 1
        for task in dag.tasks:
            assert task.retries >= 1, task.task_id
            assert task.on_failure_callback, task.task_id


def test_a_backfill_of_any_range_backfill_accepts_gets_every_task(dagbag):
    """A manual run (airflow dags test: make run, make backfill) gets no task whose start_date
    is after its logical date, and Airflow then reports success for a run that did nothing.
    The earliest logical date flowlib.backfill lets through must give every task, and the
    default backfill's weekly runs (logical dates in October 2026) must too."""
    from datetime import date, datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from flowlib.backfill import chunks
    from flowlib.dag_defaults import EARLIEST_LOGICAL_DATE, TIMEZONE

    earliest_run = chunks(EARLIEST_LOGICAL_DATE.date() - timedelta(days=1), EARLIEST_LOGICAL_DATE.date() - timedelta(days=1), 0)
    weekly = chunks(date(2026, 10, 15), date(2026, 11, 14), 7)
    for _, last in earliest_run + weekly:
        logical = datetime.combine(last + timedelta(days=1), time(), ZoneInfo(TIMEZONE))
        for dag in dagbag.dags.values():
            late = [t.task_id for t in dag.tasks if t.start_date is not None and t.start_date > logical]
            assert late == [], f"{dag.dag_id} on {logical}: {late}"


def test_nightly_flow_has_one_ingest_task_per_declared_source(dagbag, settings):
    from flowlib.sources import load_registry

    dag = dagbag.dags["nightly_flow"]
    ingest_tasks = {t.task_id for t in dag.tasks if t.task_id.startswith("ingest_")}
    assert ingest_tasks == {f"ingest_{name}" for name in load_registry(settings)}


def test_every_warehouse_writer_runs_in_the_one_slot_pool(dagbag):
    dag = dagbag.dags["nightly_flow"]
    writers = [
        t
        for t in dag.tasks
        if t.task_id.startswith("ingest_")
        or t.task_id in {"prepare_warehouse", "build_marts", "record_deliveries", "check_feeds", "build_forecast"}
    ]
    assert writers and all(t.pool == "duckdb_writer" for t in writers)
    assert dag.timetable.expression == "0 2 * * *"
    assert str(dag.timetable.timezone) in {"Asia/Tokyo", "Timezone('Asia/Tokyo')"}


def test_a_bad_feed_never_blanks_the_night(dagbag):
    from airflow.sdk import TriggerRule

    dag = dagbag.dags["nightly_flow"]
    gate = dag.get_task("record_deliveries")
    assert gate.trigger_rule == TriggerRule.ALL_DONE
    assert {t.task_id for t in dag.tasks if t.task_id.startswith("ingest_")} <= gate.upstream_task_ids
    # built from what loaded, behind the gate; the run still ends failed through check_feeds
    assert "record_deliveries" in dag.get_task("build_marts").upstream_task_ids
    assert dag.get_task("build_marts").trigger_rule == TriggerRule.ALL_SUCCESS
    check = dag.get_task("check_feeds")
    assert check.trigger_rule == TriggerRule.ALL_SUCCESS and "publish_dashboards" in check.upstream_task_ids
    assert not check.downstream_task_ids


def test_catchup_flow_is_short_and_uses_the_writer_pool(dagbag):
    dag = dagbag.dags["catchup_flow"]
    assert dag.timetable.expression == "15,45 * * * *"
    assert dag.catchup is False
    writers = [t for t in dag.tasks if t.task_id in {"find_work", "reload", "build_marts", "check_feeds"}]
    assert len(writers) == 4 and all(t.pool == "duckdb_writer" for t in writers)
    assert dag.get_task("find_work").downstream_task_ids == {"reload"}
    nightly = dagbag.dags["nightly_flow"]
    for task_id, nightly_task_id in (("build_marts", "build_marts"), ("republish", "publish_dashboards")):
        assert dag.get_task(task_id).outlets == nightly.get_task(nightly_task_id).outlets
