"""Catch-up: late and corrected deliveries for past service days, loaded without a person.

The ``catchup_flow`` DAG (every 30 minutes) asks :func:`find_work` which (source, day)
pairs changed since a run last looked at them, within ``FLOW_CATCHUP_LOOKBACK_DAYS``:

* a delivery appeared for a day that was late, pending or failed, or the files of a day
  changed (another sha256 than the one recorded in ``ops.feed_status``, the same hashes
  the load log holds): the day is re-ingested (:func:`reload`);
* a pending delivery passed its expected time with nothing in the landing folder: it is
  marked late.

Each touched day is then rebuilt (its marts and the weeks, months and fiscal years that
contain it: flowlib.models rebuilds complete periods with the day) and its pages and open
data are republished, through the same pipeline steps as the nightly run. Only days a
nightly run has already processed are looked at: the catch-up never starts a new day.

A file refused again is recorded with its digest, so it is not retried every cycle; the
next change to it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flowlib.alerts import notify
from flowlib.config import Settings, get_settings
from flowlib.sources import load_registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Work:
    """What one catch-up cycle has to do; empty when nothing changed."""

    reload: tuple[tuple[str, date], ...] = ()
    overdue: tuple[tuple[str, date], ...] = ()

    @property
    def days(self) -> list[date]:
        return sorted({day for _, day in self.reload + self.overdue})

    def __bool__(self) -> bool:
        return bool(self.reload or self.overdue)

    def to_json(self) -> dict[str, list[list[str]]]:
        """For XCom: plain lists of [source, ISO day]."""
        return {"reload": [[s, d.isoformat()] for s, d in self.reload], "overdue": [[s, d.isoformat()] for s, d in self.overdue]}

    @classmethod
    def from_json(cls, value: dict[str, list[list[str]]]) -> Work:
        return cls(
            tuple((s, date.fromisoformat(d)) for s, d in value.get("reload", [])),
            tuple((s, date.fromisoformat(d)) for s, d in value.get("overdue", [])),
        )


def lookback_start(settings: Settings, now: datetime) -> date:
    """The earliest service day the catch-up looks at."""
    return now.date() - timedelta(days=settings.catchup_lookback_days)


def find_work(settings: Settings | None = None, *, now: datetime | None = None) -> Work:
    """Compare the landing folder with ``ops.feed_status`` for the recent days."""
    from flowlib import feed_status
    from flowlib.warehouse import ensure_schema, writer

    settings = settings or get_settings()
    now = now or feed_status.now_jst()
    registry = load_registry(settings)
    # a writer connection: the table may need creating, and the DAG runs this in the writer pool
    with writer(settings) as con:
        ensure_schema(con, settings)
        known = feed_status.statuses(con, lookback_start(settings, now), now.date())
    reload, overdue = [], []
    for status in known:
        spec = registry.get(status.source)
        if spec is None or not spec.is_daily:
            continue  # a source removed from sources/ since
        files = feed_status.delivered_files(spec, status.service_date, settings)
        if files and feed_status.files_digest(files) != status.files_digest:
            reload.append((status.source, status.service_date))
        elif not files and status.status == "pending" and now > status.expected_at:
            overdue.append((status.source, status.service_date))
    work = Work(tuple(reload), tuple(overdue))
    if work:
        log.info("catch-up: reload %s; overdue %s", work.reload, work.overdue)
    return work


def pending_days(settings: Settings | None = None, *, now: datetime | None = None) -> list[tuple[str, date]]:
    """(source, day) pairs whose delivery is new or changed since a run last looked."""
    return list(find_work(settings, now=now).reload)


def reload(work: Work, settings: Settings | None = None, *, now: datetime | None = None) -> dict[str, list[str]]:
    """Re-ingest the changed days and mark overdue ones late; returns the days to rebuild
    and one line per delivery refused again (the day is still rebuilt: its other feeds
    may have changed, and its pages must show the new reason)."""
    from flowlib import feed_status
    from flowlib.ingest import IngestError
    from flowlib.pipeline import ingest_source
    from flowlib.warehouse import writer

    settings = settings or get_settings()
    registry = load_registry(settings)
    refused = []
    for source, day in work.reload:
        try:
            ingest_source(source, [day.isoformat()], settings)
        except IngestError as exc:
            refused.append(str(exc).splitlines()[0])
    if work.overdue:
        with writer(settings) as con:
            for source, day in work.overdue:
                status = feed_status.record(con, registry[source], day, "missing", [], now=now)
                notify(
                    "late_data",
                    f"{source}: no delivery for service day {day.isoformat()} "
                    f"(due {status.expected_at:%Y-%m-%d %H:%M} JST); the day is published "
                    "without it, marked incomplete; it is loaded when it arrives.",
                    {"source": source, "service_date": day.isoformat(), "owner": registry[source].owner.email},
                )
    return {"days": [d.isoformat() for d in work.days], "refused": refused}


def run_catchup(settings: Settings | None = None, *, now: datetime | None = None) -> dict[str, list[str]]:
    """One catch-up cycle without Airflow (the DAG runs the same steps as tasks)."""
    from flowlib import pipeline

    settings = settings or get_settings()
    work = find_work(settings, now=now)
    if not work:
        return {"days": [], "refused": [], "problems": []}
    done = reload(work, settings, now=now)
    pipeline.build_marts(done["days"], settings)
    pipeline.build_data_docs(settings)
    republish(done["days"], settings)
    return {**done, "problems": pipeline.feed_problems(done["days"], settings)}


def republish(service_dates: list[str], settings: Settings | None = None) -> str:
    """Forecast, open data and pages after the rebuilt days: the nightly run's steps in its order.

    The forecast is refitted because a caught-up day changes its history; the open data is
    audited again (a failed audit keeps the previous set and raises after the pages are out).
    """
    from flowlib import pipeline

    pipeline.build_forecast(settings)
    try:
        pipeline.publish_open_data(settings)
    except Exception:
        pipeline.publish_dashboards(service_dates, settings)
        raise
    return pipeline.publish_dashboards(service_dates, settings)
