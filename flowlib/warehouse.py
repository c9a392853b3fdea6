"""The DuckDB warehouse: connections, the single-writer rule and explicit transactions.

DuckDB lets only one process open the file for writing, and a semicolon batch runs in
auto-commit. So every write here goes through ``writer()`` (which waits politely for the
lock instead of failing) and ``transaction()`` (an explicit BEGIN ... COMMIT that rolls
back on any error, leaving the warehouse as it was).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from flowlib.config import Settings, get_settings

log = logging.getLogger(__name__)

_LOCK_MESSAGES = ("Conflicting lock", "Could not set lock", "database is locked")


class WarehouseBusy(RuntimeError):
    """Another process held the warehouse lock for longer than the configured wait."""


def _configure(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    settings.temp_dir.mkdir(parents=True, exist_ok=True)
    con.execute(f"set memory_limit = '{settings.duckdb_memory_limit}'")
    con.execute(f"set threads = {int(settings.duckdb_threads)}")
    con.execute(f"set temp_directory = '{settings.temp_dir.as_posix()}'")
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
        except duckdb.IOException as exc:
            if not any(marker in str(exc) for marker in _LOCK_MESSAGES):
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


@contextmanager
def reader(settings: Settings | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(settings, read_only=True)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, rolled back on any exception so a failed write changes nothing."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


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
