"""What both DAGs share: the one-writer pool, the assets they update and their run defaults.

Plain Python so the DAG files stay thin and agree: a consumer of an asset sees a day
whichever DAG built it, and both DAGs alert and retry the same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flowlib.alerts import on_task_failure

#: DuckDB allows one writer process: every task that writes the warehouse runs in this one-slot pool.
WAREHOUSE_POOL = "duckdb_writer"
MARTS_URI = "file:///nagasaki-tourism-flow/warehouse/marts"
DASHBOARDS_URI = "file:///nagasaki-tourism-flow/dashboards"
OPEN_DATA_URI = "file:///nagasaki-tourism-flow/dashboards/exports"
TIMEZONE = "Asia/Tokyo"
#: The DAGs' start_date: the earliest logical date a run of them can have. Airflow creates no
#: task for a manual run (``airflow dags test``, what ``make backfill`` and ``make run`` start)
#: whose logical date is before it, and such a run ends "success" having done nothing: with
#: 1 November 2026 here, a weekly backfill of October loaded none of its first two weeks
#: (7 December). So it lies far back, before any service day the city will load; catchup=False
#: keeps the scheduler from creating the runs in between, and flowlib.backfill refuses a range
#: whose runs would fall before it.
EARLIEST_LOGICAL_DATE = datetime(2000, 1, 1, tzinfo=ZoneInfo(TIMEZONE))


def dag_options(doc: str, tags: list[str], **task_defaults: Any) -> dict[str, Any]:
    """The `@dag` arguments both DAGs use; `task_defaults` adds to or overrides the task defaults."""
    return {
        "start_date": EARLIEST_LOGICAL_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "tags": ["nagasaki", *tags, "tourism-flow"],
        "doc_md": doc,
        "default_args": {
            "owner": "tourism-data",
            "retries": 1,
            "retry_delay": timedelta(minutes=2),
            "on_failure_callback": on_task_failure,
            **task_defaults,
        },
    }
