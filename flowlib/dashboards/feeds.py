"""What the pages say about the deliveries behind their figures.

Every map page lists, per source and day, whether the feed was loaded, is late (or still
pending), or was rejected and why (from ``ops.feed_status``, whose reason comes from the
load log), and names the facilities and areas whose figures are incomplete because of it
(``marts.feed_coverage``). The index adds freshness: each source's last loaded day and
whether the latest night's delivery arrived by its expected time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import duckdb

from flowlib.dashboards.page_data import Facility
from flowlib.dashboards.page_sql import page_rows, table_exists
from flowlib.dashboards.periods import date_labels

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "loaded": ("取込済", "loaded"),
    "late": ("未着（遅延）", "late"),
    "pending": ("到着待ち", "pending"),
    "rejected": ("不受理", "rejected"),
    "failed": ("取込失敗", "failed"),
}
SCOPE_LABELS = {"facility": ("施設", "Facility"), "area": ("エリア", "Area"), "city": ("市全体", "City-wide")}
KIND_LABELS = {
    "entry_log": ("入場記録", "admissions"),
    "wifi_sensor": ("Wi-Fi センサー", "Wi-Fi sensors"),
    "wifi_ap_count": ("Wi-Fi 接続数", "Wi-Fi counts"),
    "survey": ("アンケート", "survey"),
}


@dataclass(frozen=True)
class FeedDay:
    source: str
    service_date: date
    source_kind: str
    status: str
    reason: str | None
    expected_at: datetime
    delivered_at: datetime | None
    arrived_on_time: bool | None

    @property
    def is_complete(self) -> bool:
        return self.status == "loaded"


@dataclass(frozen=True)
class Gap:
    """A facility, area or the whole city whose figures lack a feed on some days."""

    scope: str
    scope_id: str
    name_ja: str
    name_en: str
    source_kind: str
    feeds: tuple[tuple[str, date, str], ...]  # (source, day, status)


@dataclass
class PageFeeds:
    days: list[FeedDay] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    @property
    def incomplete_facility_ids(self) -> set[str]:
        return {gap.scope_id for gap in self.gaps if gap.scope == "facility"}

    def gaps_of(self, facility_id: str) -> list[Gap]:
        return [gap for gap in self.gaps if gap.scope == "facility" and gap.scope_id == facility_id]


@dataclass(frozen=True)
class Freshness:
    """One source on the index: its last loaded day and the latest night's delivery."""

    source: str
    last_loaded: date | None
    latest: FeedDay


def load_page_feeds(con: duckdb.DuckDBPyConnection, first: date, last: date, facilities: dict[str, Facility]) -> PageFeeds | None:
    """Deliveries of ``first``..``last`` and the gaps they leave; None when none was recorded."""
    if not table_exists(con, "ops.feed_status"):
        return None
    span = {"first_service_date": first, "last_service_date": last}
    days = [FeedDay(**row) for row in page_rows(con, "feed_days", **span)]
    if not days:
        return None  # built before deliveries were recorded, or by `flowlib marts` alone: say nothing
    gaps: list[Gap] = []
    if table_exists(con, "marts.feed_coverage"):
        areas = {}
        if table_exists(con, "ref.areas"):
            areas = {
                row["area_id"]: (row["name_ja"] or row["area_id"], row["name_en"] or row["name_ja"] or row["area_id"])
                for row in page_rows(con, "area_names")
            }
        for scope, scope_id, kind, feeds in (tuple(row.values()) for row in page_rows(con, "feed_gaps", **span)):
            if scope == "facility":
                facility = facilities.get(scope_id)
                names = (facility.name_ja, facility.name_en) if facility else (scope_id, scope_id)
            elif scope == "area":
                names = areas.get(scope_id, (scope_id, scope_id))
            else:
                names = SCOPE_LABELS["city"]
            feed_tuples = tuple((f["source"], f["service_date"], f["status"]) for f in feeds)
            gaps.append(Gap(scope, scope_id, names[0], names[1], kind, feed_tuples))
    return PageFeeds(days, gaps)


def days_checked(con: duckdb.DuckDBPyConnection) -> list[date]:
    """Every service day a run recorded deliveries for, oldest first."""
    if not table_exists(con, "ops.feed_status"):
        return []
    return [row["service_date"] for row in page_rows(con, "days_checked")]


def load_freshness(con: duckdb.DuckDBPyConnection) -> list[Freshness]:
    """Per source: the last day it loaded, and its status for the latest day any run checked."""
    if not table_exists(con, "ops.feed_status"):
        return []
    rows = page_rows(con, "feed_freshness")
    return [Freshness(row["source"], row.pop("last_loaded"), FeedDay(**row)) for row in rows]


# ---------------------------------------------------------------- views for the templates


