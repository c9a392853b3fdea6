#!/usr/bin/env bash
# The whole suite. Browser, end-to-end and distributed tests are part of it; locally they
# skip with a reason when a prerequisite is missing, under CI=true they fail instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow_env.sh
export GX_ANALYTICS_ENABLED=False
.venv/bin/python -m pytest "$@"
