#!/usr/bin/env bash
# Run the nightly DAG through real Airflow ('airflow dags test') for a range of service
# days, showing one line per task, and print where the dashboards are.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow_env.sh
first=${1:?first service date}
last=${2:-$first}
log=$AIRFLOW_HOME/nightly-$first-$last.log
echo "[nightly] airflow dags test nightly_flow for service days $first .. $last (log: $log)"
conf=$(printf '{"first_service_date": "%s", "last_service_date": "%s"}' "$first" "$last")
run_date=$(.venv/bin/python -c "import datetime as d; print(d.date.fromisoformat('$last') + d.timedelta(days=1))")
set +e
.venv/bin/airflow dags test nightly_flow "$run_date" -c "$conf" 2>&1 | tee "$log" | \
  grep --line-buffered -E "\[DAG TEST\] (starting|end) task|DagRun Finished" | \
  sed -u -E 's/.*\[DAG TEST\] starting task_id=([^ ]+).*/[nightly]   running \1 .../; s/.*\[DAG TEST\] end task task_id=([^ ]+).*/[nightly]   done    \1/; s/.*DagRun Finished.*state=([a-z]+).*/[nightly] run finished: \1/'
status=${PIPESTATUS[0]}
set -e
if [[ $status -ne 0 ]] || grep -q "state=failed" "$log" || ! grep -q "DagRun Finished.*state=success" "$log"; then
  grep -E "error:|Error|Exception" "$log" | grep -v "^\s*$" | tail -5 >&2 || true
  echo "error: the nightly run failed; the task log above and $log say why (fix the input named there and run again)." >&2
  exit 1
fi
