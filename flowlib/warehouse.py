"""The DuckDB warehouse: connections, the single-writer rule and explicit transactions.

DuckDB lets only one process open the file for writing, and a semicolon batch runs in
auto-commit. So every write here goes through ``writer()`` (which waits politely for the
lock instead of failing) and ``transaction()`` (an explicit BEGIN ... COMMIT that rolls
back on any error, leaving the warehouse as it was).
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import duckdb

from flowlib.config import Settings, get_settings

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
T = TypeVar("T")

_LOCK_MESSAGES = ("Conflicting lock", "Could not set lock", "database is locked")
#: What DuckDB says when the file's bytes are damaged (bad header, checksum, short file).
_CORRUPTION_MESSAGES = (
    "not a valid DuckDB database file",
    "Corrupt database file",
    "Could not read enough bytes",
    "does not match stored checksum",
    "Failed to load metadata",
)
BACKUP_PREFIX = "warehouse-"


class WarehouseBusy(RuntimeError):
    """Another process held the warehouse lock for longer than the configured wait."""


class WarehouseCorrupt(RuntimeError):
    """The warehouse file is damaged; the message says how to restore it."""


def corruption(exc: BaseException, path: Path) -> WarehouseCorrupt | None:
    """The one-sentence error for a DuckDB error that means a damaged file, else None."""
    text = str(exc)
    if not isinstance(exc, duckdb.Error) or not any(marker in text for marker in _CORRUPTION_MESSAGES):
        return None
    first = text.splitlines()[0][:200] if text else type(exc).__name__
    return WarehouseCorrupt(
        f"The warehouse {path} is damaged ({first}); restore the last nightly backup with "
        "`python -m flowlib restore` (docs/operations.md) and re-run the days since that backup."
    )


def _configure(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    settings.temp_dir.mkdir(parents=True, exist_ok=True)
    # Values are bound as parameters (and checked in config.py), never spliced into SQL.
    con.execute("set memory_limit = ?", [settings.duckdb_memory_limit])
    con.execute("set threads = ?", [int(settings.duckdb_threads)])
    con.execute("set temp_directory = ?", [settings.temp_dir.as_posix()])
    con.execute("set timezone = 'Asia/Tokyo'")


def connect(settings: Settings | None = None, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting with backoff while another process holds the lock."""
    settings = settings or get_settings()
    path: Path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + settings.lock_timeout_seconds
    delay = 0.2
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only and path.exists())
            _configure(con, settings)
            return con
        except duckdb.Error as exc:
            damaged = corruption(exc, path)
            if damaged is not None:
                raise damaged from exc
            if not isinstance(exc, duckdb.IOException) or not any(marker in str(exc) for marker in _LOCK_MESSAGES):
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"The warehouse {path} stayed locked by another process for "
                    f"{settings.lock_timeout_seconds} s; wait for the running load to finish "
                    "(only one writer may open it) and try again."
                ) from exc
            log.info("warehouse locked by another process; retrying in %.1f s", delay)
            time.sleep(delay + random.uniform(0, delay / 2))
            delay = min(delay * 2, 5.0)


@contextmanager
def writer(settings: Settings | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A write connection that is always closed, so the file lock is released promptly."""
    con = connect(settings)
    try:
        yield con
    finally:
        con.close()


def engine_fault(exc: BaseException) -> duckdb.InternalException | None:
    """The DuckDB internal error behind ``exc`` (its cause or context chain), else None.

    An internal error is an assertion inside the engine, not a property of the data; DuckDB
    then invalidates the database instance, so every later statement of the connection fails
    with a FatalException that only repeats it.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, duckdb.InternalException):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def write_once_more_after_engine_fault(
    work: Callable[[duckdb.DuckDBPyConnection], T], settings: Settings | None = None, *, what: str
) -> T:
    """Run ``work`` on a write connection; after a DuckDB internal error, once more on a new one.

    DuckDB 2.0.0 (the pinned version) raises, rarely and not repeatably, "dict-surviving
    cache: global dictionary column changed identity" inside a hash join of the 70-day
    roll-ups; the same statements on the same data then succeed. ``work`` must write in one
    transaction (nothing of the failed try is committed) and be idempotent. Any other error,
    and a second internal error, is raised as it is.
    """
    settings = settings or get_settings()
    for attempt in (1, 2):
        try:
            with writer(settings) as con:
                return work(con)
        except Exception as exc:
            fault = engine_fault(exc)
            if fault is None or attempt == 2:
                raise
            log.warning(
                "%s: DuckDB internal error (%s); nothing was committed, trying once more on a new connection",
                what,
                str(fault).splitlines()[0][:200],
            )
    raise AssertionError("unreachable")


