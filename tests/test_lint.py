"""The linters of the project, as part of `make test`: ruff (lint and format) over the Python
tree and sqlfluff (DuckDB dialect) over sql/, with the configuration in pyproject.toml and
.sqlfluff. To put the tree right: `ruff format . && ruff check --fix . && sqlfluff fix sql`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, require

BIN = Path(sys.executable).parent


def _run(tool: str, *args: str) -> subprocess.CompletedProcess:
    require((BIN / tool).is_file(), f"{tool} is not installed in {BIN} (requirements.lock pins it)")
    return subprocess.run([str(BIN / tool), *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")], ids=["lint", "format"])
def test_python_is_clean_under_ruff(args):
    result = _run("ruff", *args)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_sql_is_clean_under_sqlfluff():
    result = _run("sqlfluff", "lint", "sql", "--nocolor")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
