"""Delivery status per feed and service day: loaded, late, pending, rejected or failed.

The nightly run and the catch-up run record here what they found for every daily source
and day (``ops.feed_status``, one row per pair). The pages say it per source and day, the
``feed_coverage`` mart marks the facilities and areas a missing feed covers as incomplete,
and the catch-up run compares the landing folder against ``files_digest`` to find late and
corrected deliveries. Why a delivery was refused is taken from ``ops.load_log``, where the
ingest step wrote it (file, line and problem).

Arrival is judged by what the runs saw, not by file times (a copy or a restore changes
those): a delivery found by the first check of its day arrived on time; one found by a
later check arrived on time only if that check was before its ``expected_by`` moment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from flowlib.config import Settings
from flowlib.sources import SourceSpec
from flowlib.warehouse import transaction

JST = ZoneInfo("Asia/Tokyo")
#: What a run found; mapped onto a status by :func:`record`.
OUTCOMES = ("delivered", "missing", "rejected", "failed")
STATUSES = ("loaded", "late", "pending", "rejected", "failed")
#: Statuses whose feed is absent from the day's figures (its facilities and areas are incomplete).
INCOMPLETE_STATUSES = ("late", "pending", "rejected", "failed")
COLUMNS = (
    "source",
    "service_date",
    "source_kind",
    "status",
    "reason",
    "files",
    "files_digest",
    "expected_at",
    "first_checked_at",
    "delivered_at",
    "arrived_on_time",
    "checked_at",
)


@dataclass(frozen=True)
class FeedStatus:
    source: str
    service_date: date
    source_kind: str
    status: str
    reason: str | None
    files: int
    files_digest: str | None
    expected_at: datetime
    first_checked_at: datetime
    delivered_at: datetime | None
    arrived_on_time: bool | None
    checked_at: datetime

    @property
    def is_complete(self) -> bool:
        return self.status == "loaded"


def now_jst() -> datetime:
    """The current JST wall-clock time, naive (as every timestamp in the warehouse)."""
    return datetime.now(JST).replace(tzinfo=None)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def delivered_files(spec: SourceSpec, service_date: date, settings: Settings) -> list[tuple[str, str]]:
    """(file name relative to the landing folder, sha256) of each delivered file, sorted."""
    root = settings.landing_dir.resolve()
    return sorted(
        (path.resolve().relative_to(root).as_posix(), _sha256(path))
        for path in spec.files_for(settings.landing_dir, service_date)
    )


def files_digest(files: Iterable[tuple[str, str]]) -> str | None:
    """One sha256 over a delivery's (name, sha256) pairs; None when nothing was delivered."""
    pairs = sorted(files)
    if not pairs:
        return None
    return hashlib.sha256("\n".join(f"{name}\t{sha}" for name, sha in pairs).encode("utf-8")).hexdigest()


def _row(values: tuple) -> FeedStatus:
    return FeedStatus(*values)


def current(con: duckdb.DuckDBPyConnection, source: str, service_date: date) -> FeedStatus | None:
    row = con.execute(
        f"select {', '.join(COLUMNS)} from ops.feed_status where source = ? and service_date = ?", [source, service_date]
    ).fetchone()
    return _row(row) if row else None


def statuses(con: duckdb.DuckDBPyConnection, first: date | None = None, last: date | None = None) -> list[FeedStatus]:
    """Recorded statuses (of ``first``..``last`` when given), by day then source."""
    where, params = "", []
    if first is not None:
        where, params = "where service_date between ? and ?", [first, last or first]
    rows = con.execute(
        f"select {', '.join(COLUMNS)} from ops.feed_status {where} order by service_date, source", params
    ).fetchall()
    return [_row(row) for row in rows]


def rejection_reason(con: duckdb.DuckDBPyConnection, source: str, service_date: date) -> str | None:
    """The load log's message of the latest refused delivery of the day (file, line, problem)."""
    row = con.execute(
        "select message from ops.load_log where source = ? and service_date = ? and outcome = 'failed' "
        "and message is not null order by loaded_at desc limit 1",
        [source, service_date],
    ).fetchone()
    return row[0] if row else None


def record(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    service_date: date,
    outcome: str,
    files: list[tuple[str, str]],
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> FeedStatus:
    """Store what a run found for one source and day; returns the new status.

    ``files`` are the (name, sha256) pairs seen; ``reason`` is used when the load log
    holds none (a failure other than a refused file).
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}.")
    now = now or now_jst()
    expected_at = spec.expected_at(service_date)
    previous = current(con, spec.name, service_date)
    if outcome == "delivered":
        status, reason = "loaded", None
    elif outcome == "missing":
        status, reason = ("late" if now > expected_at else "pending"), None
    elif outcome == "rejected":
        status, reason = "rejected", rejection_reason(con, spec.name, service_date) or reason
    else:
        status = "failed"
    first_checked_at = previous.first_checked_at if previous else now
    delivered_at = previous.delivered_at if previous and previous.delivered_at else (now if files else None)
    arrived_on_time = None if delivered_at is None else delivered_at == first_checked_at or delivered_at <= expected_at
    # A failed attempt keeps no digest, so the catch-up run tries the same files again.
    digest = files_digest(files) if outcome in ("delivered", "rejected") else None
    new = FeedStatus(
        spec.name,
        service_date,
        spec.kind.name,
        status,
        _one_line(reason),
        len(files),
        digest,
        expected_at,
        first_checked_at,
        delivered_at,
        arrived_on_time,
        now,
    )
    with transaction(con):
        con.execute("delete from ops.feed_status where source = ? and service_date = ?", [spec.name, service_date])
        con.execute(
            f"insert into ops.feed_status ({', '.join(COLUMNS)}) values ({', '.join('?' * len(COLUMNS))})",
            [getattr(new, column) for column in COLUMNS],
        )
    return new


def _one_line(reason: str | None) -> str | None:
    return " ".join(reason.split()) if reason else None


def problems(con: duckdb.DuckDBPyConnection, service_dates: list[date]) -> list[FeedStatus]:
    """Rejected and failed deliveries of the given days: what makes a run end failed."""
    if not service_dates:
        return []
    return [
        s
        for s in statuses(con, min(service_dates), max(service_dates))
        if s.service_date in set(service_dates) and s.status in ("rejected", "failed")
    ]


def describe(status: FeedStatus) -> str:
    """One line for logs and alerts: source, day, status and reason."""
    text = f"{status.source} {status.service_date.isoformat()}: {status.status}"
    return f"{text} ({status.reason})" if status.reason else text