@contextmanager
def reader(settings: Settings | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(settings, read_only=True)
    try:
        yield con
    finally:
        con.close()


# Connections inside an explicit transaction, by id: DuckDB has no nested transactions and
# no call that tells whether one is open, and a night's build of the marts (several ranges,
# the KPI, the action marts and the disclosure settlement) must commit as one.
_in_transaction: set[int] = set()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, rolled back on any exception so a failed write changes nothing.

    Nested inside another ``transaction()`` of the same connection it joins the outer one:
    the outermost block commits or rolls back everything written within it.
    """
    key = id(con)
    if key in _in_transaction:
        yield con
        return
    con.execute("begin transaction")
    _in_transaction.add(key)
    try:
        yield con
    except BaseException:
        _in_transaction.discard(key)
        con.execute("rollback")
        raise
    _in_transaction.discard(key)
    con.execute("commit")


def replace_with_frame(con: duckdb.DuckDBPyConnection, table: str, types: dict[str, str], frame: pd.DataFrame) -> int:
    """Replace ``table`` by the rows of a computed pandas frame (the marts estimated in Python:
    all-visitor expansion, opportunities, measures), its columns typed and ordered by ``types``
    and its rows sorted, so a rebuild from the same input gives the same table; returns the row
    count. The caller holds the transaction."""
    columns = ", ".join(f"{name} {kind}" for name, kind in types.items())
    con.execute(f"create or replace table {table} ({columns})")
    rows = len(frame)
    if rows:
        con.register("__incoming_frame", frame[list(types)])
        try:
            con.execute(f"insert into {table} select * from __incoming_frame order by all")
        finally:
            con.unregister("__incoming_frame")
    return rows


def split_statements(sql: str) -> list[str]:
    """Split a DDL file into statements (our DDL files hold no semicolons in literals)."""
    return [part.strip() for part in sql.split(";") if part.strip() and not _only_comments(part)]


def _only_comments(part: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in part.splitlines())


def ensure_schema(con: duckdb.DuckDBPyConnection, settings: Settings | None = None) -> None:
    """Create the warehouse's own tables (raw, ops, ref) if they are missing."""
    settings = settings or get_settings()
    ddl_dir = settings.sql_dir / "warehouse"
    with transaction(con):
        for ddl_file in sorted(ddl_dir.glob("*.sql")):
            for statement in split_statements(ddl_file.read_text(encoding="utf-8")):
                con.execute(statement)


def _table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' order by 1, 2"
    ).fetchall()
    return [f'"{schema}"."{name}"' for schema, name in rows]


def verify(path: Path) -> dict[str, int]:
    """Open a warehouse file read-only and read every value of every table (so every block's
    checksum is checked); rows per table. Raises WarehouseCorrupt when the file is damaged."""
    try:
        con = duckdb.connect(str(path), read_only=True)
        try:
            return {
                table: con.execute(f"select count(*), sum(hash(t)) from {table} as t").fetchone()[0]
                for table in _table_names(con)
            }
        finally:
            con.close()
    except duckdb.Error as exc:
        damaged = corruption(exc, path)
        if damaged is not None:
            raise damaged from exc
        raise


def backup(settings: Settings | None = None, *, label: str | None = None) -> Path:
    """Copy the warehouse into data/backups after a checkpoint, verify the copy, keep the
    newest FLOW_BACKUPS_KEPT. The copy is taken under the write lock, so no load is half in it."""
    settings = settings or get_settings()
    folder = settings.backups_dir
    folder.mkdir(parents=True, exist_ok=True)
    stamp = label or datetime.now().strftime("%Y%m%dT%H%M%S")
    target = folder / f"{BACKUP_PREFIX}{stamp}.duckdb"
    partial = folder / f".{target.name}.partial"
    with writer(settings) as con:
        con.execute("checkpoint")
        shutil.copyfile(settings.warehouse_path, partial)
    verify(partial)
    os.replace(partial, target)
    for old in list_backups(settings)[settings.backups_kept :]:
        old.unlink()
    return target


def list_backups(settings: Settings | None = None) -> list[Path]:
    """Backups, newest first."""
    settings = settings or get_settings()
    return sorted(settings.backups_dir.glob(f"{BACKUP_PREFIX}*.duckdb"), reverse=True)


def restore(settings: Settings | None = None, source: Path | None = None) -> tuple[Path, Path | None]:
    """Put a verified backup (the newest unless named) in place of the warehouse; the damaged
    file is kept beside it as ``<name>.damaged-<time>`` for inspection. Returns (backup, kept)."""
    settings = settings or get_settings()
    candidates = [source] if source is not None else list_backups(settings)
    if not candidates:
        raise FileNotFoundError(
            f"no backup in {settings.backups_dir}: nothing to restore from; rebuild the "
            "warehouse by re-running the history (docs/operations.md)."
        )
    chosen = candidates[0]
    if not chosen.is_file():
        raise FileNotFoundError(f"the backup {chosen} does not exist; `ls {settings.backups_dir}` lists them.")
    verify(chosen)
    target = settings.warehouse_path
    kept = None
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    if target.exists():
        kept = target.with_name(f"{target.name}.damaged-{stamp}")
        os.replace(target, kept)
    wal = target.with_name(target.name + ".wal")
    if wal.exists():
        os.replace(wal, wal.with_name(f"{wal.name}.damaged-{stamp}"))
    partial = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(chosen, partial)
    os.replace(partial, target)
    return chosen, kept
