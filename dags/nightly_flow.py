"""
### nightly_flow: landing files → DuckDB warehouse → marts → dashboards

Runs at 02:00 Asia/Tokyo for the service day that ended the evening before (or for the
range given by the `first_service_date` / `last_service_date` params, for backfills and
the demo). One ingest task per source declared in `sources/*.yaml`; every task that writes
the DuckDB file runs in the one-slot pool `duckdb_writer` because DuckDB allows a single
writer process. All logic lives in `flowlib`; see docs/architecture.md.

A refused or missing feed does not blank the night: `record_deliveries` runs once every
ingest task is done, whatever its outcome, and records which feeds were not loaded; the
marts and pages are then built from what loaded and show the gaps, and `check_feeds`
ends the run failed (so alerts fire) when a delivery was rejected. A refused file fails its
ingest task at once (retrying cannot change it); lock waits and I/O errors are retried.
Late and corrected deliveries are loaded by the `catchup_flow` DAG (docs/operations.md).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronTriggerTimetable, Param, TriggerRule, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from flowlib.dag_defaults import DASHBOARDS_URI, MARTS_URI, OPEN_DATA_URI, TIMEZONE, WAREHOUSE_POOL, dag_options
from flowlib.sources import load_registry

MARTS = Asset(MARTS_URI)
DASHBOARDS = Asset(DASHBOARDS_URI)
OPEN_DATA = Asset(OPEN_DATA_URI)


@dag(
    dag_id="nightly_flow",
    schedule=CronTriggerTimetable("0 2 * * *", timezone=TIMEZONE),
    **dag_options(__doc__, ["nightly"], retries=2, retry_exponential_backoff=True, max_retry_delay=timedelta(minutes=20)),
    params={
        "first_service_date": Param("", type="string", description="YYYY-MM-DD; empty = the day before the run"),
        "last_service_date": Param("", type="string", description="YYYY-MM-DD; empty = first_service_date"),
        "force_reload": Param(False, type="boolean", description="reload unchanged files (after a key rotation)"),
        "allow_shrink": Param(
            False, type="boolean", description="accept re-deliveries that remove most of a loaded day (docs/reliability.md)"
        ),
    },
)
def nightly_flow():
    @task
    def service_dates() -> list[str]:
        from flowlib.pipeline import resolve_service_dates

        context = get_current_context()
        params = context["params"]
        return resolve_service_dates(
            context.get("logical_date"), params.get("first_service_date") or None, params.get("last_service_date") or None
        )

    @task(pool=WAREHOUSE_POOL)
    def prepare_warehouse() -> dict[str, int]:
        from flowlib.pipeline import prepare_warehouse as prepare

        return prepare()

    @task(pool=WAREHOUSE_POOL)
    def ingest(source_name: str, dates: list[str]) -> list[dict]:
        from flowlib.ingest import IngestError
        from flowlib.pipeline import ingest_source

        params = get_current_context()["params"]
        try:
            return ingest_source(
                source_name, dates, force=bool(params.get("force_reload")), allow_shrink=bool(params.get("allow_shrink"))
            )
        except IngestError as exc:
            # a refused file (parse or validation failure) stays refused: fail now, no retries
            raise AirflowFailException(str(exc)) from exc

    @task(pool=WAREHOUSE_POOL, trigger_rule=TriggerRule.ALL_DONE)
    def record_deliveries(dates: list[str]) -> list[str]:
        """Runs when every ingest task is done, failed or not, so a bad feed never blanks the
        night; build_marts then runs (all_success) only when this gate succeeded."""
        from flowlib.pipeline import record_unfinished_deliveries

        context = get_current_context()
        ti = context["ti"]
        if ti.xcom_pull(task_ids="prepare_warehouse", default=None) is None:
            raise AirflowFailException("prepare_warehouse did not succeed; nothing is built on an unprepared warehouse.")
        unfinished = [name for name in load_registry() if ti.xcom_pull(task_ids=f"ingest_{name}", default=None) is None]
        since = pendulum.instance(context["dag_run"].start_date).in_timezone(TIMEZONE).naive()
        return record_unfinished_deliveries(dates, unfinished, since)

    @task(pool=WAREHOUSE_POOL, outlets=[MARTS])
    def build_marts(dates: list[str]) -> dict[str, dict[str, int]]:
        from flowlib.pipeline import build_marts as build

        return build(dates)

    @task(pool=WAREHOUSE_POOL)
    def build_forecast() -> dict[str, int]:
        from flowlib.pipeline import build_forecast as build

        return build()

    @task(outlets=[OPEN_DATA])
    def publish_open_data() -> dict:
        from flowlib.pipeline import publish_open_data as publish

        return publish()

    @task
    def build_data_docs() -> str | None:
        from flowlib.pipeline import build_data_docs as build

        return build()

    @task(outlets=[DASHBOARDS])
    def publish_dashboards(dates: list[str]) -> str:
        from flowlib.pipeline import publish_dashboards as publish

        return publish(dates)

    @task(pool=WAREHOUSE_POOL)
    def check_feeds(dates: list[str]) -> None:
        """Last: the run ends failed while a delivery of its days is rejected or failed."""
        from flowlib.pipeline import feed_problems

        problems = feed_problems(dates)
        if problems:
            raise AirflowFailException(
                f"{len(problems)} deliver{'y was' if len(problems) == 1 else 'ies were'} not loaded; the pages "
                "were built from the rest and show the gaps: " + "; ".join(problems)
            )

    dates = service_dates()
    prepared = prepare_warehouse()
    loads = [ingest.override(task_id=f"ingest_{name}")(name, dates) for name in load_registry()]
    prepared >> loads
    checked = record_deliveries(dates)
    loads >> checked
    marts = build_marts(dates)
    checked >> marts
    docs = build_data_docs()
    checked >> docs
    forecast = build_forecast()
    marts >> forecast
    # open data after the forecast (it publishes the forecast too); the pages do not wait for
    # the open-data audit: a night whose files would expose a cell keeps yesterday's set and
    # fails check_feeds' run, but the division still gets its pages
    open_data = publish_open_data()
    forecast >> open_data
    published = publish_dashboards(dates)
    [marts, docs, forecast] >> published
    [published, open_data] >> check_feeds(dates)


nightly_flow()
