"""The index's "last night" table: what the latest nightly run loaded, per source."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb

from flowlib.dashboards.page_sql import page_rows, page_value, table_exists

#: Loads within this window before the latest one count as "last night's run".
LAST_RUN_WINDOW = timedelta(hours=12)


@dataclass(frozen=True)
class SourceLoad:
    """One source's part of the latest nightly load run."""

    source: str
    service_dates: tuple[date, ...]
    files: int
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    outcomes: dict[str, int]

    @property
    def missing(self) -> bool:
        return self.files == 0

    @property
    def needs_attention(self) -> bool:
        bad_outcome = any(word in outcome.lower() for outcome in self.outcomes for word in ("fail", "error", "reject"))
        return self.missing or self.rows_quarantined > 0 or bad_outcome


def load_last_night(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, list[SourceLoad]]:
    """What the latest run loaded per source; sources seen before but absent are listed as missing."""
    if not table_exists(con, "ops.load_log"):
        return None, []
    latest_at = page_value(con, "last_load")
    if latest_at is None:
        return None, []
    rows = page_rows(con, "loads_since", loaded_after=latest_at - LAST_RUN_WINDOW)
    known_sources = [row["source"] for row in page_rows(con, "load_sources")]
    loads = []
    for source in known_sources:
        mine = [row for row in rows if row["source"] == source]
        outcomes: dict[str, int] = defaultdict(int)
        for row in mine:
            outcomes[str(row["outcome"])] += row["files"]
        loads.append(
            SourceLoad(
                source=source,
                service_dates=tuple(sorted({row["service_date"] for row in mine if row["service_date"] is not None})),
                files=sum(row["files"] for row in mine),
                rows_read=sum(row["rows_read"] for row in mine),
                rows_loaded=sum(row["rows_loaded"] for row in mine),
                rows_quarantined=sum(row["rows_quarantined"] for row in mine),
                outcomes=dict(sorted(outcomes.items())),
            )
        )
    return latest_at, loads
