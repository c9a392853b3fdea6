"""Build state: a night whose warehouse, code and settings are as the last build left them
builds nothing.

Building marts is deterministic and idempotent: rebuilding the same days from the same
warehouse gives the same tables, row for row (tests/reliability holds a rerun to
byte-identical results). So when nothing the build reads or writes has changed since the
last build of the same days committed, the build would only write back what is there. The
night of unchanged files (a rerun, a catch-up with nothing new, a retried task) then skips
the build: about half of such a night's time (docs/routes.md).

"Nothing has changed" is a digest of everything a build depends on, taken when the build
commits (in its transaction) and again before the next one:

* every table of the warehouse file: raw, reference, operations, intermediate and marts,
  each as its row count and the sum of its rows' hashes (``sql/runner/table_digest.sql``;
  about 0.3 s for the 5 M rows of the demo warehouse). The outputs are in it as well as the
  inputs, so a table changed by any other writer (a model run by hand, a restored backup,
  a repair) is built again. Left out: the tables that steps after the build own
  (:data:`LATER_STEPS_TABLES`: the forecast and the KPI path, which the build does not
  read), the state itself, and ``checked_at`` columns (when a run last looked);
* the code: every file of the ``flowlib`` package, of the models' SQL folder and of the
  configuration folder (indicator and measures definitions), and the versions of the
  libraries that compute;
* the settings, every field (the HMAC key by its fingerprint);
* the service days asked for.

The nightly open data and pages are kept the same way (:func:`flowlib.opendata.publish_open_data`,
:func:`flowlib.pipeline.publish_dashboards`): with the digest of every table, the forecast's
included, as when they were written, and their files as written (:func:`files_digest`),
writing them again would give the same bytes.

A table digest adds 64-bit row hashes: any change of a row changes it except with a chance
of about 2⁻⁶⁴, and DuckDB's ``hash`` may change between versions, which are in the digest.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from dataclasses import fields
from datetime import date
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import duckdb

from flowlib.config import Settings
from flowlib.models import runner_sql
from flowlib.warehouse import split_statements

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
#: the libraries whose results the build stores
COMPUTING_PACKAGES = ("duckdb", "numpy", "pandas", "scipy", "highspy", "statsmodels", "holidays", "pyarrow", "h3")
STATE_TABLE = "ops.build_state"


def _later_steps_tables() -> frozenset[str]:
    from flowlib.forecast import WRITTEN_TABLES as FORECAST_TABLES
    from flowlib.kpi_path import WRITTEN_TABLES as KPI_PATH_TABLES

    return FORECAST_TABLES | KPI_PATH_TABLES


#: tables written after the build by steps it does not feed (the nightly forecast and the KPI
#: path read marts; no model, mart or settlement reads them)
LATER_STEPS_TABLES = _later_steps_tables()


def _files_digest(folders: Iterable[Path]) -> bytes:
    digest = hashlib.sha256()
    for folder in folders:
        if not folder.is_dir():
            digest.update(f"<no folder {folder.name}>".encode())
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            relative = path.relative_to(folder).as_posix().encode()
            content = path.read_bytes()
            digest.update(len(relative).to_bytes(8, "big") + relative + len(content).to_bytes(8, "big") + content)
    return digest.digest()


def files_digest(folder: Path, skip: frozenset[str] = frozenset()) -> str:
    """Every file under ``folder`` (names and bytes; a symbolic link by its target, never
    followed), leaving out the top-level entries named in ``skip``: what a published folder
    holds, to tell whether anyone changed it since it was written."""
    digest = hashlib.sha256()
    for root, folders, files in os.walk(folder):
        here = Path(root)
        if here == folder:
            folders[:] = [name for name in folders if name not in skip]
            files = [name for name in files if name not in skip]
        folders.sort()
        for name in sorted(files + [f for f in folders if (here / f).is_symlink()]):
            path = here / name
            relative = path.relative_to(folder).as_posix().encode()
            content = f"-> {os.readlink(path)}".encode() if path.is_symlink() else path.read_bytes()
            digest.update(len(relative).to_bytes(8, "big") + relative + len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


@cache
def _versions() -> str:
    found = []
    for package in COMPUTING_PACKAGES:
        try:
            found.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            found.append(f"{package} absent")
    return ";".join(found)


def code_digest(settings: Settings) -> bytes:
    """The package, the models' SQL, the configuration folder and the computing libraries."""
    folders = (PACKAGE_DIR, settings.sql_dir, settings.project_root / "config")
    return hashlib.sha256(_files_digest(folders) + _versions().encode()).digest()


def settings_text(settings: Settings) -> str:
    """Every setting by name; the HMAC key by its fingerprint, never the key itself."""
    from flowlib.pseudonym import key_fingerprint

    parts = []
    for item in fields(settings):
        value = getattr(settings, item.name)
        if item.name == "hmac_key_env":
            value = key_fingerprint(settings.hmac_key)
        elif item.name == "webhook_url":
            value = value is not None  # where alerts go changes no table
        parts.append(f"{item.name}={value!r}")
    return ";".join(parts)


def warehouse_digest(con: duckdb.DuckDBPyConnection, skip: frozenset[str] = LATER_STEPS_TABLES) -> list[tuple[str, int, str]]:
    """Each table the state covers: (schema.name, rows, sum of row hashes); not ``skip``, nor
    the state itself (which says when the build ran)."""
    skipped = skip | {STATE_TABLE}
    tables = [name for (name,) in con.execute(runner_sql("warehouse_tables")).fetchall() if name not in skipped]
    query = runner_sql("table_digest")
    return [(name, *con.execute(query, [name]).fetchone()) for name in tables]  # type: ignore[misc]


def state_digest(
    con: duckdb.DuckDBPyConnection, settings: Settings, days: Iterable[object], skip: frozenset[str] = LATER_STEPS_TABLES
) -> str:
    """The digest a build of ``days`` is compared by (see the module doc); the open data
    (flowlib.opendata) is compared by the same digest of every table, ``skip`` left out."""
    digest = hashlib.sha256(code_digest(settings))
    for part in (settings_text(settings), sorted(set(days)), warehouse_digest(con, skip)):
        text = repr(part).encode()
        digest.update(len(text).to_bytes(8, "big") + text)
    return digest.hexdigest()


def _recorded(con: duckdb.DuckDBPyConnection) -> tuple[list[date], str] | None:
    schema, name = STATE_TABLE.split(".")
    if not con.execute(runner_sql("relation_kind"), [schema, name]).fetchone():
        return None
    row = con.execute(runner_sql("build_state")).fetchone()
    return (list(row[0]), row[1]) if row else None


def up_to_date(con: duckdb.DuckDBPyConnection, settings: Settings, days: Iterable[date]) -> bool:
    """True when the last build was of the same days and left the warehouse, the code and the
    settings exactly as they are now: building again would write the same rows."""
    days = sorted(set(days))
    recorded = _recorded(con)
    if recorded is None or recorded[0] != days:
        return False
    return recorded[1] == state_digest(con, settings, days)


def record(con: duckdb.DuckDBPyConnection, settings: Settings, days: Iterable[date]) -> str:
    """In the build's transaction, after its last write: what it leaves, for the next night."""
    days = sorted(set(days))
    digest = state_digest(con, settings, days)
    first, second = split_statements(runner_sql("record_build_state"))
    con.execute(first)
    con.execute(second, [days, digest])
    return digest
