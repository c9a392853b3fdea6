"""The nightly pipeline's steps, as plain functions the DAG tasks and the CLI both call.

Each step takes service dates as ISO strings (what Airflow passes around) and returns a
small id-free summary, so nothing personal can end up in XComs or task logs.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from flowlib.alerts import notify
from flowlib.atomic import write_text_atomic
from flowlib.config import Settings, get_settings
from flowlib.sources import SourceSpec, load_registry

if TYPE_CHECKING:
    from flowlib.feed_status import FeedStatus

log = logging.getLogger(__name__)
JST = ZoneInfo("Asia/Tokyo")


def resolve_service_dates(logical_date: datetime | None, first: str | None = None, last: str | None = None) -> list[str]:
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


def prepare_warehouse(settings: Settings | None = None, *, report_unclaimed: bool = True) -> dict[str, int]:
    """Create the warehouse tables and reload reference data from geo/; alert on landing
    files no declaration loads (off for a single-source CLI load)."""
    from flowlib.models import build_views
    from flowlib.reference import load_reference
    from flowlib.warehouse import ensure_schema, writer

    settings = settings or get_settings()
    with writer(settings) as con:
        ensure_schema(con, settings)
        counts = load_reference(con, settings)
        build_views(con, settings)
    if report_unclaimed:
        report_unclaimed_files(settings)
    return counts


def report_unclaimed_files(settings: Settings | None = None) -> list[str]:
    """Alert on files in the landing folder that no declaration loads or reports."""
    from flowlib.parsing import printable
    from flowlib.sources import unclaimed_files

    settings = settings or get_settings()
    root = settings.landing_dir.resolve()
    names = [p.relative_to(root).as_posix() for p in unclaimed_files(load_registry(settings), settings.landing_dir)]
    if names:
        shown = ", ".join(printable(n) for n in names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        notify(
            "unclaimed_files",
            f"{len(names)} file(s) in the landing folder match no source declaration and are "
            f"never loaded: {shown}; move them where their feed's declaration expects them, "
            "or declare the feed (docs/adding-a-source.md).",
            {"files": len(names)},
        )
    return names


def _results_dir(settings: Settings) -> Path:
    return settings.data_dir / "validation_results"


def ingest_source(
    source_name: str,
    service_dates: list[str],
    settings: Settings | None = None,
    *,
    force: bool = False,
    allow_shrink: bool = False,
) -> list[dict]:
    """Load one source for each day; GX results are kept on disk for the Data Docs.

    ``force`` reloads even unchanged files (after an HMAC key rotation, or a fix to a
    declaration), so history can be reprocessed without deleting the warehouse.
    What was found for each day (loaded, late, rejected ...) is recorded in
    ``ops.feed_status``. A refused delivery does not stop the other days: they are loaded,
    then an IngestError naming every refused file is raised.
    """
    from flowlib.feed_status import delivered_files
    from flowlib.ingest import IngestError, ingest_partition
    from flowlib.parsing import printable
    from flowlib.sources import lookup

    settings = settings or get_settings()
    spec = lookup(load_registry(settings), source_name, settings)
    summaries = []
    refused: list[IngestError] = []
    days: list[str | None] = list(service_dates) if spec.is_daily else [None]
    for day in days:
        service_date = date.fromisoformat(day) if day else None
        # hashed before the load: a file replaced while it loads then differs, and is reloaded
        seen = delivered_files(spec, service_date, settings) if service_date else []
        try:
            result = ingest_partition(spec, service_date, settings, force=force, allow_shrink=allow_shrink)
        except IngestError as exc:
            _record_delivery(spec, service_date, "rejected", seen, settings, reason=str(exc))
            refused.append(exc)
            continue
        except Exception as exc:
            # retried by Airflow (a lock wait, an I/O error); the pages say so meanwhile
            _record_delivery(spec, service_date, "failed", seen, settings, reason=f"{type(exc).__name__}: {exc}")
            raise
        if result.duplicates or result.skipped:
            named = [f"{printable(f.file_name)} ({'; '.join(f.notes)})" for f in result.duplicates]
            named += [f"{printable(name)} ({why} file)" for name, why in result.skipped]
            notify(
                "files_not_loaded",
                f"{source_name} {day or 'snapshot'}: {len(named)} file(s) not loaded: "
                f"{', '.join(named)[:1500]}; remove them from the landing folder if they "
                "are stray copies, or re-deliver them complete.",
                {"source": source_name, "service_date": day, "owner": spec.owner.email},
            )
        status = _record_delivery(spec, service_date, "missing" if result.outcome == "no_files" else "delivered", seen, settings)
        if result.outcome == "no_files" and status is not None and status.status == "pending":
            log.info("%s: no delivery for %s yet; due %s JST", source_name, day, f"{status.expected_at:%Y-%m-%d %H:%M}")
        elif result.outcome == "no_files":
            when = f"due {status.expected_at:%Y-%m-%d %H:%M} JST" if status else "snapshot"
            notify(
                "late_data",
                f"{source_name}: no delivery for service day {day} "
                f"(expected {spec.glob_for(service_date)}, {when}); "
                "the day is published without it, marked incomplete; the catch-up run "
                "loads it and rebuilds the day when it arrives.",
                {"source": source_name, "service_date": day, "owner": spec.owner.email},
            )
        if result.validation_results:
            folder = _results_dir(settings) / source_name / (day or "snapshot")
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob("*.json"):
                old.unlink()
            for index, gx_result in enumerate(result.validation_results):
                write_text_atomic(folder / f"{index:04d}.json", json.dumps(gx_result, ensure_ascii=False, sort_keys=True))
        summaries.append(result.summary())
    if len(refused) == 1:
        raise refused[0]
    if refused:
        raise IngestError(
            f"{len(refused)} deliveries of {source_name} were refused; the other days were loaded. "
            + " | ".join(str(exc) for exc in refused)
        )
    return summaries


def _record_delivery(
    spec: SourceSpec,
    service_date: date | None,
    outcome: str,
    files: list[tuple[str, str]],
    settings: Settings,
    *,
    reason: str | None = None,
) -> FeedStatus | None:
    """Record what was found for a daily source's day in ops.feed_status (snapshots: nothing)."""
    from flowlib import feed_status
    from flowlib.warehouse import writer

    if service_date is None:
        return None
    with writer(settings) as con:
        return feed_status.record(con, spec, service_date, outcome, files, reason=reason)


