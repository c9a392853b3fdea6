"""The nightly pipeline's steps, as plain functions the DAG tasks and the CLI both call.

Each step takes service dates as ISO strings (what Airflow passes around) and returns a
small id-free summary, so nothing personal can end up in XComs or task logs.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flowlib.alerts import notify
from flowlib.config import Settings, get_settings
from flowlib.sources import load_registry

log = logging.getLogger(__name__)
JST = ZoneInfo("Asia/Tokyo")


def resolve_service_dates(logical_date: datetime | None, first: str | None = None,
                          last: str | None = None) -> list[str]:
    """The days a run processes: an explicit range, else the day before the run's date.

    The nightly run fires at 02:00 JST and processes the service day that ended the
    evening before (every gated facility has closed by then).
    """
    if first:
        start = date.fromisoformat(first)
        end = date.fromisoformat(last) if last else start
        if end < start:
            raise ValueError(f"last service date {end} is before the first {start}; swap them.")
        return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    if logical_date is None:
        raise ValueError("no logical date and no explicit service dates were given.")
    local = logical_date.astimezone(JST) if logical_date.tzinfo else logical_date
    return [(local.date() - timedelta(days=1)).isoformat()]


def prepare_warehouse(settings: Settings | None = None) -> dict[str, int]:
    """Create the warehouse tables and reload reference data from geo/."""
    from flowlib.models import build_views
    from flowlib.reference import load_reference
    from flowlib.warehouse import ensure_schema, writer

    settings = settings or get_settings()
    with writer(settings) as con:
        ensure_schema(con, settings)
        counts = load_reference(con, settings)
        build_views(con, settings)
    return counts


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside the target, then rename: never a torn file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _results_dir(settings: Settings) -> Path:
    return settings.data_dir / "validation_results"


def ingest_source(source_name: str, service_dates: list[str], settings: Settings | None = None,
                  *, force: bool = False) -> list[dict]:
    """Load one source for each day; GX results are kept on disk for the Data Docs.

    ``force`` reloads even unchanged files (after an HMAC key rotation, or a fix to a
    declaration), so history can be reprocessed without deleting the warehouse.
    """
    from flowlib.ingest import ingest_partition

    settings = settings or get_settings()
    spec = load_registry(settings)[source_name]
    summaries = []
    days: list[str | None] = list(service_dates) if spec.is_daily else [None]
    for day in days:
        result = ingest_partition(spec, date.fromisoformat(day) if day else None, settings, force=force)
        if result.outcome == "no_files":
            notify("late_data", f"{source_name}: no delivery for service day {day} "
                                f"(expected {spec.glob_for(date.fromisoformat(day) if day else None)}); "
                                "the day is published without it; re-run the day once it arrives.",
                   {"source": source_name, "service_date": day, "owner": spec.owner.email})
        if result.validation_results:
            folder = _results_dir(settings) / source_name / (day or "snapshot")
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob("*.json"):
                old.unlink()
            for index, gx_result in enumerate(result.validation_results):
                _write_atomically(folder / f"{index:04d}.json", json.dumps(gx_result, ensure_ascii=False, sort_keys=True))
        summaries.append(result.summary())
    return summaries


def build_marts(service_dates: list[str], settings: Settings | None = None) -> dict[str, dict[str, int]]:
    from flowlib.models import build_day
    from flowlib.warehouse import writer

    from flowlib.indicator_mart import build_indicator, export_indicator_csv

    settings = settings or get_settings()
    built = {}
    with writer(settings) as con:
        for day in service_dates:
            built[day] = build_day(con, date.fromisoformat(day), settings)
            log.info("marts for %s built: %s", day, built[day])
        # The KPI's periods (month, quarter, fiscal year) span days, so it is rebuilt whole.
        built["indicator"] = build_indicator(con, settings)
        export_indicator_csv(con, settings.dashboards_dir / "exports")
    return built


def build_data_docs(settings: Settings | None = None) -> str | None:
    """GX Data Docs over every stored validation result, into dashboards/data-docs/."""
    settings = settings or get_settings()
    paths = sorted(_results_dir(settings).glob("*/*/*.json"))
    index = settings.dashboards_dir / "data-docs" / "index.html"
    if paths and index.is_file() and index.stat().st_mtime >= max(p.stat().st_mtime for p in paths):
        # nothing was validated since the docs were built: GX (seconds to import) is not needed
        return str(index)
    from flowlib.validation import build_data_docs as build

    results = []
    for path in paths:
        try:
            results.append(json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("skipping unreadable validation result %s (re-run its day with force_reload)", path)
    if not results:
        return None
    return str(build(results, settings.dashboards_dir / "data-docs"))


def publish_dashboards(service_dates: list[str] | None = None, settings: Settings | None = None) -> str:
    from flowlib.dashboards import build_dashboards
    from flowlib.dashboards.publish import sweep_stale_temp_files
    from flowlib.warehouse import reader

    settings = settings or get_settings()
    for debris in sweep_stale_temp_files(settings.dashboards_dir):
        log.info("removed %s, left by an interrupted run", debris)
    with reader(settings) as con:
        index = build_dashboards(con, settings, [date.fromisoformat(d) for d in service_dates] if service_dates else None)
    return str(index)


def run_all(service_dates: list[str], settings: Settings | None = None, *, force: bool = False) -> str:
    """The whole night without Airflow (CLI, tests, benchmarks): same steps, same order."""
    settings = settings or get_settings()
    prepare_warehouse(settings)
    for name in load_registry(settings):
        ingest_source(name, service_dates, settings, force=force)
    build_marts(service_dates, settings)
    build_data_docs(settings)
    return publish_dashboards(None, settings)
