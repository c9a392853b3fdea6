"""Shared fixtures: every test gets its own data folder, warehouse and dashboards folder."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import OrderedDict
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from flowlib.config import Settings, get_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_REALDATA = PROJECT_ROOT.parent / "shared" / "realdata"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


@pytest.hookimpl(optionalhook=True)  # xdist's hook: pytest -p no:xdist still runs
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Under pytest-xdist (`scripts/run_tests.sh` runs two workers) the tests of one folder
    below tests/ (its session fixtures build one world, one demo for all its modules) or else
    of one module (its module fixtures) go to one worker as one unit, so that each such
    fixture is built once. xdist's own `--dist loadgroup` would need its marker read into the
    node ids, which pytest 9 no longer lets it rewrite."""
    from xdist.scheduler import LoadScopeScheduling

    class FolderOrModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return folder_or_module(nodeid)

        def _assign_work_unit(self, node: object) -> None:
            slow_unit_first(self.workqueue)
            super()._assign_work_unit(node)

    return FolderOrModuleScheduling(config, log)


def folder_or_module(nodeid: str) -> str:
    """The unit a test is scheduled in: ``tests/<folder>`` for a test in a folder below
    tests/, else its module's path."""
    parts = nodeid.split("::", 1)[0].split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else "/".join(parts)


#: the units that take minutes, slowest first (single runs of 7 December: the disclosure
#: worlds about 330 s, the reliability chain 200 s, the distributed stack 150 s, the partial
#: and action nights 80-100 s, the end-to-end night 50 s). xdist hands out units by their
#: number of tests, which put the distributed stack 52nd of 61 and left one worker running it
#: alone at the end; these go first, the rest as xdist orders them
SLOW_UNITS = (
    "tests/disclosure",
    "tests/reliability",
    "tests/test_distributed.py",
    "tests/test_e2e_partial.py",
    "tests/test_action_night.py",
    "tests/test_e2e_nightly.py",
)


def slow_unit_first(queue: OrderedDict[str, object]) -> None:
    """Move the slowest unit of SLOW_UNITS still waiting in ``queue`` to its front."""
    for unit in SLOW_UNITS:
        if unit in queue:
            queue.move_to_end(unit, last=False)
            return


def mart_names(con) -> list[str]:
    """The relations in schema marts of an open DuckDB connection, by name."""
    return [
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
        ).fetchall()
    ]


def airflow_night(env: dict[str, str], first: date, last: date, timeout: int) -> subprocess.CompletedProcess:
    """A migrated Airflow home (scripts/airflow_setup.sh, asserted), then one
    scripts/run_nightly.sh run for first..last; the run is returned for the test to judge."""
    setup = subprocess.run(
        ["bash", "scripts/airflow_setup.sh"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    return subprocess.run(
        ["bash", "scripts/run_nightly.sh", first.isoformat(), last.isoformat()],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip locally when a prerequisite is missing, but fail in CI (never skip there)."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("FLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FLOW_DASHBOARDS_DIR", str(tmp_path / "dashboards"))
    monkeypatch.setenv("FLOW_DEMO_MODE", "true")
    monkeypatch.delenv("FLOW_HMAC_KEY", raising=False)
    monkeypatch.delenv("FLOW_LANDING_DIR", raising=False)
    monkeypatch.delenv("FLOW_WAREHOUSE", raising=False)
    yield get_settings()


def throwaway_settings(root: Path, **overrides: object) -> Settings:
    """Demo-mode settings whose data, landing, warehouse and dashboards all live under ``root``
    (independent of the FLOW_* path variables); ``overrides`` set any other field."""
    data = root / "data"
    fields: dict[str, object] = {
        "data_dir": data,
        "landing_dir": data / "landing",
        "warehouse_path": data / "warehouse.duckdb",
        "dashboards_dir": root / "dashboards",
        "demo_mode": True,
        **overrides,
    }
    return Settings(**fields)  # type: ignore[arg-type]


def load_kanazawa_stays(realdata: Path, root: Path, hmac_key_env: str) -> Settings:
    """A warehouse under ``root`` holding the real Kanazawa Wi-Fi stays (shared/realdata),
    loaded through the documented example declaration sources/examples/hokuriku_stays.yaml."""
    from flowlib.ingest import ingest_partition
    from flowlib.pipeline import prepare_warehouse
    from flowlib.sources import parse_declaration

    folder = realdata / "hokuriku_wifi_sensor" / "move_kanazawa"
    require(folder.is_dir(), f"the Hokuriku Wi-Fi sensing sample {folder} is missing")
    settings = throwaway_settings(root, hmac_key_env=hmac_key_env, min_cell_count=1)
    shutil.copytree(folder, settings.landing_dir / "hokuriku" / "move_kanazawa")
    prepare_warehouse(settings)
    result = ingest_partition(parse_declaration(PROJECT_ROOT / "sources" / "examples" / "hokuriku_stays.yaml"), None, settings)
    assert result.outcome == "loaded" and result.rows_quarantined == 0, result
    return settings


@pytest.fixture(scope="session")
def realdata() -> Path:
    require(SHARED_REALDATA.is_dir(), f"the shared real data folder {SHARED_REALDATA} is missing")
    return SHARED_REALDATA