def record_unfinished_deliveries(
    service_dates: list[str], unfinished_sources: list[str], since: datetime, settings: Settings | None = None
) -> list[str]:
    """After the ingest steps, whatever their outcome: mark the days a stopped ingest step
    never checked (status older than ``since``, naive JST) as failed, so the pages and
    the final check see them. Returns the night's problems (see :func:`feed_problems`)."""
    from flowlib import feed_status
    from flowlib.warehouse import writer

    settings = settings or get_settings()
    registry = load_registry(settings)
    with writer(settings) as con:
        for name in unfinished_sources:
            spec = registry[name]
            if not spec.is_daily:
                continue
            for day in service_dates:
                known = feed_status.current(con, name, date.fromisoformat(day))
                if known is None or known.checked_at < since:
                    feed_status.record(
                        con,
                        spec,
                        date.fromisoformat(day),
                        "failed",
                        feed_status.delivered_files(spec, date.fromisoformat(day), settings),
                        reason="the ingest step stopped before it checked this day; its task log says why.",
                    )
    return feed_problems(service_dates, settings)


def feed_problems(service_dates: list[str], settings: Settings | None = None) -> list[str]:
    """One line per rejected or failed delivery of the days: why a run must end failed."""
    from flowlib import feed_status
    from flowlib.warehouse import writer

    settings = settings or get_settings()
    with writer(settings) as con:
        return [feed_status.describe(s) for s in feed_status.problems(con, [date.fromisoformat(d) for d in service_dates])]


def _require_prepared(con, settings: Settings) -> None:
    """One sentence, not a catalog error, when marts are asked of a warehouse never prepared."""
    from flowlib.models import ModelError

    prepared = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'ops' and table_name = 'load_log'"
    ).fetchone()[0]
    if not prepared:
        raise ModelError(
            f"the warehouse {settings.warehouse_path} has not been prepared and holds no deliveries: run "
            "`flowlib run` (or `flowlib ingest <source>`) first, which prepares it and loads the days."
        )


