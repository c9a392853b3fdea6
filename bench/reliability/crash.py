"""The crash chain: the real CLI SIGKILLed at deterministic progress markers, then rerun.

Used by tests/reliability/test_crash_safety.py (and, for its outputs and logs, by the
privacy scans) and by bench/reliability_report.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .harness import (
    DEMO_FIRST,
    DEMO_LAST,
    KillableRun,
    after_line,
    first_of,
    incomplete_pages,
    partitions,
    torn_partitions,
    when_file,
)

RANGE = ("--first", DEMO_FIRST.isoformat(), "--last", DEMO_LAST.isoformat())


@dataclass
class Crash:
    point: str
    command: str
    marker: str | None
    seconds: float | None
    returncode: int | None
    wal_on_disk: bool
    incomplete_pages: list[str]
    torn_partitions: list[str]
    temp_files: list[str]


@dataclass
class Chain:
    root: Path
    crashes: list[Crash] = field(default_factory=list)
    final: KillableRun | None = None
    runs: list[KillableRun] = field(default_factory=list)


def kill_and_inspect(
    root: Path, point: str, args: tuple[str, ...], trigger, reference_partitions, runs: list[KillableRun] | None = None
) -> Crash:
    runs = runs if runs is not None else []
    run = KillableRun(root, args).run(trigger)
    runs.append(run)
    warehouse = root / "data" / "warehouse.duckdb"
    wal = warehouse.with_name(warehouse.name + ".wal").exists()
    torn = torn_partitions(partitions(warehouse), reference_partitions) if warehouse.exists() else []
    temps = sorted(str(p.relative_to(root)) for p in (root / "dashboards").rglob(".*.tmp"))
    return Crash(
        point,
        " ".join(args[:1]),
        run.killed_at,
        run.killed_after_s,
        run.returncode,
        wal,
        incomplete_pages(root / "dashboards"),
        torn,
        temps,
    )


def crash_plan(root: Path) -> list[tuple[str, tuple[str, ...], object]]:
    """The kill points, in the order a night reaches them, each on a rerun after the last.

    1. ``run`` during ingest: right after the first partition's commit is logged, while the
       next partition is read, validated and written;
    2. ``run`` during the mart rebuild: the range's one transaction is in flight (the
       warehouse must come back as it was before it);
    3. ``run`` while a page is written (after its marts are rebuilt: the killed rebuild of
       step 2 left none): as soon as a page's temp file is on disk (or, should the write be
       quicker than the 2 ms poll, right after the first page).
    """
    dashboards = root / "dashboards"
    return [
        (
            "during ingest",
            ("run", *RANGE),
            after_line(r"entry_pos_a 2026-11-02: (loaded|reloaded)", "first partition committed, the next in flight"),
        ),
        (
            "during a mart rebuild",
            ("run", *RANGE),
            after_line(r"building marts for 2026-11-02", "the range's transaction in flight"),
        ),
        (
            "during dashboard writing",
            ("run", *RANGE),
            first_of(
                when_file(dashboards / "daily", ".*.html.*.tmp", "a page's temp file is on disk"),
                when_file(dashboards, ".index.html.*.tmp", "the index page's temp file is on disk"),
                after_line(r"wrote .*daily/2026-11-02\.html", "first daily page written, the index in flight"),
            ),
        ),
    ]


def run_chain(root: Path, reference_partitions) -> Chain:
    chain = Chain(root)
    for point, args, trigger in crash_plan(root):
        chain.crashes.append(kill_and_inspect(root, point, args, trigger, reference_partitions, chain.runs))
    chain.final = KillableRun(root, ("run", *RANGE)).run()
    chain.runs.append(chain.final)
    return chain
