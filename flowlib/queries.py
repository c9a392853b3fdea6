"""Named SQL files: every query the Python code runs lives in ``sql/`` and is read here.

A query is named by its path under ``sql/`` without ``.sql`` (``"pages/facility_day"``), so
the file can be opened, read and pasted into a DuckDB shell as it stands; parameters are
``?`` placeholders or DuckDB variables, never Python formatting.

>>> "from ref.calendar" in query("reference/calendar_periods")
True
"""

from __future__ import annotations

from functools import cache
from typing import Any

import duckdb

from flowlib.config import PROJECT_ROOT

SQL_DIR = PROJECT_ROOT / "sql"


@cache
def query(name: str) -> str:
    """The text of ``sql/<name>.sql``; read once per process."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {path} (queries are named by their path under sql/, without .sql)")
    return path.read_text(encoding="utf-8")


def run(con: duckdb.DuckDBPyConnection, name: str, **variables: Any) -> duckdb.DuckDBPyConnection:
    """Set the DuckDB variables the file's header names, then run ``sql/<name>.sql``; the
    result is read as usual (``.df()``, ``.fetchall()``)."""
    for variable, value in variables.items():
        con.execute(f"set variable {variable} = ?", [value])
    return con.execute(query(name))