def consecutive_runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as (first, last) runs of consecutive days."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def build_marts(
    service_dates: list[str], settings: Settings | None = None, *, rebuild: bool = False
) -> dict[str, dict[str, int]]:
    """Build the models and marts of ``service_dates``, the KPI and action marts, and settle
    the disclosure, in one transaction. When the warehouse, the code and the settings are as
    the last build of the same days left them, nothing is built (flowlib.build_state) unless
    ``rebuild``: returns ``{"up_to_date": {"days": n}}`` then."""
    from flowlib import build_state
    from flowlib.action_marts import build_action_marts
    from flowlib.indicator_mart import build_indicator
    from flowlib.keys import check_one_key
    from flowlib.models import build_range, dependants, discover
    from flowlib.opendata import write_files
    from flowlib.privacy import forget_withheld, settle
    from flowlib.warehouse import backup, transaction, write_once_more_after_engine_fault

    settings = settings or get_settings()
    days = sorted({date.fromisoformat(day) for day in service_dates})
    models = discover(settings.sql_dir)
    marts = [model.name for model in models if model.relation.startswith("marts.")]

    def rebuild_withheld(con, days: list[date], withheld: list[str]) -> set[str]:  # type: ignore[no-untyped-def]
        # Only the marts a round withheld rows in, and what reads them, change: the others
        # would be built to the same rows (tests/disclosure/test_settlement_world.py holds
        # this to rebuilding every mart). One range: each period containing a withheld row
        # rolls up once (a month's roll-up, rebuilt per run of days, took long).
        changed = dependants(models, withheld)
        build_range(con, min(days), max(days), settings, only=[name for name in marts if f"marts.{name}" in changed])
        return set(changed) | set(build_action_marts(con, settings, changed))

    def build(con) -> dict[str, dict[str, int]]:  # type: ignore[no-untyped-def]
        built: dict[str, dict[str, int]] = {}
        _require_prepared(con, settings)
        check_one_key(con, settings)
        if not rebuild and build_state.up_to_date(con, settings, days):
            log.info(
                "marts of %d day(s) are up to date: the warehouse, code and settings are as their last build left them", len(days)
            )
            return {"up_to_date": {"days": len(days)}}
        # One transaction for the whole build: a night killed between the rules and the last
        # round of the settlement must leave the marts as they were, never published-looking
        # marts that only the first rounds protected (tests/reliability/test_crash_safety.py).
        with transaction(con):
            forget_withheld(con, days)
            # A run of consecutive days is one build: ranged models pass over it once and each
            # period rolls up once (tests/test_routes.py holds a range equal to day-by-day builds).
            for first, last in consecutive_runs(days):
                label = first.isoformat() if first == last else f"{first}..{last}"
                log.info("building marts for %s", label)
                built[label] = build_range(con, first, last, settings)
                log.info("marts for %s built: %s", label, built[label])
            # The KPI's periods (month, quarter, fiscal year) span days, so it is rebuilt whole.
            built["indicator"] = build_indicator(con, settings)
            # Issue 14: all-visitor estimates, opportunities, measure effects (Python over the marts).
            built["action"] = build_action_marts(con, settings)
            # The last rule: what the open data would publish is audited, and complementary rows
            # are withheld until no hidden cell can be narrowed below k (flowlib.privacy.settle).
            built["settlement"] = settle(
                con,
                settings.min_cell_count,
                write=lambda folder, changed: write_files(con, settings, folder, for_audit=True, changed=changed),
                rebuild=lambda days, withheld: rebuild_withheld(con, days, withheld),
                workers=settings.audit_workers,
                verdicts=settings.audit_verdicts_dir,
            )
            log.info("disclosure settled: %s", built["settlement"])
            build_state.record(con, settings, days)
        return built

    built = write_once_more_after_engine_fault(build, settings, what="build_marts")
    if "up_to_date" not in built:  # else nothing changed since the last backup
        log.info("warehouse backed up to %s", backup(settings))
    return built


def build_forecast(settings: Settings | None = None) -> dict[str, int]:
    """Look ahead, from the marts (rebuilt whole): the crowding forecast for the next 14 days
    with its backtest, and the KPI's monthly path towards the 2027 target."""
    from flowlib.forecast import build_forecast as build
    from flowlib.indicator import load_definition
    from flowlib.kpi_path import build_kpi_path
    from flowlib.warehouse import writer

    settings = settings or get_settings()
    with writer(settings) as con:
        counts = build(con)
        counts.update(build_kpi_path(con, load_definition(settings.indicator_file), settings.min_cell_count))
    return counts


