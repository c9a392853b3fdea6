"""`make run` from a fresh clone, timed: the ground rule's "<= 10 min on 2 cores".

Each run clones the repository (its committed HEAD) into a new temporary folder and runs
`make run` there: the environment from the lock file (uv's download cache stays warm, as
on a machine that installed once), Airflow's metadata database, the demo landing files,
and the nightly DAG over the 70 demo days. Prints each run's seconds with the 1-minute
load average at its start, its end and the highest seen during it (sampled every 5 s),
then the median. Other work on the machine shows in the load average: report it beside
the figure.

    .venv/bin/python bench/make_run_benchmark.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def one_run(repo: Path, keep: bool) -> dict[str, float | str]:
    root = Path(tempfile.mkdtemp(prefix="flow-make-run-"))
    clone = root / "clone"
    subprocess.run(["git", "clone", "--quiet", str(repo), str(clone)], check=True)
    peak = [os.getloadavg()[0]]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(5.0):
            peak[0] = max(peak[0], os.getloadavg()[0])

    watcher = threading.Thread(target=sample, daemon=True)
    start_load = os.getloadavg()[0]
    log = root / "make-run.log"
    watcher.start()
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        result = subprocess.run(["make", "run"], cwd=clone, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    done.set()
    watcher.join()
    end_load = os.getloadavg()[0]
    if result.returncode != 0:
        print(f"make run failed (exit {result.returncode}); log: {log}", file=sys.stderr)
        sys.exit(1)
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "seconds": seconds,
        "load_start": start_load,
        "load_end": end_load,
        "load_peak": max(peak[0], end_load),
        "where": str(root) if keep else "",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repo", type=Path, default=PROJECT_ROOT, help="the repository to clone (its HEAD)")
    parser.add_argument("--keep", action="store_true", help="keep each clone and its log")
    args = parser.parse_args(argv)
    head = subprocess.run(["git", "-C", str(args.repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"make run from a fresh clone of {args.repo} at {head.stdout.strip()}, {os.cpu_count()} CPUs", flush=True)
    runs = []
    for number in range(1, args.runs + 1):
        run = one_run(args.repo, args.keep)
        runs.append(run)
        print(
            f"run {number}: {run['seconds']:.0f} s (load average {run['load_start']:.2f} at start, "
            f"{run['load_end']:.2f} at end, {run['load_peak']:.2f} highest) {run['where']}",
            flush=True,
        )
    seconds = [float(r["seconds"]) for r in runs]
    loads = [float(r["load_peak"]) for r in runs] + [float(r["load_start"]) for r in runs]
    print(
        f"median {statistics.median(seconds):.0f} s of {len(runs)} "
        f"({', '.join(f'{s:.0f}' for s in seconds)} s; load average {min(loads):.1f}-{max(loads):.1f})"
    )


if __name__ == "__main__":
    main()
