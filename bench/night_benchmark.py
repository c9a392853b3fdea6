"""One demo night through `flowlib run`, timed: issue 17's fixed cost per night.

Copies a built demo (the `data/` and `dashboards/` folders `make run` leaves) into a
temporary folder, runs `flowlib run` for one service day once to settle it (the night as
it runs again with unchanged files: a rerun, a catch-up with nothing new), then times
`--runs` more nights with the 1-minute load average at the start of each, and prints the
median. `--checkout` runs another checkout's code on the same copy (e.g. the commit before
a change, from `git worktree add`), so that both sides are measured the same hour.

    .venv/bin/python bench/night_benchmark.py --runs 3
    .venv/bin/python bench/night_benchmark.py --runs 3 --checkout /work/wt/old
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def night(checkout: Path, root: Path, day: str) -> float:
    env = {
        **os.environ,
        "FLOW_DATA_DIR": str(root / "data"),
        "FLOW_DASHBOARDS_DIR": str(root / "dashboards"),
        "FLOW_OPEN_DATA_FIRST": os.environ.get("FLOW_OPEN_DATA_FIRST", "2026-11-01"),
        "PYTHONPATH": str(checkout),
    }
    started = time.monotonic()
    with (root / "night.log").open("a", encoding="utf-8") as log:
        done = subprocess.run(
            [sys.executable, "-m", "flowlib", "run", "--first", day],
            cwd=checkout,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    if done.returncode != 0:
        sys.exit(f"flowlib run failed (exit {done.returncode}); log: {root / 'night.log'}")
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--day", default="2026-11-14", help="the service day of the night")
    parser.add_argument("--built", type=Path, default=PROJECT_ROOT, help="folder holding the built data/ and dashboards/")
    parser.add_argument("--checkout", type=Path, default=PROJECT_ROOT, help="the code to run")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="flow-night-"))
    try:
        shutil.copytree(args.built / "data", root / "data", ignore=shutil.ignore_patterns("backups"))
        shutil.copytree(args.built / "dashboards", root / "dashboards", symlinks=True)
        print(f"one night ({args.day}) of {args.checkout} on a copy of {args.built}, {os.cpu_count()} CPUs", flush=True)
        print(f"settling run: {night(args.checkout, root, args.day):.1f} s", flush=True)
        seconds = []
        for number in range(1, args.runs + 1):
            load = os.getloadavg()[0]
            seconds.append(night(args.checkout, root, args.day))
            print(f"run {number}: {seconds[-1]:.1f} s (load average {load:.2f} at start)", flush=True)
        print(f"median of {len(seconds)}: {statistics.median(seconds):.1f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