def publish_open_data(settings: Settings | None = None) -> dict[str, object]:
    """Every open-data file, audited against differencing before it replaces the last set
    (flowlib.opendata); fails naming an exposed cell, and then publishes nothing."""
    from flowlib.opendata import publish_open_data as publish

    return publish(settings or get_settings()).summary()


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


#: what the pages' folder holds that other steps write (the open data: its own digest, below)
_NOT_PAGES = frozenset({".opendata", "exports"})


def _pages_digest(settings: Settings) -> str:
    """The pages as they are on disk, and the open-data set the index lists."""
    from flowlib.build_state import files_digest
    from flowlib.opendata import current_version

    exports = current_version(settings.dashboards_dir)
    published = files_digest(exports) if exports is not None else "none"
    return f"{files_digest(settings.dashboards_dir, _NOT_PAGES)}:{published}"


def publish_dashboards(service_dates: list[str] | None = None, settings: Settings | None = None) -> str:
    """The night's pages (flowlib.dashboards.build_dashboards). Kept as they are when the
    warehouse, code, settings and dates have the digest they had when the pages were last
    written (flowlib.build_state) and the pages' folder holds what was written then: the
    pages read nothing else (no clock), so they would be written again byte for byte."""
    from flowlib.build_state import state_digest
    from flowlib.warehouse import reader

    settings = settings or get_settings()
    dates = [date.fromisoformat(d) for d in service_dates] if service_dates else None
    index = settings.dashboards_dir / "index.html"
    with reader(settings) as con:
        state = state_digest(con, settings, dates if dates is not None else ["every date"], skip=frozenset())
    try:
        recorded = json.loads(settings.pages_state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = {}
    if recorded.get("state") == state and index.is_file() and recorded.get("pages") == _pages_digest(settings):
        log.info("pages: warehouse, code, settings and dates as when they were written; kept")
        return str(index)
    # (folium and the drawing modules are imported only when pages are written: about 0.5 s)
    from flowlib.dashboards import build_dashboards
    from flowlib.dashboards.publish import sweep_stale_temp_files

    # an interrupted run's temporary files differ from what was written, so they never keep
    for debris in sweep_stale_temp_files(settings.dashboards_dir):
        log.info("removed %s, left by an interrupted run", debris)
    with reader(settings) as con:
        index = build_dashboards(con, settings, dates)
    write_text_atomic(settings.pages_state_file, json.dumps({"state": state, "pages": _pages_digest(settings)}, indent=1))
    return str(index)


def run_all(
    service_dates: list[str],
    settings: Settings | None = None,
    *,
    force: bool = False,
    allow_shrink: bool = False,
    rebuild: bool = False,
) -> str:
    """The whole night without Airflow (CLI, tests, benchmarks): same steps, same order.
    ``force`` reloads unchanged files; ``rebuild`` builds the marts even when nothing changed
    since their last build (:func:`build_marts`).

    A refused delivery does not stop the night: the other sources load, marts and pages
    are built from what loaded (showing the gap), then an IngestError lists what was refused.
    """
    from flowlib.ingest import IngestError

    settings = settings or get_settings()
    prepare_warehouse(settings)
    for name in load_registry(settings):
        try:
            ingest_source(name, service_dates, settings, force=force, allow_shrink=allow_shrink)
        except IngestError as exc:
            log.error("%s refused; continuing with the other sources: %s", name, exc)
    build_marts(service_dates, settings, rebuild=rebuild)
    build_forecast(settings)
    publish_open_data(settings)
    build_data_docs(settings)
    # as the DAG's task: the nights' pages, their weeks and months, the page before each (its
    # "next" link) and any page still missing; the other pages do not change
    index = publish_dashboards(service_dates, settings)
    problems = feed_problems(service_dates, settings)
    if problems:
        raise IngestError(
            f"the night was built without {len(problems)} deliver{'y' if len(problems) == 1 else 'ies'} "
            f"(pages show the gaps, index: {index}): " + "; ".join(problems)
        )
    return index
