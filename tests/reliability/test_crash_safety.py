"""Crash safety: SIGKILL the real CLI during ingest, a mart rebuild and dashboard writing,
then rerun; the result must equal an uninterrupted run, and no page may ever be torn.

The code under test has no hooks: the kills are triggered from outside by progress
markers (the CLI's own log lines, a page's temp file appearing under dashboards/) and,
in the slow variant, by measured delays at fractions of an uninterrupted run. After every
kill the warehouse must hold whole partitions only (each (source, day) of raw.* and
ops.quarantine, each day of intermediate.* and marts.* is absent or exactly the
uninterrupted run's), and every published HTML file must be a whole document. The chain
itself (``cli_chain``, tests/reliability/crash.py) runs once per session.
"""

from __future__ import annotations

import json
import time

import pytest

from bench.reliability.crash import RANGE, kill_and_inspect
from bench.reliability.harness import (
    DEMO_DATES,
    LOCK_ERRORS,
    KillableRun,
    after_seconds,
    build_exports,
    clone,
    daily_pages,
    export_marts_csv,
    incomplete_pages,
    make_settings,
    normalise_folium_ids,
    open_data,
    snapshot,
)


@pytest.fixture
def chain(cli_chain):
    return cli_chain


def test_every_kill_hit_a_live_process_in_its_phase(chain):
    for crash in chain.crashes:
        assert crash.marker, f"{crash.point}: the process ended before its kill marker showed"
        assert crash.returncode == -9, f"{crash.point}: exit code {crash.returncode}, not SIGKILL"


def test_no_partition_is_half_there_after_any_kill(chain):
    for crash in chain.crashes:
        assert crash.torn_partitions == [], f"{crash.point}: {crash.torn_partitions[:5]}"


def test_no_published_page_is_ever_half_written(chain):
    for crash in chain.crashes:
        assert crash.incomplete_pages == [], f"{crash.point}: {crash.incomplete_pages}"
        assert not any(t.endswith(".html") for t in crash.temp_files)
    assert incomplete_pages(chain.root / "dashboards") == []


def test_rerun_after_the_kills_equals_an_uninterrupted_run(chain, reference):
    assert chain.final.returncode == 0, chain.final.log[-3000:]
    warehouse = chain.root / "data" / "warehouse.duckdb"
    got = snapshot(warehouse)
    assert sorted(got) == sorted(reference.tables)
    for table, rows in reference.tables.items():
        assert got[table] == rows, f"{table} differs after the crashes and a rerun"
    assert export_marts_csv(warehouse, chain.root / "marts_csv") == reference.marts_csv
    assert {n: normalise_folium_ids(t) for n, t in daily_pages(chain.root).items()} == reference.pages
    assert open_data(chain.root) == reference.open_data
    assert {p.name: p.read_bytes() for p in build_exports(chain.root)} == reference.exports


def test_crashed_runs_left_no_lock_behind(chain):
    """The rerun needed no manual step: no stale lock, no lock error, no traceback."""
    assert not [m for m in LOCK_ERRORS if m in chain.final.log], chain.final.log[-2000:]


@pytest.mark.slow
def test_kills_at_fractions_of_a_measured_uninterrupted_run(dataset, reference, tmp_path_factory):
    """Kill after 20 %, 45 %, 70 % and 95 % of a measured uninterrupted CLI run (each on a
    rerun of the last), then finish: same invariants, same final result."""
    measured_root = clone(dataset, tmp_path_factory.mktemp("measured"))
    started = time.monotonic()
    uninterrupted = KillableRun(measured_root, ("run", *RANGE)).run()
    duration = time.monotonic() - started
    assert uninterrupted.returncode == 0, uninterrupted.log[-2000:]
    # The CLI's own uninterrupted result equals the in-process reference as well.
    assert snapshot(measured_root / "data" / "warehouse.duckdb") == reference.tables

    root = clone(dataset, tmp_path_factory.mktemp("fractions"))
    crashes = []
    for fraction in (0.2, 0.45, 0.7, 0.95):
        crash = kill_and_inspect(
            root,
            f"{fraction:.0%} of {duration:.0f} s",
            ("run", *RANGE),
            after_seconds(fraction * duration, f"after {fraction:.0%}"),
            reference.partitions,
        )
        crashes.append(crash)
        assert crash.torn_partitions == [], crash
        assert crash.incomplete_pages == [], crash
    final = KillableRun(root, ("run", *RANGE)).run()
    assert final.returncode == 0, final.log[-3000:]
    assert snapshot(root / "data" / "warehouse.duckdb") == reference.tables
    assert {n: normalise_folium_ids(t) for n, t in daily_pages(root).items()} == reference.pages


def test_a_torn_validation_result_does_not_break_later_nights(dataset, tmp_path_factory):
    """SIGKILL inside the write of a GX result must not break the Data Docs of every later
    night (the rerun finds the partition unchanged and does not write the result again).
    Found by this suite; flowlib/pipeline.py now writes results atomically and skips an
    unreadable one with a warning."""
    from flowlib.pipeline import build_data_docs, ingest_source, prepare_warehouse

    root = clone(dataset, tmp_path_factory.mktemp("torn-gx"))
    settings = make_settings(root)
    prepare_warehouse(settings)
    ingest_source("survey_web", DEMO_DATES, settings)
    result = root / "data" / "validation_results" / "survey_web" / DEMO_DATES[0] / "0000.json"
    whole = result.read_bytes()
    json.loads(whole)
    result.write_bytes(whole[: len(whole) // 2])  # what SIGKILL inside write_text leaves
    summaries = ingest_source("survey_web", DEMO_DATES, settings)  # the rerun of the night
    assert {s["outcome"] for s in summaries} == {"unchanged"}
    build_data_docs(settings)  # must not fail because of the torn file
