"""nightly_flow on a real distributed Airflow 3 stack: CeleryExecutor, PostgreSQL, Redis.

No Docker: the processes of docker-compose.yml run natively (tests/distributed_stack.py,
docs/deployment.md). Two DAG runs, one per service day, go through the scheduler, Redis
and two Celery workers; every task must succeed on one of the two workers, and the marts
must equal those of the single-process `python -m flowlib run` on the same landing files.

One stack and one pair of runs serve the three tests (a module fixture, ~2-5 minutes on a
2-core machine). Skipped with a reason when PostgreSQL or Redis is not reachable; under
CI=true it fails instead.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import mart_names, require
from distributed_stack import (
    PROJECT_ROOT,
    AirflowStack,
    celery_executor_problem,
    clean_environment,
    postgres_problem,
    python_path,
    redis_problem,
    start_celery_executor_probe,
    tail,
)

from flowlib.sources import load_registry

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(900)]

DAG_ID = "nightly_flow"
SERVICE_DAYS = (date(2026, 11, 10), date(2026, 11, 11))
DEMO_SCALE = 0.05
RUN_TIMEOUT_S = 600
#: Same key for both runs: identical pseudonyms, so identical marts.
TEST_HMAC_KEY = "distributed-test-key-not-for-production"


def _flow_env(base: Path, landing: Path) -> dict[str, str]:
    return {
        "FLOW_DATA_DIR": str(base / "data"),
        "FLOW_LANDING_DIR": str(landing),
        "FLOW_DASHBOARDS_DIR": str(base / "dashboards"),
        "FLOW_DEMO_MODE": "true",
        "FLOW_HMAC_KEY": TEST_HMAC_KEY,
        "FLOW_DUCKDB_MEMORY_LIMIT": "1GB",
    }


def _python(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    env = {**clean_environment(), **env, "PYTHONPATH": python_path()}
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [sys.executable, *args],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _normalise(value: object) -> object:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 9)
    return value


def marts_of(warehouse: Path) -> dict[str, Counter]:
    """Every relation in schema marts as a multiset of rows (order-independent)."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = mart_names(con)
        return {
            name: Counter(tuple(_normalise(v) for v in row) for row in con.execute(f'select * from marts."{name}"').fetchall())
            for name in names
        }
    finally:
        con.close()


