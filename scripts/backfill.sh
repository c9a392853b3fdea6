#!/usr/bin/env bash
# Reprocess a range of service days through real Airflow in one command and log the
# throughput. Each DAG run is `airflow dags test nightly_flow <day after LAST> -c <range conf>`
# (scripts/run_nightly.sh); by default one run covers the whole range.
#
#   scripts/backfill.sh [FIRST [LAST]] [--chunk-days N] [--scale S] [--no-demo]
#
#   FIRST LAST      service days, YYYY-MM-DD (default: a month of demo data, 2026-10-15 .. 2026-11-14;
#                   FIRST alone: that one day)
#   --chunk-days N  N days per DAG run instead of one run for the whole range
#   --scale S       volume of generated demo data (default 1 = the demo's normal volume)
#   --no-demo       never generate demo files (production data: missing deliveries stay missing)
#
# In demo mode (FLOW_DEMO_MODE unset or true) demo landing files are generated first for the
# days that lack them (ground truth in <FLOW_DATA_DIR>/backfill/, data/demo_truth.json is left
# alone). Prints "N days in M min: X days/minute" with the load average before and appends a row to
# <FLOW_DATA_DIR>/backfill_throughput.csv (default data/). Demo generation is not timed.
# On the compose deployment backfill through the scheduler instead: docs/operations.md.
set -euo pipefail
cd "$(dirname "$0")/.."

first=2026-10-15
last=2026-11-14
chunk_days=0
scale=1
allow_demo=yes
positional=()
while (($#)); do
  case $1 in
    --chunk-days) chunk_days=${2:?--chunk-days needs a number}; shift 2 ;;
    --scale) scale=${2:?--scale needs a number}; shift 2 ;;
    --no-demo) allow_demo=no; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "error: unknown option $1 (see scripts/backfill.sh --help)" >&2; exit 2 ;;
    *) positional+=("$1"); shift ;;
  esac
done
if ((${#positional[@]} > 2)); then
  echo "error: give at most two dates, FIRST and LAST (see scripts/backfill.sh --help)" >&2; exit 2
fi
if ((${#positional[@]} >= 1)); then first=${positional[0]}; last=${positional[1]:-$first}; fi
if ! [[ $chunk_days =~ ^[0-9]+$ ]]; then
  echo "error: --chunk-days must be a whole number of days, got '$chunk_days'" >&2; exit 2
fi

# The same preparation as `make run`: locked environment, vendored dashboard assets, Airflow home.
bash scripts/bootstrap.sh
.venv/bin/python -m flowlib.assets > /dev/null
bash scripts/airflow_setup.sh
source scripts/airflow_env.sh
PY=.venv/bin/python

# Validates both dates (exit 2 with a sentence on a bad one) and cuts the range into DAG runs.
mapfile -t runs < <($PY -m flowlib.backfill chunks --first "$first" --last "$last" --days "$chunk_days" || echo FAILED)
if [[ ${runs[*]} == *FAILED* ]]; then exit 2; fi
days=$(($(( ($(date -d "$last" +%s) - $(date -d "$first" +%s)) / 86400 )) + 1))

read -r landing_dir data_dir demo_mode < <($PY -c \
  'from flowlib.config import get_settings as g; s = g(); print(s.landing_dir, s.data_dir, s.demo_mode)')
mapfile -t gaps < <($PY -m flowlib.backfill missing --first "$first" --last "$last")
generated=0
if ((${#gaps[@]})); then
  if [[ $allow_demo == yes && $demo_mode == True ]]; then
    for gap in "${gaps[@]}"; do
      read -r gap_first gap_last <<< "$gap"
      echo "[backfill] generating demo landing files for $gap_first .. $gap_last (scale $scale) in $landing_dir"
      $PY -m flowlib demo --start "$gap_first" --end "$gap_last" --scale "$scale" --landing-dir "$landing_dir" \
        --truth-file "$data_dir/backfill/demo_truth_${gap_first}_${gap_last}.json" | sed 's/^/[backfill]   /'
      generated=$((generated + ($(date -d "$gap_last" +%s) - $(date -d "$gap_first" +%s)) / 86400 + 1))
    done
  else
    echo "[backfill] warning: no complete delivery under $landing_dir for: ${gaps[*]}; those days load what is there" >&2
  fi
fi

echo "[backfill] $days service days $first .. $last in ${#runs[@]} DAG run(s) through airflow dags test"
# the 1-minute load average before the timed runs, logged beside the throughput
load_average=$(cut -d' ' -f1 /proc/loadavg)
started=$(date +%s.%N)
for run in "${runs[@]}"; do
  read -r run_first run_last <<< "$run"
  bash scripts/run_nightly.sh "$run_first" "$run_last"
done
finished=$(date +%s.%N)
seconds=$(awk -v a="$started" -v b="$finished" 'BEGIN { printf "%.1f", b - a }')

note="demo scale $scale, $generated day(s) generated"
[[ $demo_mode == True ]] || note="production data"
read -r rate csv_file < <($PY -m flowlib.backfill record --first "$first" --last "$last" --seconds "$seconds" \
  --dag-runs "${#runs[@]}" --chunk-days "$chunk_days" --load-average "$load_average" --note "$note")
minutes=$(awk -v s="$seconds" 'BEGIN { printf "%.1f", s / 60 }')
echo "[backfill] $days days in $minutes min: $rate days/minute, load average $load_average before (logged in $csv_file)"
