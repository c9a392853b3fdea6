"""The backfill helpers behind scripts/backfill.sh: ranges, DAG-run chunks, the throughput log."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowlib.backfill import THROUGHPUT_COLUMNS, chunks, contiguous_ranges, main, record_throughput, service_days
from flowlib.dag_defaults import EARLIEST_LOGICAL_DATE

D = date(2026, 10, 15)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@given(st.integers(0, 70), st.integers(0, 40))
def test_chunks_cover_the_range_once_in_order(length: int, chunk_days: int) -> None:
    last = D + timedelta(days=length)
    runs = chunks(D, last, chunk_days)
    covered = [day for start, end in runs for day in service_days(start, end)]
    assert covered == service_days(D, last)
    sizes = [(end - start).days + 1 for start, end in runs]
    if chunk_days == 0:
        assert len(runs) == 1
    else:
        assert all(size == chunk_days for size in sizes[:-1]) and 1 <= sizes[-1] <= chunk_days


@given(st.sets(st.integers(0, 60)))
def test_contiguous_ranges_are_the_fewest_that_cover_the_days(offsets: set[int]) -> None:
    days = {D + timedelta(days=o) for o in offsets}
    ranges = contiguous_ranges(days)
    assert {day for start, end in ranges for day in service_days(start, end)} == days
    # no two ranges touch: any fewer could not cover the days
    assert all(later[0] - earlier[1] > timedelta(days=1) for earlier, later in zip(ranges, ranges[1:], strict=False))


def test_a_range_whose_first_run_airflow_would_leave_empty_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """A run's logical date is the day after its last service day; before the DAGs' start
    date Airflow would create none of its tasks and still report success."""
    earliest = EARLIEST_LOGICAL_DATE.date()
    with pytest.raises(ValueError, match="before the DAGs' start date"):
        chunks(earliest - timedelta(days=30), earliest - timedelta(days=2), 7)
    # the last day before the start date runs: its logical date is the start date itself
    assert chunks(earliest - timedelta(days=1), earliest + timedelta(days=5), 0) == [
        (earliest - timedelta(days=1), earliest + timedelta(days=5))
    ]
    first, last = (earliest - timedelta(days=9)).isoformat(), earliest.isoformat()
    assert main(["chunks", "--first", first, "--last", last, "--days", "7"]) == 2
    assert "Airflow would run none of its tasks" in capsys.readouterr().err


def test_a_reversed_range_is_refused_in_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="before the first"):
        service_days(D, D - timedelta(days=1))
    assert main(["chunks", "--first", "2026-11-14", "--last", "2026-10-15"]) == 2
    assert "before the first" in capsys.readouterr().err


def test_the_throughput_log_records_the_load_beside_the_rate(tmp_path: Path) -> None:
    log = tmp_path / "backfill_throughput.csv"
    rate, path = record_throughput(D, D + timedelta(days=30), 186.0, 1, 0, "airflow dags test", path=log, load_average=0.42)
    assert path == log and rate == pytest.approx(31 / 3.1)
    record_throughput(D, D + timedelta(days=6), 70.0, 1, 7, "airflow dags test", path=log)
    rows = _rows(log)
    assert list(rows[0]) == list(THROUGHPUT_COLUMNS)
    assert [(r["days"], r["seconds"], r["days_per_minute"], r["load_average"]) for r in rows] == [
        ("31", "186.0", "10.000", "0.42"),
        ("7", "70.0", "6.000", ""),
    ]
    with pytest.raises(ValueError, match="positive"):
        record_throughput(D, D, 0, 1, 0, "x", path=log)


def test_a_log_from_before_the_load_column_is_rewritten_under_the_new_header(tmp_path: Path) -> None:
    log = tmp_path / "backfill_throughput.csv"
    old_columns = [c for c in THROUGHPUT_COLUMNS if c != "load_average"]
    old_row = [
        "2026-12-01T00:00:00+00:00",
        "2026-10-15",
        "2026-11-14",
        "31",
        "1",
        "0",
        "190.0",
        "9.789",
        "airflow dags test",
        "h",
        "demo",
    ]
    with log.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([old_columns, old_row])
    record_throughput(D, D, 10.0, 1, 0, "airflow dags test", path=log, load_average=1.5)
    rows = _rows(log)
    assert list(rows[0]) == list(THROUGHPUT_COLUMNS)
    assert rows[0] == {**dict(zip(old_columns, old_row, strict=True)), "load_average": ""}
    assert (rows[1]["seconds"], rows[1]["load_average"]) == ("10.0", "1.50")
    assert not list(tmp_path.glob("*.tmp"))


def test_a_file_that_is_not_a_throughput_log_is_left_alone(tmp_path: Path) -> None:
    log = tmp_path / "backfill_throughput.csv"
    log.write_text("name,value\nx,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a backfill throughput log"):
        record_throughput(D, D, 10.0, 1, 0, "x", path=log)
    assert log.read_text(encoding="utf-8") == "name,value\nx,1\n"


def test_the_record_command_prints_the_rate_and_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLOW_DATA_DIR", str(tmp_path / "data"))
    argv = ["record", "--first", "2026-10-15", "--last", "2026-10-21", "--seconds", "60", "--dag-runs", "1"]
    assert main([*argv, "--load-average", "0.25"]) == 0
    rate, printed = capsys.readouterr().out.split()
    assert float(rate) == 7.0 and Path(printed) == tmp_path / "data" / "backfill_throughput.csv"
    assert _rows(Path(printed))[0]["load_average"] == "0.25"


STUB_AIRFLOW = """#!/usr/bin/env bash
# prints what 'airflow dags test' printed for a run: its tasks, then the run's end
for task in $TASKS; do
  echo "[DAG TEST] starting task_id=$task map_index=-1"
  echo "[DAG TEST] end task task_id=$task map_index=-1"
done
echo "DagRun Finished: dag_id=nightly_flow, state=success"
"""


@pytest.mark.parametrize(("tasks", "succeeds"), [("service_dates prepare_warehouse", True), ("", False)])
def test_a_dag_run_in_which_no_task_ran_is_not_a_success(tmp_path: Path, tasks: str, succeeds: bool) -> None:
    """scripts/dag_test.sh (make run, make backfill, the catch-up by hand) takes Airflow's
    "success" only for a run that ran tasks: a logical date before the DAG's start date gives
    a run with none, which Airflow reports as a success."""
    import subprocess

    stub = tmp_path / ".venv" / "bin" / "airflow"
    stub.parent.mkdir(parents=True)
    stub.write_text(STUB_AIRFLOW, encoding="utf-8")
    stub.chmod(0o755)
    script = Path(__file__).resolve().parents[1] / "scripts" / "dag_test.sh"
    done = subprocess.run(
        ["bash", "-c", f"source {script}; dag_test nightly {tmp_path / 'run.log'} nightly_flow 2026-10-22"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "TASKS": tasks},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode == 0) is succeeds, done.stderr
    if succeeds:
        assert "[nightly]   done    prepare_warehouse" in done.stdout and done.stderr == ""
    else:
        assert "ran no task although Airflow reports success" in done.stderr
