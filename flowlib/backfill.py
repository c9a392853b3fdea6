"""Helpers of ``scripts/backfill.sh``: which days lack landing files, how to cut a range into
DAG runs, and the throughput log.

The shell script does the orchestration (demo data, ``airflow dags test`` per chunk, timing);
this module answers the questions that need the source registry or date arithmetic::

    python -m flowlib.backfill missing --first 2026-10-15 --last 2026-11-14   # "START END" lines
    python -m flowlib.backfill chunks --first 2026-10-15 --last 2026-11-14 --days 7
    python -m flowlib.backfill record --first ... --last ... --seconds 412.3 --dag-runs 1 --load-average 0.4
"""

from __future__ import annotations

import argparse
import csv
import socket
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flowlib.config import Settings, get_settings
from flowlib.dag_defaults import EARLIEST_LOGICAL_DATE

THROUGHPUT_FILE = "backfill_throughput.csv"
THROUGHPUT_COLUMNS = (
    "recorded_at_utc",
    "first_service_date",
    "last_service_date",
    "days",
    "dag_runs",
    "chunk_days",
    "seconds",
    "days_per_minute",
    # the 1-minute load average before the first DAG run: a figure read without it cannot
    # tell a slow run from a busy machine
    "load_average",
    "runner",
    "host",
    "note",
)


def service_days(first: date, last: date) -> list[date]:
    if last < first:
        raise ValueError(f"last service date {last} is before the first {first}; swap them.")
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def missing_days(first: date, last: date, settings: Settings | None = None) -> list[date]:
    """Days for which at least one daily source has no file in the landing folder."""
    from flowlib.sources import load_registry

    settings = settings or get_settings()
    daily = [spec for spec in load_registry(settings).values() if spec.is_daily]
    return [day for day in service_days(first, last) if any(not spec.files_for(settings.landing_dir, day) for spec in daily)]


def contiguous_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """[(start, end)] covering the given days with as few ranges as possible."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def chunks(first: date, last: date, chunk_days: int) -> list[tuple[date, date]]:
    """The range cut into DAG runs of ``chunk_days`` days (0: one run for the whole range).

    Each run's logical date is the day after its last service day (scripts/run_nightly.sh);
    a range whose first run would fall before the DAGs' start date is refused, since Airflow
    would run none of that run's tasks and report success."""
    days = service_days(first, last)
    size = chunk_days if chunk_days > 0 else len(days)
    runs = [(days[i], days[min(i + size, len(days)) - 1]) for i in range(0, len(days), size)]
    earliest = EARLIEST_LOGICAL_DATE.date()
    if runs[0][1] + timedelta(days=1) < earliest:
        raise ValueError(
            f"the DAG run for {runs[0][0]} .. {runs[0][1]} would have the logical date {runs[0][1] + timedelta(days=1)}, "
            f"before the DAGs' start date {earliest} (flowlib.dag_defaults): Airflow would run none of its tasks."
        )
    return runs


def record_throughput(
    first: date,
    last: date,
    seconds: float,
    dag_runs: int,
    chunk_days: int,
    runner: str,
    note: str = "",
    path: Path | None = None,
    load_average: float | None = None,
) -> tuple[float, Path]:
    """Append one row to ``<FLOW_DATA_DIR>/backfill_throughput.csv``; return (days/minute, path).

    A log written before a column was added is first rewritten under today's header (its
    rows keep their values, the new columns empty), so that the file stays one table."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}.")
    days = len(service_days(first, last))
    rate = days / (seconds / 60)
    path = path or get_settings().data_dir / THROUGHPUT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    _upgrade_header(path)
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        if new:
            out.writerow(THROUGHPUT_COLUMNS)
        out.writerow(
            [
                datetime.now(UTC).isoformat(timespec="seconds"),
                first.isoformat(),
                last.isoformat(),
                days,
                dag_runs,
                chunk_days,
                f"{seconds:.1f}",
                f"{rate:.3f}",
                "" if load_average is None else f"{load_average:.2f}",
                runner,
                socket.gethostname(),
                note,
            ]
        )
    return rate, path


def _upgrade_header(path: Path) -> None:
    """Rewrite a log whose header is an older subset of THROUGHPUT_COLUMNS under the current
    header (atomically); refuse a file that is not such a log rather than append to it."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    if tuple(header) == THROUGHPUT_COLUMNS:
        return
    if not set(header) < set(THROUGHPUT_COLUMNS):
        raise ValueError(f"{path} is not a backfill throughput log (its header is {','.join(header)}); move it away.")
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(
                f"{path}, line {number}: {len(row)} fields under a header of {len(header)}; repair or move the file."
            )
    staged = path.with_name(path.name + ".tmp")
    with staged.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(THROUGHPUT_COLUMNS)
        for row in rows[1:]:
            values = dict(zip(header, row, strict=True))
            out.writerow([values.get(column, "") for column in THROUGHPUT_COLUMNS])
    staged.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flowlib.backfill", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("missing", "print 'START END' for each run of days lacking landing files"),
        ("chunks", "print 'START END' for each DAG run of the range"),
        ("record", "append the throughput to <FLOW_DATA_DIR>/backfill_throughput.csv"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--first", type=date.fromisoformat, required=True)
        sub.add_argument("--last", type=date.fromisoformat, required=True)
        if name == "chunks":
            sub.add_argument("--days", type=int, default=0, help="days per DAG run; 0 = the whole range")
        if name == "record":
            sub.add_argument("--seconds", type=float, required=True)
            sub.add_argument("--dag-runs", type=int, required=True)
            sub.add_argument("--chunk-days", type=int, default=0)
            sub.add_argument("--runner", default="airflow dags test")
            sub.add_argument("--load-average", type=float, help="the 1-minute load average before the first DAG run")
            sub.add_argument("--note", default="")
    args = parser.parse_args(argv)
    try:
        if args.command == "missing":
            for start, end in contiguous_ranges(missing_days(args.first, args.last)):
                print(start.isoformat(), end.isoformat())
        elif args.command == "chunks":
            for start, end in chunks(args.first, args.last, args.days):
                print(start.isoformat(), end.isoformat())
        else:
            rate, path = record_throughput(
                args.first,
                args.last,
                args.seconds,
                args.dag_runs,
                args.chunk_days,
                args.runner,
                args.note,
                load_average=args.load_average,
            )
            print(f"{rate:.2f} {path}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
