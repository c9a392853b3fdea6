"""
### nightly_flow: landing files → DuckDB warehouse → marts → dashboards

Runs at 02:00 Asia/Tokyo for the service day that ended the evening before (or for the
range given by the `first_service_date` / `last_service_date` params, for backfills and
the demo). One ingest task per source declared in `sources/*.yaml`; every task that writes
the DuckDB file runs in the one-slot pool `duckdb_writer` because DuckDB allows a single
writer process. All logic lives in `flowlib`; see docs/architecture.md.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronTriggerTimetable, Param, dag, get_current_context, task

from flowlib.alerts import on_task_failure
from flowlib.sources import load_registry

WAREHOUSE_POOL = "duckdb_writer"
MARTS = Asset("file:///nagasaki-tourism-flow/warehouse/marts")
DASHBOARDS = Asset("file:///nagasaki-tourism-flow/dashboards")
OPEN_DATA = Asset("file:///nagasaki-tourism-flow/dashboards/exports")


@dag(
    dag_id="nightly_flow",
    schedule=CronTriggerTimetable("0 2 * * *", timezone="Asia/Tokyo"),
    start_date=pendulum.datetime(2026, 11, 1, tz="Asia/Tokyo"),
    catchup=False,
    max_active_runs=1,
    tags=["nagasaki", "nightly", "tourism-flow"],
    doc_md=__doc__,
    default_args={
        "owner": "tourism-data",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=20),
        "on_failure_callback": on_task_failure,
    },
    params={
        "first_service_date": Param("", type="string", description="YYYY-MM-DD; empty = the day before the run"),
        "last_service_date": Param("", type="string", description="YYYY-MM-DD; empty = first_service_date"),
        "force_reload": Param(False, type="boolean", description="reload unchanged files (after a key rotation)"),
    },
)
def nightly_flow():
    @task
    def service_dates() -> list[str]:
        from flowlib.pipeline import resolve_service_dates

        context = get_current_context()
        params = context["params"]
        return resolve_service_dates(context.get("logical_date"), params.get("first_service_date") or None,
                                     params.get("last_service_date") or None)

    @task(pool=WAREHOUSE_POOL)
    def prepare_warehouse() -> dict[str, int]:
        from flowlib.pipeline import prepare_warehouse as prepare

        return prepare()

    @task(pool=WAREHOUSE_POOL)
    def ingest(source_name: str, dates: list[str]) -> list[dict]:
        from flowlib.pipeline import ingest_source

        return ingest_source(source_name, dates, force=bool(get_current_context()["params"].get("force_reload")))

    @task(pool=WAREHOUSE_POOL, outlets=[MARTS])
    def build_marts(dates: list[str]) -> dict[str, dict[str, int]]:
        from flowlib.pipeline import build_marts as build

        return build(dates)

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

    dates = service_dates()
    prepared = prepare_warehouse()
    loads = [
        ingest.override(task_id=f"ingest_{name}")(name, dates)
        for name in load_registry()
    ]
    prepared >> loads
    marts = build_marts(dates)
    loads >> marts
    docs = build_data_docs()
    loads >> docs
    open_data = publish_open_data()
    marts >> open_data
    [open_data, docs] >> publish_dashboards(dates)


nightly_flow()
