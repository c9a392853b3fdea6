#!/usr/bin/env bash
# Create .venv from the lock file. Idempotent: does nothing when the lock is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.8
stamp=.venv/.lock-sha256
# this script is hashed too: a change to how the environment is built rebuilds it
want=$(cat requirements.lock pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  echo "[setup] environment is up to date (.venv)"
  exit 0
fi
python_bin=${PYTHON:-}
if [[ -z $python_bin ]]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python_bin=$candidate; break
    fi
  done
fi
if [[ -z $python_bin ]]; then
  echo "error: Python 3.11 is needed; install it (e.g. 'apt-get install python3.11') or set PYTHON=/path/to/python3.11." >&2
  exit 2
fi
echo "[setup 1/3] creating .venv with $($python_bin --version)"
[[ -x .venv/bin/python ]] || "$python_bin" -m venv .venv
echo "[setup 2/3] installing uv $UV_VERSION"
.venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
echo "[setup 3/3] installing the locked dependencies (requirements.lock, $(grep -c '==' requirements.lock) packages)"
# Compiled to bytecode here, once: with PYTHONDONTWRITEBYTECODE set (as on this project's
# machines and CI) Python never caches it, and every process (each Airflow task, each test
# subprocess, each `flowlib run`) compiled pandas, scipy, duckdb ... from source, about 5 s.
.venv/bin/uv pip sync --compile-bytecode --python .venv/bin/python requirements.lock
.venv/bin/uv pip install --python .venv/bin/python --no-deps -e . >/dev/null
echo "$want" > "$stamp"
echo "[setup] environment ready"
