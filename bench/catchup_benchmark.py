"""What one catch-up cycle costs when nothing changed, and when one day changed.

``catchup_flow`` runs every 30 minutes; most cycles find nothing, so ``find_work`` (hash
every delivered file of the look-back window, compare with ops.feed_status) is its
steady-state cost. The script copies a landing folder (default: the demo's, data/landing),
records every (source, day) of the look-back window before its last day as loaded with its
digests (the window as configured, ``FLOW_CATCHUP_LOOKBACK_DAYS``, 14 days by default, or
``--lookback-days``), then times

* ``find_work`` with nothing changed (median of ``--runs`` runs);
* ``find_work`` after one POS file of one day was rewritten (it must name that day).

It prints the seconds, the files and bytes hashed per cycle, and the load average before the
runs.

    .venv/bin/python bench/catchup_benchmark.py [--landing data/landing] [--runs 5] [--lookback-days 14]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, default=PROJECT_ROOT / "data" / "landing")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lookback-days", type=int, help="the catch-up's look-back (default: as configured)")
    args = parser.parse_args(argv)
    if not args.landing.is_dir():
        print(f"error: {args.landing} is not a folder; run `python -m flowlib demo` first.", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="catchup-bench-"))
    try:
        shutil.copytree(args.landing, work / "data" / "landing")
        os.environ["FLOW_DATA_DIR"] = str(work / "data")
        if args.lookback_days is not None:
            os.environ["FLOW_CATCHUP_LOOKBACK_DAYS"] = str(args.lookback_days)
        os.environ.pop("FLOW_LANDING_DIR", None)
        os.environ.pop("FLOW_WAREHOUSE", None)
        from flowlib import catchup, feed_status
        from flowlib.config import get_settings
        from flowlib.sources import load_registry
        from flowlib.warehouse import ensure_schema, writer

        settings = get_settings()
        registry = {name: spec for name, spec in load_registry(settings).items() if spec.is_daily}
        delivered_days = sorted(
            {datetime.strptime(p.name[:10], "%Y-%m-%d").date() for p in (settings.landing_dir / "entry_log" / "pos_a").iterdir()}
        )
        now = datetime.combine(delivered_days[-1], datetime.min.time()).replace(hour=9)
        # the days a cycle at 09:00 after the last day compares (catchup.lookback_start)
        days = [day for day in delivered_days if day >= catchup.lookback_start(settings, now)]
        files = size = 0
        with writer(settings) as con:
            ensure_schema(con, settings)
            for spec in registry.values():
                for day in days:
                    delivered = feed_status.delivered_files(spec, day, settings)
                    files += len(delivered)
                    size += sum((settings.landing_dir / name).stat().st_size for name, _ in delivered)
                    feed_status.record(con, spec, day, "delivered" if delivered else "missing", delivered)
        load = os.getloadavg()
        timings = []
        for _ in range(args.runs):
            started = time.perf_counter()
            work_found = catchup.find_work(settings, now=now)
            timings.append(time.perf_counter() - started)
            assert not work_found, work_found
        changed_day = days[len(days) // 2]
        target = sorted((settings.landing_dir / "entry_log" / "pos_a" / changed_day.isoformat()).glob("*.csv"))[0]
        target.write_bytes(target.read_bytes() + b"\n")
        started = time.perf_counter()
        found = catchup.find_work(settings, now=now)
        changed = time.perf_counter() - started
        assert found.reload == (("entry_pos_a", changed_day),), found
        print(
            f"look-back window: {len(days)} days x {len(registry)} daily sources, {files} files, {size / 1e6:.1f} MB hashed per cycle"
        )
        print(
            f"find_work, nothing changed: median {statistics.median(timings):.2f} s over {args.runs} runs "
            f"(min {min(timings):.2f}, max {max(timings):.2f})"
        )
        print(f"find_work, one file changed: {changed:.2f} s, found {found.reload}")
        print(f"load average before the runs: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
