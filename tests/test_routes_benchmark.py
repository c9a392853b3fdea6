"""The routes benchmark compares like with like: its tuned baseline and its pandas version
compute what the project's models compute, under the project's stop rules.

A ratio against a baseline that counts something else is no figure at all: after the
revisit rule became the default (a return to the same facility within the trip is one
stop), the baseline still split such returns into two stops and printed "NO" beside every
ratio. These tests run the three on a small day of generated taps, under both rules.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("routes_benchmark", PROJECT_ROOT / "bench" / "routes_benchmark.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("routes_benchmark", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def taps(bench, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("taps") / "taps.parquet"
    bench.generate(path, 40_000)
    return path


@pytest.mark.parametrize(("rule", "batch_events", "batches"), [("revisit", None, 1), ("keep", None, 1), ("revisit", "7000", 6)])
def test_baseline_pandas_and_project_agree(bench, taps, tmp_path, monkeypatch, rule, batch_events, batches):
    """... also when the project builds its stops in batches of visitors (40,000 taps in
    batches of at most 7,000 events: 6 batches)."""
    monkeypatch.setenv("FLOW_SELF_TRANSITIONS", rule)
    if batch_events:
        monkeypatch.setenv("FLOW_STOP_BATCH_EVENTS", batch_events)
    baseline = bench.measure_baseline(taps)
    project = bench.measure_project(taps, tmp_path / "warehouse")
    pandas = bench.measure_pandas(taps)
    assert project["transitions"] > 0
    assert project["stop_batches"] == batches
    for key in bench.AGREEMENT:
        assert baseline[key] == project[key], key
    for key in ("transitions", "trips", "od_cells", "od_median_digest"):
        assert pandas[key] == project[key], key


def test_the_rule_changes_what_is_counted(bench, taps, monkeypatch):
    """The generated day holds returns to the same facility, so the two rules differ: the
    agreement above is not agreement on a day where the rule never matters."""
    counts = {}
    for rule in ("revisit", "keep"):
        monkeypatch.setenv("FLOW_SELF_TRANSITIONS", rule)
        counts[rule] = bench.measure_baseline(taps)["transitions"]
    assert counts["revisit"] < counts["keep"]


def test_every_measurement_runs_under_the_memory_limit_asked_for(bench, taps, tmp_path, monkeypatch):
    """--memory-limit reaches the worker processes (through the environment): each figure
    is reported with the limit DuckDB had, and that is the one asked for, not the default."""
    import duckdb

    asked = "700MB"
    assert asked != bench.MEMORY_LIMIT
    expected = duckdb.connect().execute(f"set memory_limit = '{asked}'; select current_setting('memory_limit')").fetchone()[0]
    monkeypatch.setenv("FLOW_ROUTES_BENCH_MEMORY_LIMIT", asked)
    for kind in ("floor", "window", "baseline", "project"):
        result = bench.run_worker(kind, taps, tmp_path / kind, timeout=300)
        assert "error" not in result, result
        assert result["duckdb_memory_limit"] == expected, kind


def test_the_baseline_and_the_project_run_in_rounds(bench, tmp_path, monkeypatch):
    """The machine's speed drifts by a third within hours: the baseline and the project run
    in turn, round by round, and each round's ratio is reported beside the ratio of the
    medians; a round in which one side failed has no ratio, and the runs are listed in the
    order they ran."""
    import json

    speed = {"baseline": [4.0, 1.0, 2.0, 3.0], "project": [10.0, 2.0, 6.0, None]}
    calls: list[str] = []

    def fake_worker(kind, path, workdir, timeout):
        calls.append(kind)
        if kind not in speed:
            return {"seconds": 0.1, "peak_mb": 1.0, "load_average": 0.5}
        seconds = speed[kind][sum(1 for c in calls if c == kind) - 1]
        if seconds is None:
            return {"error": "killed", "load_average": 0.5}
        return {"seconds": seconds, "peak_mb": 1.0, "load_average": 0.5, "cpu_seconds": seconds}

    monkeypatch.setattr(bench, "run_worker", fake_worker)
    monkeypatch.setattr(bench, "generate", lambda path, rows: None)
    bench.main(["--sizes", "10k", "--repeat", "4", "--nightly", "0", "--pandas-max", "0", "--workdir", str(tmp_path)])

    timed = [c for c in calls if c in speed]
    assert timed == ["baseline", "project"] * 4
    report = json.loads((tmp_path / "routes_benchmark.json").read_text(encoding="utf-8"))["sizes"]["10k"]
    assert report["ratio_by_round"] == [2.5, 2.0, 3.0]
    assert report["ratio_median_of_rounds"] == 2.5
    assert [r["seconds"] for r in report["baseline"]["runs"]] == [4.0, 1.0, 2.0, 3.0]
    assert [r["seconds"] for r in report["project"]["runs"]] == [10.0, 2.0, 6.0]
    assert report["baseline"]["seconds"] == 2.5 and report["project"]["seconds"] == 6.0
    assert report["ratio_project_to_baseline"] == 2.4
