# Sourced by run_nightly.sh and run_catchup.sh: one 'airflow dags test' run shown as one line
# per task, so both scripts report progress and decide success the same way.
# dag_test LABEL LOG DAG_ID RUN_DATE [airflow args...]: returns 0 only when the run succeeded.
dag_test() {
  local label=$1 log=$2 dag_id=$3 run_date=$4 status
  shift 4
  set +e
  .venv/bin/airflow dags test "$dag_id" "$run_date" "$@" 2>&1 | tee "$log" | \
    grep --line-buffered -E "\[DAG TEST\] (starting|end) task|DagRun Finished" | \
    sed -u -E "s/.*\[DAG TEST\] starting task_id=([^ ]+).*/[$label]   running \1 .../; s/.*\[DAG TEST\] end task task_id=([^ ]+).*/[$label]   done    \1/; s/.*DagRun Finished.*state=([a-z]+).*/[$label] run finished: \1/"
  status=${PIPESTATUS[0]}
  set -e
  if [[ $status -ne 0 ]] || grep -q "state=failed" "$log" || ! grep -q "DagRun Finished.*state=success" "$log"; then
    grep -E "error:|Error|Exception" "$log" | grep -v "^\s*$" | tail -5 >&2 || true
    return 1
  fi
  # Airflow reports success for a run in which no task ran at all (a logical date before the
  # DAG's start_date creates no task): that is nothing done, not a success.
  if ! grep -q "\[DAG TEST\] starting task" "$log"; then
    echo "error: the $dag_id run for $run_date ran no task although Airflow reports success (a logical date before the DAG's start date?); nothing was loaded or published (log: $log)." >&2
    return 1
  fi
}