def _clock(moment: datetime | None) -> str:
    return moment.strftime("%m-%d %H:%M") if moment else "—"


def feed_row(feed: FeedDay) -> dict[str, Any]:
    """One source and day: a status word and one sentence why (both languages)."""
    ja, en = STATUS_LABELS.get(feed.status, (feed.status, feed.status))
    due = _clock(feed.expected_at)
    if feed.status == "loaded":
        if feed.arrived_on_time is False:
            note = (
                f"到着遅れ（期限 {due}、到着 {_clock(feed.delivered_at)}）後に取込",
                f"arrived late (due {due}, arrived {_clock(feed.delivered_at)}), then loaded",
            )
        else:
            note = ("", "")
    elif feed.status == "late":
        note = (
            f"期限 {due} を過ぎても届いていません。届き次第、自動で取り込みます。",
            f"not delivered by {due}; it is loaded automatically when it arrives.",
        )
    elif feed.status == "pending":
        note = (f"期限 {due} まで到着待ち。", f"not yet due (due {due}).")
    else:
        reason = feed.reason or "理由不明 / no reason recorded"
        note = (reason, reason)
    return {
        "source": feed.source,
        "service_date": feed.service_date.isoformat(),
        "status": feed.status,
        "status_ja": ja,
        "status_en": en,
        "note_ja": note[0],
        "note_en": note[1],
        "on_time": feed.arrived_on_time,
    }


def gap_row(gap: Gap) -> dict[str, Any]:
    scope_ja, scope_en = SCOPE_LABELS.get(gap.scope, (gap.scope, gap.scope))
    kind_ja, kind_en = KIND_LABELS.get(gap.source_kind, (gap.source_kind, gap.source_kind))
    feeds = ", ".join(
        f"{source} {day.isoformat()} {STATUS_LABELS.get(status, (status, status))[1]}" for source, day, status in gap.feeds
    )
    return {
        "scope": gap.scope,
        "scope_id": gap.scope_id,
        "scope_ja": scope_ja,
        "scope_en": scope_en,
        "name_ja": gap.name_ja,
        "name_en": gap.name_en,
        "kind_ja": kind_ja,
        "kind_en": kind_en,
        "feeds": feeds,
    }


def feeds_view(feeds: PageFeeds | None, is_period: bool) -> dict[str, Any] | None:
    """Daily pages list every source; period pages only the days that were not loaded."""
    if feeds is None:
        return None
    problem_days = [f for f in feeds.days if not f.is_complete]
    shown = problem_days if is_period else feeds.days
    return {
        "rows": [feed_row(f) for f in shown],
        "checked": len(feeds.days),
        "loaded": sum(1 for f in feeds.days if f.is_complete),
        "complete": not problem_days,
        "gaps": [gap_row(g) for g in feeds.gaps],
    }


def freshness_view(rows: list[Freshness]) -> dict[str, Any] | None:
    if not rows:
        return None
    latest = rows[0].latest.service_date
    return {
        "service_date_ja": date_labels(latest)[0],
        "service_date_en": date_labels(latest)[1],
        "rows": [
            {
                **feed_row(row.latest),
                "last_loaded": row.last_loaded.isoformat() if row.last_loaded else "—",
                "expected": _clock(row.latest.expected_at),
                "arrived": _clock(row.latest.delivered_at),
                "stale": row.last_loaded is None or row.last_loaded < latest,
            }
            for row in rows
        ],
    }


#: Days shown in the index's per-day delivery table.
RECENT_DAYS = 7


def load_recent(con: duckdb.DuckDBPyConnection, days: int = RECENT_DAYS) -> list[FeedDay]:
    """Statuses of the latest ``days`` service days any run checked."""
    latest = days_checked(con)[-int(days) :] if days > 0 else []
    if not latest:
        return []
    # the latest days any run checked are the only checked days between the first and last of them
    rows = page_rows(con, "feed_days", first_service_date=latest[0], last_service_date=latest[-1])
    return sorted((FeedDay(**row) for row in rows), key=lambda feed: (feed.source, feed.service_date))


def recent_view(feeds: list[FeedDay]) -> dict[str, Any] | None:
    """A source x day grid, latest day first; a dash where a source was not checked."""
    if not feeds:
        return None
    days = sorted({f.service_date for f in feeds}, reverse=True)
    by_key = {(f.source, f.service_date): f for f in feeds}
    sources = sorted({f.source for f in feeds})
    return {
        "days": [d.isoformat() for d in days],
        "sources": [
            {
                "name": source,
                "cells": [
                    {"day": d.isoformat(), "row": feed_row(by_key[(source, d)]) if (source, d) in by_key else None} for d in days
                ],
            }
            for source in sources
        ],
    }
