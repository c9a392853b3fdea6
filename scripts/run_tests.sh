#!/usr/bin/env bash
# The whole suite. Browser, end-to-end and distributed tests are part of it; locally they
# skip with a reason when a prerequisite is missing, under CI=true they fail instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow_env.sh
export GX_ANALYTICS_ENABLED=False
# Two pytest-xdist workers by default (TEST_WORKERS; 0 runs every test in this process):
# many tests wait on subprocesses, services or a single-threaded solver, so a second worker
# shortens the suite (docs/measurements.md, "The test suite"). A folder's tests, or a
# module's, run in one worker (tests/conftest.py, pytest_xdist_make_scheduler).
.venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" "$@"
