"""Two writers at once never show a DuckDB lock error to the user.

CLI path: two ``python -m flowlib ingest <source>`` processes of different sources start
together while this test holds the warehouse's write lock, so both must meet it (checked
from their logs, not assumed); they wait with backoff (flowlib.warehouse.connect), both
succeed, and the warehouse holds exactly what an uninterrupted run loads for them. A third
process with FLOW_LOCK_TIMEOUT_SECONDS=1 shows what the user sees when the wait runs out:
one sentence, exit code 2, no traceback.

Airflow path: every task that opens the warehouse for writing runs in the pool
``duckdb_writer``, and scripts/airflow_setup.sh leaves that pool with exactly 1 slot
(no scheduler is started; tests/test_distributed.py covers the distributed run).
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from bench.reliability.harness import DEMO_DATES, LOCK_ERRORS, PROJECT_ROOT, clone, partitions, run_contention


@pytest.fixture(scope="module")
def contended(dataset, tmp_path_factory) -> dict:
    return run_contention(clone(dataset, tmp_path_factory.mktemp("concurrent")))


def test_both_writers_met_the_lock_and_waited(contended):
    assert contended["both_waited"], {k: v[-1500:] for k, v in contended["logs"].items()}


def test_both_loads_succeed_without_a_lock_error(contended):
    for name in ("entry_pos_a", "survey_web"):
        assert contended["codes"][name] == 0, contended["logs"][name][-3000:]
        for marker in LOCK_ERRORS:
            assert marker not in contended["logs"][name], f"{name} showed {marker!r}"


def test_both_loads_are_complete(contended, reference):
    got = partitions(contended["root"] / "data" / "warehouse.duckdb")
    for key in [
        ("raw.entry_log", "entry_pos_a", DEMO_DATES[0]),
        ("raw.survey_response", "survey_web", DEMO_DATES[0]),
        ("ops.quarantine", "entry_pos_a", DEMO_DATES[0]),
        ("ops.quarantine", "survey_web", DEMO_DATES[0]),
    ]:
        assert got.get(key) == reference.partitions[key], key


def test_a_wait_that_runs_out_is_one_sentence_not_a_traceback(contended):
    log = contended["logs"]["impatient"]
    assert contended["codes"]["impatient"] == 2, log[-2000:]
    assert re.search(r"error: The warehouse .* stayed locked by another process for 1 s", log), log[-2000:]
    for marker in LOCK_ERRORS:
        assert marker not in log


# --------------------------------------------------------------------------- Airflow path


def _writes_warehouse(function) -> bool:
    """True when a flowlib.pipeline step opens the warehouse for writing (directly or by
    loading a partition); read-only steps use reader()."""
    source = inspect.getsource(function)
    return "writer(" in source or "ingest_partition(" in source


def test_every_writer_task_of_the_dag_is_in_the_one_slot_pool():
    from airflow.dag_processing.dagbag import DagBag

    from flowlib import pipeline

    dagbag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert dagbag.import_errors == {}
    checked = 0
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            callable_source = inspect.getsource(task.python_callable) if hasattr(task, "python_callable") else ""
            steps = re.findall(r"from flowlib\.pipeline import (\w+)", callable_source)
            writes = any(_writes_warehouse(getattr(pipeline, step)) for step in steps)
            if writes:
                checked += 1
                assert task.pool == "duckdb_writer", f"{dag.dag_id}.{task.task_id} writes the warehouse outside the pool"
                assert task.pool_slots == 1, task.task_id
    assert checked >= 4, "no warehouse writer found: the check would pass vacuously"


def _copy_metadata_db(source: Path, target: Path) -> None:
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def test_airflow_setup_leaves_the_pool_with_exactly_one_slot(tmp_path):
    home = tmp_path / "airflow"
    home.mkdir()
    db = home / "airflow.db"
    project_home = PROJECT_ROOT / ".airflow"
    stamps = list(project_home.glob(".migrated-*")) if (project_home / "airflow.db").exists() else []
    if stamps:
        # Reuse the project's migrated metadata DB (a consistent copy) to skip `airflow db migrate`,
        # then break the pool so the script has to fix it.
        _copy_metadata_db(project_home / "airflow.db", db)
        shutil.copy2(stamps[0], home / stamps[0].name)
        with sqlite3.connect(db) as con:
            con.execute("update slot_pool set slots = 5 where pool = 'duckdb_writer'")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "FLOW_"))}
    env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}"})
    setup = subprocess.run(
        ["bash", "scripts/airflow_setup.sh"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]
    with sqlite3.connect(db) as con:
        pools = dict(con.execute("select pool, slots from slot_pool").fetchall())
    assert pools.get("duckdb_writer") == 1, pools