@dataclass
class DistributedRun:
    """What the stack did, for the tests to judge (the fixture itself asserts nothing)."""

    root: Path
    run_ids: list[str]
    workers: tuple[str, ...]
    states: dict[str, str]
    task_instances: list[dict[str, Any]]
    failure_details: str
    reference_returncode: int | None
    reference_log: Path
    timings: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def distributed_run(tmp_path_factory: pytest.TempPathFactory) -> DistributedRun:
    for problem in (postgres_problem(), redis_problem()):
        require(problem is None, str(problem))
    started = time.monotonic()
    root = tmp_path_factory.mktemp("distributed")
    first, last = SERVICE_DAYS[0].isoformat(), SERVICE_DAYS[-1].isoformat()
    landing = root / "landing"
    probe = start_celery_executor_probe({**clean_environment(), "PYTHONPATH": python_path()})

    demo = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowlib",
            "demo",
            "--start",
            first,
            "--end",
            last,
            "--scale",
            str(DEMO_SCALE),
            "--landing-dir",
            str(landing),
            "--truth-file",
            str(root / "demo_truth.json"),
        ],
        env={**clean_environment(), "PYTHONPATH": python_path()},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if demo.returncode != 0:
        pytest.fail(f"demo generator failed:\n{demo.stdout}\n{demo.stderr}")
    # Not a missing prerequisite but a broken lock: fail (here and in CI), never skip.
    incompatible = celery_executor_problem(probe)
    if incompatible is not None:
        pytest.fail(
            f"the CeleryExecutor cannot be imported ({incompatible}); celery 5.7.0 removed "
            "celery.backends.database.retry, which apache-airflow-providers-celery 3.26.0 imports: "
            "pin celery<5.7 (e.g. celery==5.6.3) in pyproject.toml and requirements.lock."
        )

    # The reference: the whole range in one process, in its own data folder, started now
    # so that it runs while the stack migrates and starts.
    reference_log = root / "single-process-run.log"
    reference = _python(
        ["-m", "flowlib", "run", "--first", first, "--last", last], _flow_env(root / "single", landing), reference_log
    )

    stack = AirflowStack(root / "stack", _flow_env(root / "distributed", landing))
    run_ids = [f"distributed__{day.isoformat()}" for day in SERVICE_DAYS]
    try:
        stack.prepare()
        stack.start_services()
        stack.wait_until_ready(DAG_ID)
        # Through the api-server, as the UI does; the CLI equivalent is
        # `airflow dags unpause nightly_flow` and `airflow dags trigger nightly_flow
        # --logical-date ... --conf '{"first_service_date": ..., ...}'` (docs/operations.md).
        stack.unpause(DAG_ID)
        for day, run_id in zip(SERVICE_DAYS, run_ids):
            # The nightly run at 02:00 JST processes the day before; conf names it anyway.
            logical = f"{(day + timedelta(days=1)).isoformat()}T02:00:00+09:00"
            stack.trigger(DAG_ID, run_id, logical, {"first_service_date": day.isoformat(), "last_service_date": day.isoformat()})
        states = stack.wait_for_runs(DAG_ID, run_ids, timeout=RUN_TIMEOUT_S)
        tis = stack.task_instances(DAG_ID, run_ids)
        details = "\n".join(
            f"--- {ti['run_id']} {ti['task_id']} ({ti['state']}) ---\n{stack.task_log(DAG_ID, ti['run_id'], ti['task_id'])}"
            for ti in tis
            if ti["state"] != "success"
        )
        if details:
            details += "\n" + stack.diagnostics()
    finally:
        stack.stop()
        try:
            reference.wait(timeout=max(60, RUN_TIMEOUT_S - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            os.killpg(reference.pid, signal.SIGKILL)
            reference.wait()
    timings = {**stack.timings, "total": round(time.monotonic() - started, 1)}
    print(f"\ndistributed stack timings (s): {timings}; tasks per worker: {dict(Counter(ti['hostname'] for ti in tis))}")
    return DistributedRun(root, run_ids, tuple(stack.workers), states, tis, details, reference.returncode, reference_log, timings)


def test_both_dag_runs_succeed_on_the_two_celery_workers(distributed_run: DistributedRun) -> None:
    run = distributed_run
    assert run.states == dict.fromkeys(run.run_ids, "success"), f"DAG runs {run.states}\n{run.failure_details}"
    failed = [(ti["run_id"], ti["task_id"], ti["state"]) for ti in run.task_instances if ti["state"] != "success"]
    assert not failed, f"task instances not successful: {failed}\n{run.failure_details}"
    expected = {
        "service_dates",
        "prepare_warehouse",
        "record_deliveries",
        "build_marts",
        "build_forecast",
        "publish_open_data",
        "build_data_docs",
        "publish_dashboards",
        "check_feeds",
        *(f"ingest_{name}" for name in load_registry()),
    }
    for run_id in run.run_ids:
        task_ids = {ti["task_id"] for ti in run.task_instances if ti["run_id"] == run_id}
        assert task_ids == expected, f"{run_id}: tasks {sorted(task_ids)}, expected {sorted(expected)}"
    hosts = Counter(ti["hostname"] for ti in run.task_instances)
    assert set(hosts) <= set(run.workers), f"task instances ran outside the two workers: {hosts}"
    assert len(hosts) == len(run.workers), f"the tasks did not spread over both workers: {hosts}"
    writers = [
        ti
        for ti in run.task_instances
        if ti["task_id"] in ("prepare_warehouse", "build_marts") or ti["task_id"].startswith("ingest_")
    ]
    assert {ti["pool"] for ti in writers} == {"duckdb_writer"}, "warehouse writers must run in the one-slot pool"


def test_marts_equal_the_single_process_run(distributed_run: DistributedRun) -> None:
    run = distributed_run
    assert run.reference_returncode == 0, f"`flowlib run` failed:\n{tail(run.reference_log)}"
    assert run.states == dict.fromkeys(run.run_ids, "success"), f"DAG runs {run.states}"
    distributed = marts_of(run.root / "distributed" / "data" / "warehouse.duckdb")
    single = marts_of(run.root / "single" / "data" / "warehouse.duckdb")
    assert distributed, "the distributed run built no marts"
    assert sorted(distributed) == sorted(single)
    for name in single:
        # two days are too short a history for a backtest, a weekly gravity fit or a measure's
        # pre-period: those marts may be empty, but must be equally empty in both runs
        if not name.startswith(("forecast_", "opportunity_", "measure_")):
            assert sum(single[name].values()) > 0, f"marts.{name} is empty in the single-process run"
        only_distributed = distributed[name] - single[name]
        only_single = single[name] - distributed[name]
        assert not only_distributed and not only_single, (
            f"marts.{name} differs: {sum(only_distributed.values())} rows only in the distributed run "
            f"(e.g. {list(only_distributed)[:3]}), {sum(only_single.values())} only in the single-process run "
            f"(e.g. {list(only_single)[:3]})"
        )


def test_published_dashboards_are_readable_by_the_web_server(distributed_run: DistributedRun) -> None:
    """In production nginx serves the dashboards volume as another user than the workers that
    wrote it (docker-compose.yml): every published file must be world-readable."""
    published = distributed_run.root / "distributed" / "dashboards"
    assert (published / "index.html").is_file()
    unreadable = sorted(
        str(path.relative_to(published)) for path in published.rglob("*") if path.is_file() and not path.stat().st_mode & 0o004
    )
    assert not unreadable, (
        f"{len(unreadable)} published file(s) are not readable by the web server (mode without o+r), e.g. {unreadable[:6]}"
    )
