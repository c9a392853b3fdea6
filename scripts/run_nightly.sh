#!/usr/bin/env bash
# Run the nightly DAG through real Airflow ('airflow dags test') for a range of service
# days, showing one line per task, and print where the dashboards are.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow_env.sh
source scripts/dag_test.sh
first=${1:?first service date}
last=${2:-$first}
log=$AIRFLOW_HOME/nightly-$first-$last.log
echo "[nightly] airflow dags test nightly_flow for service days $first .. $last (log: $log)"
conf=$(printf '{"first_service_date": "%s", "last_service_date": "%s"}' "$first" "$last")
run_date=$(.venv/bin/python -c "import datetime as d; print(d.date.fromisoformat('$last') + d.timedelta(days=1))")
if ! dag_test nightly "$log" nightly_flow "$run_date" -c "$conf"; then
  echo "error: the nightly run failed; the task log above and $log say why (fix the input named there and run again)." >&2
  exit 1
fi
