#!/usr/bin/env bash
# One catch-up cycle through real Airflow ('airflow dags test catchup_flow'): late and
# corrected deliveries of past service days are loaded, their days rebuilt and their pages
# republished. The scheduler runs the DAG every 30 minutes; this is for a terminal and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow_env.sh
run_date=$(.venv/bin/python -c "import datetime as d; print(d.datetime.now(d.timezone.utc).replace(microsecond=0).isoformat())")
log=$AIRFLOW_HOME/catchup-${run_date//:/}.log
echo "[catch-up] airflow dags test catchup_flow $run_date (log: $log)"
set +e
.venv/bin/airflow dags test catchup_flow "$run_date" 2>&1 | tee "$log" | \
  grep --line-buffered -E "\[DAG TEST\] (starting|end) task|DagRun Finished" | \
  sed -u -E 's/.*\[DAG TEST\] starting task_id=([^ ]+).*/[catch-up]   running \1 .../; s/.*\[DAG TEST\] end task task_id=([^ ]+).*/[catch-up]   done    \1/; s/.*DagRun Finished.*state=([a-z]+).*/[catch-up] run finished: \1/'
status=${PIPESTATUS[0]}
set -e
if [[ $status -ne 0 ]] || grep -q "state=failed" "$log" || ! grep -q "DagRun Finished.*state=success" "$log"; then
  grep -E "error:|Error|Exception" "$log" | grep -v "^\s*$" | tail -5 >&2 || true
  echo "error: the catch-up run failed; the task log above and $log say why." >&2
  exit 1
fi
