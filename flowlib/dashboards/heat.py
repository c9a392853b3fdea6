"""The Wi-Fi heat map's data: connections per H3 cell and hour, coarsened to stay drawable."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date

import duckdb
import h3

from flowlib.dashboards.page_data import HeatSeries
from flowlib.dashboards.page_sql import page_rows

log = logging.getLogger(__name__)

#: Heat maps never carry more distinct cells than this; finer data is merged into
#: parent H3 cells. 2,000 cells x 24 hours keeps the hourly series near 1 MB.
MAX_HEAT_CELLS = 2_000


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


def load_heat(
    con: duckdb.DuckDBPyConnection,
    service_date: date,
    service_day_start_hour: int,
    last_date: date | None = None,
) -> HeatSeries:
    """Unsuppressed Wi-Fi connections per H3 cell and hour, normalised to 0-1 weights.

    With ``last_date`` the days ``service_date``..``last_date`` are summed per cell and
    clock hour (connections add up; only published cells enter the sum).
    """
    rows = page_rows(con, "wifi_heat", first_service_date=service_date, last_service_date=last_date or service_date)
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
