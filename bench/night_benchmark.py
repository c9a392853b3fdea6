"""One demo night through `flowlib run`, timed: issue 17's fixed cost per night.

Two nights, each on a copy of a built demo (the `data/` and `dashboards/` folders `make run`
leaves) in a temporary folder:

* the default, a night with unchanged files (a rerun, a catch-up with nothing new): `flowlib
  run` for one service day once to settle the copy, then `--runs` timed nights on it;
* ``--new-day``, the night of the day after the demo: the demo generator writes that day's
  files (the same seed, so the days before are the files already loaded), and each timed
  night gets a fresh copy of the demo with them in its landing folder; it loads the day,
  builds its marts, weeks and months, settles, forecasts from the new last day and publishes.

The 1-minute load average is printed at the start of each run, then the median; everything
lands in ``<workdir>/night_benchmark.json`` (keys sorted) for a reader to diff.
`--checkout` runs another checkout's code on the same copy (e.g. the commit before a change,
from `git worktree add`), so that both sides are measured the same hour.

    .venv/bin/python bench/night_benchmark.py --runs 3
    .venv/bin/python bench/night_benchmark.py --runs 3 --new-day
    .venv/bin/python bench/night_benchmark.py --runs 3 --checkout /work/wt/old
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
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
        tail = (root / "night.log").read_text(encoding="utf-8", errors="replace")[-3000:]
        sys.exit(f"flowlib run failed (exit {done.returncode}); the end of its log:\n{tail}")
    return time.monotonic() - started


def _copy_demo(built: Path, root: Path) -> None:
    shutil.copytree(built / "data", root / "data", ignore=shutil.ignore_patterns("backups"))
    shutil.copytree(built / "dashboards", root / "dashboards", symlinks=True)


def next_day_files(built: Path, scratch: Path, first: str, day: str) -> dict[Path, bytes]:
    """The landing files the demo generator writes for ``day`` that the built demo does not
    hold (by relative path and bytes): the generator runs from ``first`` (the fortnight's first
    day), so that the days before are drawn as they were."""
    landing = scratch / "landing"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowlib",
            "demo",
            "--landing-dir",
            str(landing),
            "--start",
            first,
            "--end",
            day,
            "--truth-file",
            str(scratch / "truth.json"),
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"the demo generator failed: {done.stderr[-2000:]}")
    new = {}
    for path in sorted(landing.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(landing)
        old = built / "data" / "landing" / relative
        if not old.is_file() or old.read_bytes() != path.read_bytes():
            new[relative] = path.read_bytes()
    return new


def _commit(checkout: Path) -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--day", default="2026-11-14", help="the demo's last service day (the night of the default run)")
    parser.add_argument("--first", default="2026-11-01", help="the demo fortnight's first day (for --new-day)")
    parser.add_argument("--new-day", action="store_true", help="time the night of the day after --day, its files new")
    parser.add_argument("--built", type=Path, default=PROJECT_ROOT, help="folder holding the built data/ and dashboards/")
    parser.add_argument("--checkout", type=Path, default=PROJECT_ROOT, help="the code to run")
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "bench" / "results", help="where the JSON goes")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="flow-night-"))
    runs = []
    try:
        if args.new_day:
            night_of = (date.fromisoformat(args.day) + timedelta(days=1)).isoformat()
            new = next_day_files(args.built, scratch / "generated", args.first, night_of)
            print(
                f"the night of {night_of} ({len(new)} new landing files) of {args.checkout}, "
                f"each on a fresh copy of {args.built}, {os.cpu_count()} CPUs",
                flush=True,
            )
        else:
            night_of = args.day
            root = scratch / "copy"
            _copy_demo(args.built, root)
            print(f"one night ({night_of}) of {args.checkout} on a copy of {args.built}, {os.cpu_count()} CPUs", flush=True)
            print(f"settling run: {night(args.checkout, root, night_of):.1f} s", flush=True)
        for number in range(1, args.runs + 1):
            if args.new_day:
                root = scratch / f"copy{number}"
                _copy_demo(args.built, root)
                for relative, content in new.items():
                    (root / "data" / "landing" / relative).parent.mkdir(parents=True, exist_ok=True)
                    (root / "data" / "landing" / relative).write_bytes(content)
            load = os.getloadavg()[0]
            seconds = night(args.checkout, root, night_of)
            runs.append({"seconds": round(seconds, 2), "load_average": round(load, 2)})
            print(f"run {number}: {seconds:.1f} s (load average {load:.2f} at start)", flush=True)
            if args.new_day:
                shutil.rmtree(root, ignore_errors=True)
        median = statistics.median(run["seconds"] for run in runs)
        print(f"median of {len(runs)}: {median:.1f} s")
        report = {
            "night": "new day" if args.new_day else "unchanged files",
            "service_day": night_of,
            "checkout": str(args.checkout),
            "commit": _commit(args.checkout),
            "cpus": os.cpu_count(),
            "runs": runs,
            "median_seconds": median,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        args.workdir.mkdir(parents=True, exist_ok=True)
        out = args.workdir / "night_benchmark.json"
        out.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"figures written to {out}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
