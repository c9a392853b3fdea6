"""The pages' queries: named files under ``sql/pages/``, run with DuckDB variables.

Each file can be pasted into a DuckDB shell after ``sql/macros/page_cuts.sql`` (the steps
the page queries share, as macros) and ``set variable`` lines for the variables its header
names; here the macros are created once per connection and the variables set from keyword
arguments, so a page loader reads
``page_rows(con, "facility_day", service_date=day, source_kind="entry_log")``.
"""

from __future__ import annotations

import weakref
from typing import Any

import duckdb

from flowlib.queries import query, run

#: Connections the page macros have been created on (temporary macros live as long as their
#: connection, which a reader opens per build).
_with_macros: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()


def page_rows(con: duckdb.DuckDBPyConnection, name: str, **variables: Any) -> list[dict[str, Any]]:
    """The rows of ``sql/pages/<name>.sql`` as dictionaries, after setting its variables."""
    if con not in _with_macros:
        con.execute(query("macros/page_cuts"))
        _with_macros.add(con)
    cursor = run(con, f"pages/{name}", **variables)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def page_value(con: duckdb.DuckDBPyConnection, name: str, **variables: Any) -> Any:
    """The single value of a one-row, one-column page query (None without a row)."""
    rows = page_rows(con, name, **variables)
    return next(iter(rows[0].values())) if rows else None


def table_exists(con: duckdb.DuckDBPyConnection, qualified_name: str) -> bool:
    schema, table = qualified_name.split(".")
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(found and found[0])
