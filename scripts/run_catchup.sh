#!/usr/bin/env bash
# One catch-up cycle through real Airflow ('airflow dags test catchup_flow'): late and
# corrected deliveries of past service days are loaded, their days rebuilt and their pages
# republished. The scheduler runs the DAG every 30 minutes; this is for a terminal and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow_env.sh
source scripts/dag_test.sh
run_date=$(.venv/bin/python -c "import datetime as d; print(d.datetime.now(d.timezone.utc).replace(microsecond=0).isoformat())")
log=$AIRFLOW_HOME/catchup-${run_date//:/}.log
echo "[catch-up] airflow dags test catchup_flow $run_date (log: $log)"
if ! dag_test catch-up "$log" catchup_flow "$run_date"; then
  echo "error: the catch-up run failed; the task log above and $log say why." >&2
  exit 1
fi
