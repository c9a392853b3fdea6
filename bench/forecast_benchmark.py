"""Forecast benchmark: prints measured figures, asserts nothing.

Times the nightly look-ahead step on a loaded warehouse (default: the one `make run`
leaves in data/): reading the marts, fitting and forecasting every facility, the hourly
split and the rolling-origin backtest, each of ``--repeat`` times, and prints every run, the
median and the 1-minute load average before each run, plus the backtest figures (MASE,
coverage) the run gave.

    .venv/bin/python bench/forecast_benchmark.py
    .venv/bin/python bench/forecast_benchmark.py --warehouse /path/to/warehouse.duckdb --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))


def main() -> int:
    import duckdb

    from flowlib import forecast as fc

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=PROJECT_ROOT / "data" / "warehouse.duckdb")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.warehouse.exists():
        print(f"no warehouse at {args.warehouse}: run `make run` first", file=sys.stderr)
        return 1
    with duckdb.connect(str(args.warehouse), read_only=True) as con:
        series, last_days = fc.read_series(con)
        cruise, hourly = fc.read_cruise(con), fc.read_hourly(con)
    fitted = sum(1 for s in series if s.values.notna().sum() >= fc.MIN_HISTORY_DAYS)
    print(
        f"series: {len(series)} ({fitted} with enough history), days per series up to "
        f"{max(len(s.values) for s in series)}; cruise days {0 if cruise is None else len(cruise)}"
    )
    forecast_only, with_backtest, loads = [], [], []
    for _ in range(args.repeat):
        loads.append(os.getloadavg()[0])
        started = time.perf_counter()
        fc.run_forecast(series, last_days, cruise, hourly, backtest=False)
        forecast_only.append(time.perf_counter() - started)
        started = time.perf_counter()
        run = fc.run_forecast(series, last_days, cruise, hourly)
        with_backtest.append(time.perf_counter() - started)
    load = ", ".join(f"{v:.2f}" for v in loads)
    for name, seconds in (
        ("forecast, all facilities (fit + 14 days + hours)", forecast_only),
        (f"forecast + backtest ({fc.BACKTEST_ORIGINS} origins, {fc.BACKTEST_ORIGINS + 1} fits per facility)", with_backtest),
    ):
        print(
            f"{name}: median {statistics.median(seconds):.1f} s of {args.repeat} "
            f"({', '.join(f'{v:.2f}' for v in seconds)} s; 1-minute load average before each run {load})"
        )
    for row in run.backtest[run.backtest["facility_id"] == "(all)"].itertuples(index=False):
        print(
            f"backtest {row.source_kind}: MASE {row.mase:.3f}, MAE / seasonal naive {row.relative_mae:.3f}, "
            f"80 % coverage {row.coverage80:.3f}, 95 % coverage {row.coverage95:.3f} ({row.points} facility-days); "
            f"hourly 80 % coverage {row.hourly_coverage80:.3f}, 95 % {row.hourly_coverage95:.3f} "
            f"({row.hourly_points} facility-hours)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
