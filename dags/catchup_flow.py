"""
### catchup_flow: late and corrected deliveries loaded without a person

Every 30 minutes: `find_work` compares the landing folder with what the runs recorded in
`ops.feed_status` for the last `FLOW_CATCHUP_LOOKBACK_DAYS` service days. A delivery that
appeared for a late day, or whose files changed (another sha256), is re-ingested; the day's
marts and the periods containing it are rebuilt and its pages and open data republished,
with the nightly run's own steps. When nothing changed the run stops after `find_work`
(skipped, not failed). `check_feeds` ends the run failed when a reloaded delivery is
refused again, so the alert names the file, line and problem. Logic: flowlib/catchup.py.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronTriggerTimetable, dag, task
from airflow.sdk.exceptions import AirflowFailException

from flowlib.alerts import on_task_failure

WAREHOUSE_POOL = "duckdb_writer"
# the same assets nightly_flow updates: a consumer of either sees a caught-up day too
MARTS = Asset("file:///nagasaki-tourism-flow/warehouse/marts")
DASHBOARDS = Asset("file:///nagasaki-tourism-flow/dashboards")


@dag(
    dag_id="catchup_flow",
    schedule=CronTriggerTimetable("15,45 * * * *", timezone="Asia/Tokyo"),
    start_date=pendulum.datetime(2026, 11, 1, tz="Asia/Tokyo"),
    catchup=False,
    max_active_runs=1,
    tags=["nagasaki", "catch-up", "tourism-flow"],
    doc_md=__doc__,
    default_args={
        "owner": "tourism-data",
        "retries": 1,
        "retry_delay": timedelta(minutes=2),
        "on_failure_callback": on_task_failure,
    },
)
def catchup_flow():
    @task.short_circuit(pool=WAREHOUSE_POOL)
    def find_work() -> dict:
        from flowlib.catchup import find_work as find

        work = find()
        return work.to_json() if work else {}  # empty: nothing changed, skip the rest

    @task(pool=WAREHOUSE_POOL)
    def reload(work: dict) -> dict:
        from flowlib.catchup import Work
        from flowlib.catchup import reload as run

        return run(Work.from_json(work))

    @task(pool=WAREHOUSE_POOL, outlets=[MARTS])
    def build_marts(done: dict) -> dict[str, dict[str, int]]:
        from flowlib.pipeline import build_marts as build

        return build(done["days"])

    @task
    def build_data_docs() -> str | None:
        from flowlib.pipeline import build_data_docs as build

        return build()

    @task(outlets=[DASHBOARDS])
    def republish(done: dict) -> str:
        from flowlib.catchup import republish as publish

        return publish(done["days"])

    @task(pool=WAREHOUSE_POOL)
    def check_feeds(done: dict) -> None:
        from flowlib.pipeline import feed_problems

        problems = feed_problems(done["days"])
        if problems:
            raise AirflowFailException("caught-up days still lack deliveries: " + "; ".join(problems))

    done = reload(find_work())
    marts = build_marts(done)
    docs = build_data_docs()
    done >> docs
    published = republish(done)
    [marts, docs] >> published
    published >> check_feeds(done)


catchup_flow()
