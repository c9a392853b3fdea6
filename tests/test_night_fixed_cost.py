"""A night's fixed cost: heavy libraries are imported only where they are used.

Great Expectations costs about 6 s to import and scipy.stats about 2 s. A night whose
files are unchanged validates nothing, so it must not import GX (the data docs are
rebuilt only when a validation result is newer than them), and building marts must not
import scipy (only the indicator's intervals need it). Checked in fresh interpreters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from conftest import PROJECT_ROOT


def _modules_after(code: str, env: dict[str, str] | None = None) -> dict:
    script = (
        code + "\nimport json, sys\nprint(json.dumps({'gx': 'great_expectations' in sys.modules, "
        "'scipy': 'scipy.stats' in sys.modules, 'result': str(result)}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_nightly_modules_import_neither_gx_nor_scipy():
    seen = _modules_after(
        "import flowlib.cli, flowlib.pipeline, flowlib.ingest, flowlib.models, "
        "flowlib.indicator_mart, flowlib.visitor_ids\nresult = None"
    )
    assert seen["gx"] is False and seen["scipy"] is False


def test_data_docs_are_not_rebuilt_when_nothing_was_validated(tmp_path):
    env = {"FLOW_DATA_DIR": str(tmp_path / "data"), "FLOW_DASHBOARDS_DIR": str(tmp_path / "dashboards")}
    result = tmp_path / "data" / "validation_results" / "entry_pos_a" / "2026-11-01" / "entry_log.json"
    result.parent.mkdir(parents=True)
    result.write_text("{}", encoding="utf-8")
    index = tmp_path / "dashboards" / "data-docs" / "index.html"
    index.parent.mkdir(parents=True)
    index.write_text("<html></html>", encoding="utf-8")
    older = time.time() - 60
    os.utime(result, (older, older))
    seen = _modules_after("from flowlib.pipeline import build_data_docs\nresult = build_data_docs()", env)
    assert seen == {"gx": False, "scipy": False, "result": str(index)}


def test_the_locked_packages_are_compiled_to_bytecode():
    """With PYTHONDONTWRITEBYTECODE set (this project's machines and CI) Python never writes
    bytecode, so unless scripts/bootstrap.sh compiles it every process compiles pandas,
    scipy, duckdb ... from source again: about 5 s of each night, task and test subprocess."""
    import importlib.util

    import duckdb
    import numpy
    import pandas
    import scipy
    import statsmodels

    stale = [
        module.__name__
        for module in (duckdb, numpy, pandas, scipy, statsmodels)
        if not os.path.isfile(importlib.util.cache_from_source(module.__file__))
    ]
    assert not stale, f"no bytecode for {stale}: run `make env` (scripts/bootstrap.sh compiles it)"
    text = (PROJECT_ROOT / "scripts" / "bootstrap.sh").read_text(encoding="utf-8")
    assert "uv pip sync --compile-bytecode" in text
