"""Load a page's data from the marts: one service day (the daily marts) or one ISO week /
calendar month (the ``*_by_period`` marts, cut "all day types, all visitors"), both into
:class:`~flowlib.dashboards.page_data.DayData`. Every query is a file under ``sql/pages/``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date
from typing import Any

import duckdb

from flowlib.calendar import Period
from flowlib.dashboards.heat import load_heat
from flowlib.dashboards.page_data import (
    PAGE_SOURCE_KIND,
    SENSOR_SOURCE_KIND,
    SHOWN_SEGMENTS,
    TOP_ROUTES,
    DayData,
    Facility,
    FacilityDay,
    Flow,
    Route,
    SegmentShare,
)
from flowlib.dashboards.page_sql import page_rows, page_value, table_exists
from flowlib.dashboards.periods import page_period

log = logging.getLogger(__name__)

#: The drawn period marts (a period has a page when they have card-tap rows for it).
PERIOD_SOURCES = (
    "marts.facility_visits_by_period",
    "marts.transitions_by_period",
    "marts.routes_by_period",
    "marts.circulation_by_period",
)


def service_dates_in_marts(con: duckdb.DuckDBPyConnection) -> list[date]:
    """Every service date any drawn daily mart has rows for, oldest first."""
    return [row["service_date"] for row in page_rows(con, "service_dates")]


def periods_in_marts(con: duckdb.DuckDBPyConnection, grain: str) -> list[Period]:
    """Every ISO week or month that the drawn period marts have card-tap rows for, oldest first."""
    if not all(table_exists(con, table) for table in PERIOD_SOURCES):
        return []
    periods = []
    for row in page_rows(con, "period_starts", period_grain=grain, source_kind=PAGE_SOURCE_KIND):
        try:
            periods.append(page_period(grain, row["period_start"]))
        except ValueError:
            log.warning("%s period starting %s does not start a calendar %s; no page drawn", grain, row["period_start"], grain)
    return periods


def load_facilities(con: duckdb.DuckDBPyConnection) -> dict[str, Facility]:
    return {
        row["facility_id"]: Facility(
            facility_id=row["facility_id"],
            name_ja=row["name_ja"] or row["facility_id"],
            name_en=row["name_en"] or row["name_ja"] or row["facility_id"],
            lat=row["lat"],
            lon=row["lon"],
        )
        for row in page_rows(con, "facilities")
    }


def _facility(facilities: dict[str, Facility], facility_id: str) -> Facility:
    return facilities.get(facility_id) or Facility(facility_id, facility_id, facility_id, None, None)


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
    """One day's answers per segment, as the mart protected them (flowlib.privacy rules in
    sql/marts/survey_satisfaction_daily.sql)."""
    rows = page_rows(con, "satisfaction_day", service_date=service_date)
    return _segment_shares(rows, "respondents", "satisfied", "satisfied_share")


def latest_satisfaction(con: duckdb.DuckDBPyConnection) -> tuple[date | None, list[SegmentShare]]:
    """The KPI headline: the latest service day that has survey answers."""
    latest = page_value(con, "latest_survey_day")
    if latest is None:
        return None, []
    return latest, load_satisfaction(con, latest)


def load_facility_days(con: duckdb.DuckDBPyConnection, service_date: date, facilities: dict[str, Facility]) -> list[FacilityDay]:
    return [
        FacilityDay(
            facility=_facility(facilities, row["facility_id"]),
            entries=None if row["is_suppressed"] else row["entries"],
            visitors=None if row["is_suppressed"] else row["visitors"],
            domestic_visitors=None if row["is_suppressed"] else row["domestic_visitors"],
            international_visitors=None if row["is_suppressed"] else row["international_visitors"],
            unknown_visitors=None if row["is_suppressed"] else row["unknown_visitors"],
            is_suppressed=bool(row["is_suppressed"]),
        )
        for row in page_rows(con, "facility_day", service_date=service_date, source_kind=PAGE_SOURCE_KIND)
    ]


def load_circulation(con: duckdb.DuckDBPyConnection, service_date: date) -> list[SegmentShare]:
    rows = page_rows(con, "circulation_day", service_date=service_date, source_kind=PAGE_SOURCE_KIND)
    return _segment_shares(rows, "visitors", "multi_facility_visitors", "circulation_rate")


def days_with_data(con: duckdb.DuckDBPyConnection, first: date, last: date) -> int:
    """Service days in first..last with card-tap facility rows (published or suppressed)."""
    found = page_value(con, "days_with_data", first_service_date=first, last_service_date=last, source_kind=PAGE_SOURCE_KIND)
    return int(found or 0)


def _flows(rows: list[dict[str, Any]], source_kind: str) -> list[Flow]:
    flows = []
    for row in rows:
        suppressed = bool(row["is_suppressed"])
        flows.append(
            Flow(
                from_id=row["from_facility_id"],
                to_id=row["to_facility_id"],
                transitions=None if suppressed else row["transitions"],
                visitors=None if suppressed else row["visitors"],
                next_probability=None if suppressed else row["next_probability"],
                median_minutes=None if suppressed else row["transfer_minutes_median"],
                is_suppressed=suppressed,
                source_kind=source_kind,
            )
        )
    return flows


def _routes(route_rows: list[dict[str, Any]], source_kind: str) -> list[Route]:
    return [
        Route(
            rank=row["route_rank"],
            facility_ids=tuple(part.strip() for part in row["route"].split(">")),
            visitors=row["visitors"],
            source_kind=source_kind,
        )
        for row in route_rows
        if not row["is_suppressed"] and row["route_rank"] is not None and row["visitors"] is not None
    ][:TOP_ROUTES]


def _movement(con: duckdb.DuckDBPyConnection, flows_query: str, routes_query: str, **cut: Any) -> dict[str, Any]:
    """Flows and routes of one day or period, card taps and Wi-Fi sensors, as DayData fields."""
    fields: dict[str, Any] = {}
    for kind, prefix in ((PAGE_SOURCE_KIND, ""), (SENSOR_SOURCE_KIND, "sensor_")):
        route_rows = page_rows(con, routes_query, source_kind=kind, **cut)
        fields[f"{prefix}flows"] = _flows(page_rows(con, flows_query, source_kind=kind, **cut), kind)
        fields[f"{prefix}routes"] = _routes(route_rows, kind)
        fields[f"suppressed_{prefix}routes"] = sum(1 for row in route_rows if row["is_suppressed"])
    return fields


def load_day(
    con: duckdb.DuckDBPyConnection,
    service_date: date,
    facilities: dict[str, Facility],
    service_day_start_hour: int,
) -> DayData:
    """Everything one daily page shows, aggregated (comparison and indicator: the caller's)."""
    facility_days = load_facility_days(con, service_date, facilities)
    return DayData(
        service_date=service_date,
        facilities=facilities,
        facility_days=facility_days,
        circulation=load_circulation(con, service_date),
        satisfaction=load_satisfaction(con, service_date),
        heat=load_heat(con, service_date, service_day_start_hour),
        days_with_data=1 if facility_days else 0,
        **_movement(con, "day_flows", "day_routes", service_date=service_date),
    )


def load_period_facilities(con: duckdb.DuckDBPyConnection, period: Period, facilities: dict[str, Facility]) -> list[FacilityDay]:
    """Per facility: entries and distinct visitors of the period, with the residence split."""
    rows = page_rows(con, "period_facilities", period_grain=period.grain, period_start=period.start)
    totals = {row["facility_id"]: row for row in rows if row["segment_kind"] == "all"}
    split: dict[str, dict[str, int | None]] = defaultdict(dict)
    for row in rows:
        if row["segment_kind"] == "residence":
            split[row["facility_id"]][row["segment"]] = None if row["is_suppressed"] else row["visitors"]
    result = []
    for facility_id, row in totals.items():
        suppressed = bool(row["is_suppressed"])
        parts = split.get(facility_id, {})

        def part(segment: str, parts: dict[str, int | None] = parts, suppressed: bool = suppressed) -> int | None:
            # a segment without a row had no visitors; a hidden one stays unknown (None)
            if suppressed:
                return None
            return parts[segment] if segment in parts else 0

        result.append(
            FacilityDay(
                facility=_facility(facilities, facility_id),
                entries=None if suppressed else row["entries"],
                visitors=None if suppressed else row["visitors"],
                domestic_visitors=part("domestic"),
                international_visitors=part("international"),
                unknown_visitors=part("unknown"),
                is_suppressed=suppressed,
            )
        )
    return result


def load_period_circulation(con: duckdb.DuckDBPyConnection, period: Period) -> list[SegmentShare]:
    rows = page_rows(con, "period_circulation", period_grain=period.grain, period_start=period.start)
    return _segment_shares(rows, "visitors", "multi_facility_visitors", "circulation_rate")


def load_period(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    facilities: dict[str, Facility],
    service_day_start_hour: int,
) -> DayData:
    """Everything one ISO-week or month page shows, from the *_by_period marts."""
    return DayData(
        service_date=period.start,
        facilities=facilities,
        facility_days=load_period_facilities(con, period, facilities),
        circulation=load_period_circulation(con, period),
        satisfaction=None,  # daily answers are not summed: the indicator panel covers periods
        heat=load_heat(con, period.start, service_day_start_hour, last_date=period.end),
        period=period,
        days_with_data=days_with_data(con, period.start, period.end),
        size_by="visitors",
        **_movement(con, "period_flows", "period_routes", period_grain=period.grain, period_start=period.start),
    )
