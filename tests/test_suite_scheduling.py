"""The suite's scheduling under pytest-xdist (tests/conftest.py): a folder's tests, or a
module's, run in one worker, so that their session and module fixtures are built once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

from conftest import PROJECT_ROOT, SLOW_UNITS, folder_or_module, slow_unit_first

RECORDER = """
import json, os, pytest
from pathlib import Path

LOG = Path(os.environ["SCHEDULING_LOG"])

def record(**entry):
    with LOG.open("a") as f:
        f.write(json.dumps({"worker": os.environ.get("PYTEST_XDIST_WORKER"), **entry}) + "\\n")
"""

FOLDER_CONFTEST = """
import pytest
from recorder import record

@pytest.fixture(scope="session")
def world():
    record(setup="world")
"""

FOLDER_TEST = """
import pytest
from recorder import record

@pytest.mark.parametrize("i", range(6))
def test_in_folder(world, i, request):
    record(test=request.node.nodeid)
"""

MODULE_TEST = """
import pytest
from recorder import record

@pytest.fixture(scope="module")
def demo():
    record(setup="demo {name}")

@pytest.mark.parametrize("i", range(6))
def test_in_module(demo, i, request):
    record(test=request.node.nodeid)
"""


def test_units_are_folders_below_tests_or_else_modules() -> None:
    assert folder_or_module("tests/disclosure/test_attacks.py::test_x[1]") == "tests/disclosure"
    assert folder_or_module("tests/reliability/test_crash_safety.py::TestKill::test_y") == "tests/reliability"
    assert folder_or_module("tests/test_models.py::test_z[a/b::c]") == "tests/test_models.py"
    assert folder_or_module("tests/test_models.py") == "tests/test_models.py"


def test_two_workers_build_each_folders_and_modules_fixtures_once(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    (tests / "world").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "tests" / "conftest.py", tests / "conftest.py")
    (tests / "recorder.py").write_text(RECORDER, encoding="utf-8")
    (tests / "world" / "__init__.py").write_text("", encoding="utf-8")
    (tests / "world" / "conftest.py").write_text(FOLDER_CONFTEST, encoding="utf-8")
    for name in ("a", "b", "c"):
        (tests / "world" / f"test_{name}.py").write_text(FOLDER_TEST, encoding="utf-8")
    for name in ("d", "e", "f"):
        (tests / f"test_{name}.py").write_text(MODULE_TEST.format(name=name), encoding="utf-8")
    log = tmp_path / "log.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-q", "tests"],
        cwd=tmp_path,
        env={**os.environ, "SCHEDULING_LOG": str(log), "PYTHONPATH": f"{PROJECT_ROOT}{os.pathsep}{tests}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    setups = sorted(entry["setup"] for entry in entries if "setup" in entry)
    assert setups == ["demo d", "demo e", "demo f", "world"]
    workers: dict[str, set[str]] = {}
    for entry in entries:
        if "test" in entry:
            workers.setdefault(folder_or_module(entry["test"]), set()).add(entry["worker"])
    assert sorted(workers) == ["tests/test_d.py", "tests/test_e.py", "tests/test_f.py", "tests/world"]
    assert all(len(ran_on) == 1 for ran_on in workers.values()), workers
    # both workers took part: the units were shared out, not run one after the other
    assert set().union(*workers.values()) == {"gw0", "gw1"}


def test_the_slow_units_are_units_of_this_suite_and_go_first() -> None:
    for unit in SLOW_UNITS:
        path = PROJECT_ROOT / unit
        assert path.is_dir() or path.is_file(), f"{unit}: no such folder or module under tests/"
        assert folder_or_module(f"{unit}/test_x.py::test_y" if path.is_dir() else f"{unit}::test_y") == unit
    queue = OrderedDict((unit, {}) for unit in ("tests/test_a.py", SLOW_UNITS[2], "tests/test_b.py", SLOW_UNITS[1]))
    handed_out = []
    while queue:
        slow_unit_first(queue)
        handed_out.append(queue.popitem(last=False)[0])
    assert handed_out == [SLOW_UNITS[1], SLOW_UNITS[2], "tests/test_a.py", "tests/test_b.py"]
