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

from airflow.sdk import Asset, CronTriggerTimetable, dag, task
from airflow.sdk.exceptions import AirflowFailException

from flowlib.dag_defaults import DASHBOARDS_URI, MARTS_URI, TIMEZONE, WAREHOUSE_POOL, dag_options

# the same assets nightly_flow updates: a consumer of either sees a caught-up day too
MARTS = Asset(MARTS_URI)
DASHBOARDS = Asset(DASHBOARDS_URI)


@dag(
    dag_id="catchup_flow",
    schedule=CronTriggerTimetable("15,45 * * * *", timezone=TIMEZONE),
    **dag_options(__doc__, ["catch-up"]),
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
