"""What the dashboards read from the warehouse, already aggregated for drawing.

Everything is aggregated here (per facility, per flow, per H3 cell and hour), so a page
draws at most a few thousand things however many raw rows stood behind them. Suppressed
cells (``is_suppressed``) are kept as "suppressed" so the page can say so; their counts
are never used.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import h3

log = logging.getLogger(__name__)

#: Heat maps never carry more distinct cells than this; finer data is merged into
#: parent H3 cells. 2,000 cells x 24 hours keeps the hourly series near 1 MB.
MAX_HEAT_CELLS = 2_000
#: Flows drawn at most (the largest by visitors); more would be unreadable anyway.
MAX_FLOWS = 200
#: Routes listed in the side panel.
TOP_ROUTES = 15
#: Next destinations listed in a facility popup.
TOP_NEXT_DESTINATIONS = 3
#: Loads within this window before the latest one count as "last night's run".
LAST_RUN_WINDOW = timedelta(hours=12)

SEGMENT_LABELS: dict[str, tuple[str, str]] = {
    "all": ("全体", "All"),
    "domestic": ("国内", "Domestic"),
    "international": ("海外", "International"),
    "unknown": ("不明", "Unknown"),
}
SHOWN_SEGMENTS = ("all", "domestic", "international")

# marts.* and ref.* tables that every daily page reads; facility_entries_hourly and
# wifi_area_hourly are not drawn (the H3 heat map is finer than the area one).
DATE_SOURCES = (
    "marts.facility_daily",
    "marts.transitions_daily",
    "marts.routes_daily",
    "marts.circulation_daily",
    "marts.wifi_h3_hourly",
    "marts.survey_satisfaction_daily",
)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def table_exists(con: duckdb.DuckDBPyConnection, qualified_name: str) -> bool:
    schema, table = qualified_name.split(".")
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(found and found[0])


@dataclass(frozen=True)
class Facility:
    facility_id: str
    name_ja: str
    name_en: str
    lat: float | None
    lon: float | None

    @property
    def has_location(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class FacilityDay:
    facility: Facility
    entries: int | None
    visitors: int | None
    domestic_visitors: int | None
    international_visitors: int | None
    unknown_visitors: int | None
    is_suppressed: bool


@dataclass(frozen=True)
class Flow:
    from_id: str
    to_id: str
    transitions: int | None
    visitors: int | None
    next_probability: float | None
    median_minutes: float | None
    is_suppressed: bool


@dataclass(frozen=True)
class Route:
    rank: int
    facility_ids: tuple[str, ...]
    visitors: int


@dataclass(frozen=True)
class SegmentShare:
    """A count, the part of it that qualifies, and the share (circulation or satisfaction)."""

    segment: str
    count: int | None
    part: int | None
    share: float | None
    is_suppressed: bool


@dataclass
class HeatSeries:
    """Wi-Fi connections per cell: whole day and by hour (service-day order), weights 0-1."""

    hour_labels: list[str] = field(default_factory=list)
    by_hour: list[list[list[float]]] = field(default_factory=list)
    whole_day: list[list[float]] = field(default_factory=list)
    h3_resolution: int | None = None

    @property
    def is_empty(self) -> bool:
        return not self.whole_day


@dataclass
class DayData:
    service_date: date
    facilities: dict[str, Facility]
    facility_days: list[FacilityDay]
    flows: list[Flow]
    routes: list[Route]
    suppressed_routes: int
    circulation: list[SegmentShare]
    satisfaction: list[SegmentShare]
    heat: HeatSeries

    def facility(self, facility_id: str) -> Facility:
        """The reference facility, or a placeholder named by its id when ref lacks it."""
        return self.facilities.get(facility_id) or Facility(facility_id, facility_id, facility_id, None, None)

    @property
    def drawable_flows(self) -> list[Flow]:
        """Unsuppressed flows between two located facilities, largest first, capped."""
        drawable = [
            flow
            for flow in self.flows
            if not flow.is_suppressed
            and flow.visitors
            and flow.from_id != flow.to_id
            and self.facility(flow.from_id).has_location
            and self.facility(flow.to_id).has_location
        ]
        drawable.sort(key=lambda flow: (-(flow.visitors or 0), flow.from_id, flow.to_id))
        return drawable[:MAX_FLOWS]

    @property
    def suppressed_flow_count(self) -> int:
        return sum(1 for flow in self.flows if flow.is_suppressed)

    def next_destinations(self, facility_id: str) -> list[Flow]:
        """The most likely next stops after a facility (unsuppressed only)."""
        leaving = [
            flow
            for flow in self.flows
            if flow.from_id == facility_id and not flow.is_suppressed and flow.next_probability is not None
        ]
        leaving.sort(key=lambda flow: (-(flow.next_probability or 0.0), -(flow.visitors or 0), flow.to_id))
        return leaving[:TOP_NEXT_DESTINATIONS]


def service_dates_in_marts(con: duckdb.DuckDBPyConnection) -> list[date]:
    """Every service date any drawn mart has rows for, oldest first."""
    union = " union ".join(f"select distinct service_date from {table}" for table in DATE_SOURCES)
    return [row[0] for row in con.execute(f"select service_date from ({union}) order by 1").fetchall()]


def load_facilities(con: duckdb.DuckDBPyConnection) -> dict[str, Facility]:
    rows = _rows(con, "select facility_id, name_ja, name_en, lat, lon from ref.facilities order by facility_id")
    return {
        row["facility_id"]: Facility(
            facility_id=row["facility_id"],
            name_ja=row["name_ja"] or row["facility_id"],
            name_en=row["name_en"] or row["name_ja"] or row["facility_id"],
            lat=row["lat"],
            lon=row["lon"],
        )
        for row in rows
    }


def _segment_shares(rows: list[dict[str, Any]], count: str, part: str, share: str) -> list[SegmentShare]:
    by_segment = {row["segment"]: row for row in rows}
    return [
        SegmentShare(
            segment=segment,
            count=None if row["is_suppressed"] else row[count],
            part=None if row["is_suppressed"] else row[part],
            share=None if row["is_suppressed"] else row[share],
            is_suppressed=bool(row["is_suppressed"]),
        )
        for segment in SHOWN_SEGMENTS
        if (row := by_segment.get(segment)) is not None
    ]


def load_satisfaction(con: duckdb.DuckDBPyConnection, service_date: date) -> list[SegmentShare]:
    rows = _rows(
        con,
        "select segment, respondents, satisfied, satisfied_share, is_suppressed "
        "from marts.survey_satisfaction_daily where service_date = ?",
        [service_date],
    )
    return _segment_shares(rows, "respondents", "satisfied", "satisfied_share")


def service_hours(service_day_start_hour: int) -> list[int]:
    """Clock hours in service-day order, e.g. 4, 5, ... 23, 0, ... 3."""
    return [(service_day_start_hour + offset) % 24 for offset in range(24)]


def _coarsen(cells: dict[str, dict[int, float]], resolution: int) -> tuple[dict[str, dict[int, float]], int]:
    """Merge cells into parent H3 cells until at most MAX_HEAT_CELLS remain."""
    while len(cells) > MAX_HEAT_CELLS and resolution > 0:
        resolution -= 1
        merged: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        for cell, hours in cells.items():
            parent = h3.cell_to_parent(cell, resolution)
            for hour, connections in hours.items():
                merged[parent][hour] += connections
        cells = merged
    return cells, resolution


def _weight(value: float, maximum: float) -> float:
    return round(max(value / maximum, 0.001), 3) if maximum > 0 else 0.0


def load_heat(con: duckdb.DuckDBPyConnection, service_date: date, service_day_start_hour: int) -> HeatSeries:
    """Unsuppressed Wi-Fi connections per H3 cell and hour, normalised to 0-1 weights."""
    rows = _rows(
        con,
        "select h3_cell, hour_of_day, avg(lat) as lat, avg(lon) as lon, sum(connections) as connections "
        "from marts.wifi_h3_hourly "
        "where service_date = ? and not is_suppressed and connections > 0 "
        "group by h3_cell, hour_of_day",
        [service_date],
    )
    hours_order = service_hours(service_day_start_hour)
    series = HeatSeries(hour_labels=[f"{hour:02d}:00" for hour in hours_order])
    if not rows:
        series.by_hour = [[] for _ in hours_order]
        return series

    cells: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    centres: dict[str, tuple[float, float]] = {}
    for row in rows:
        cells[row["h3_cell"]][row["hour_of_day"]] += float(row["connections"])
        centres[row["h3_cell"]] = (row["lat"], row["lon"])
    resolution = h3.get_resolution(next(iter(cells)))
    coarse, series.h3_resolution = _coarsen(cells, resolution)
    if series.h3_resolution != resolution:
        log.info("heat map: %d cells merged to %d at H3 resolution %d", len(cells), len(coarse), series.h3_resolution)
        centres = {cell: h3.cell_to_latlng(cell) for cell in coarse}

    def point(cell: str, weight: float) -> list[float]:
        lat, lon = centres[cell]
        return [round(lat, 5), round(lon, 5), weight]

    hourly_max = max(value for hours in coarse.values() for value in hours.values())
    series.by_hour = [
        [point(cell, _weight(hours[hour], hourly_max)) for cell, hours in sorted(coarse.items()) if hours.get(hour)]
        for hour in hours_order
    ]
    day_totals = {cell: sum(hours.values()) for cell, hours in coarse.items()}
    day_max = max(day_totals.values())
    series.whole_day = [point(cell, _weight(total, day_max)) for cell, total in sorted(day_totals.items())]
    return series


def load_day(
    con: duckdb.DuckDBPyConnection,
    service_date: date,
    facilities: dict[str, Facility],
    service_day_start_hour: int,
) -> DayData:
    """Everything one daily page shows, aggregated."""
    facility_days = [
        FacilityDay(
            facility=facilities.get(row["facility_id"])
            or Facility(row["facility_id"], row["facility_id"], row["facility_id"], None, None),
            entries=row["entries"],
            visitors=row["visitors"],
            domestic_visitors=row["domestic_visitors"],
            international_visitors=row["international_visitors"],
            unknown_visitors=row["unknown_visitors"],
            is_suppressed=bool(row["is_suppressed"]),
        )
        for row in _rows(
            con,
            "select facility_id, entries, visitors, domestic_visitors, international_visitors, "
            "unknown_visitors, is_suppressed from marts.facility_daily where service_date = ? "
            "order by facility_id",
            [service_date],
        )
    ]
    flows = [
        Flow(
            from_id=row["from_facility_id"],
            to_id=row["to_facility_id"],
            transitions=None if row["is_suppressed"] else row["transitions"],
            visitors=None if row["is_suppressed"] else row["visitors"],
            next_probability=None if row["is_suppressed"] else row["next_probability"],
            median_minutes=None if row["is_suppressed"] else row["transfer_minutes_median"],
            is_suppressed=bool(row["is_suppressed"]),
        )
        for row in _rows(
            con,
            "select from_facility_id, to_facility_id, transitions, visitors, next_probability, "
            "transfer_minutes_median, is_suppressed from marts.transitions_daily where service_date = ?",
            [service_date],
        )
    ]
    route_rows = _rows(
        con,
        "select route_rank, route, visitors, is_suppressed from marts.routes_daily where service_date = ? "
        "order by is_suppressed, route_rank nulls last, route",
        [service_date],
    )
    routes = [
        Route(rank=row["route_rank"], facility_ids=tuple(part.strip() for part in row["route"].split(">")), visitors=row["visitors"])
        for row in route_rows
        if not row["is_suppressed"] and row["route_rank"] is not None and row["visitors"] is not None
    ][:TOP_ROUTES]
    circulation = _segment_shares(
        _rows(
            con,
            "select segment, visitors, multi_facility_visitors, circulation_rate, is_suppressed "
            "from marts.circulation_daily where service_date = ?",
            [service_date],
        ),
        "visitors",
        "multi_facility_visitors",
        "circulation_rate",
    )
    return DayData(
        service_date=service_date,
        facilities=facilities,
        facility_days=facility_days,
        flows=flows,
        routes=routes,
        suppressed_routes=sum(1 for row in route_rows if row["is_suppressed"]),
        circulation=circulation,
        satisfaction=load_satisfaction(con, service_date),
        heat=load_heat(con, service_date, service_day_start_hour),
    )


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
    latest = con.execute("select max(loaded_at) from ops.load_log").fetchone()
    latest_at = latest[0] if latest else None
    if latest_at is None:
        return None, []
    rows = _rows(
        con,
        "select source, service_date, outcome, count(*) as files, "
        "coalesce(sum(rows_read), 0) as rows_read, coalesce(sum(rows_loaded), 0) as rows_loaded, "
        "coalesce(sum(rows_quarantined), 0) as rows_quarantined "
        "from ops.load_log where loaded_at > ? group by source, service_date, outcome",
        [latest_at - LAST_RUN_WINDOW],
    )
    known_sources = [row[0] for row in con.execute("select distinct source from ops.load_log order by 1").fetchall()]
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


def latest_satisfaction(con: duckdb.DuckDBPyConnection) -> tuple[date | None, list[SegmentShare]]:
    """The KPI headline: the latest service day that has survey answers."""
    latest = con.execute("select max(service_date) from marts.survey_satisfaction_daily").fetchone()
    if not latest or latest[0] is None:
        return None, []
    return latest[0], load_satisfaction(con, latest[0])

