#!/usr/bin/env bash
# Prepare the local Airflow home: migrated metadata DB and the warehouse writer pool.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow_env.sh
mkdir -p "$AIRFLOW_HOME"
stamp=$AIRFLOW_HOME/.migrated-$(.venv/bin/python -c 'import airflow; print(airflow.__version__)')
if [[ ! -f $stamp ]]; then
  echo "[airflow] migrating the metadata database in $AIRFLOW_HOME"
  .venv/bin/airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || {
    tail -20 "$AIRFLOW_HOME/db-migrate.log" >&2
    echo "error: 'airflow db migrate' failed; see $AIRFLOW_HOME/db-migrate.log" >&2; exit 2; }
  touch "$stamp"
else
  echo "[airflow] metadata database is migrated ($AIRFLOW_HOME)"
fi
.venv/bin/airflow pools set duckdb_writer 1 "DuckDB allows one writer process" > /dev/null 2>&1 || {
  echo "error: could not create the duckdb_writer pool" >&2; exit 2; }
echo "[airflow] pool duckdb_writer (1 slot) ready"
