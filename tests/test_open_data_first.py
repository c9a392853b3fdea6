"""FLOW_OPEN_DATA_FIRST: the open data start at a publication day; the warehouse keeps the
history before it (forecast training, KPI path) without publishing a row of it.

Built from the hand-made warehouse of tests/test_dashboards.py and the roll-up rows of
tests/test_dashboard_periods.py: once unrestricted, once from DAY2. Every file written from
DAY2 on must be exactly the unrestricted file less the rows before DAY2 (a day before it, a
period ending before it), so nothing else changes and nothing before it leaks.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from test_dashboard_periods import fill_period_marts
from test_dashboards import DAY1, DAY2, _insert, create_warehouse, fill_sample_marts, make_settings

from flowlib.calendar import load_calendar
from flowlib.config import ConfigError, get_settings
from flowlib.exports import write_open_data


def _csv_rows(folder: Path) -> dict[str, tuple[list[str], list[list[str]]]]:
    files = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header, *rows = list(csv.reader(handle))
        files[path.name] = (header, rows)
    return files


def _before(header: list[str], row: list[str], first: date) -> bool:
    for column in ("service_date", "period_end"):
        if column in header and row[header.index(column)]:
            return date.fromisoformat(row[header.index(column)]) < first
    if "period_start" in header:  # the opportunity files: an ISO week ends six days after it starts
        assert row[header.index("period_grain")] == "iso_week"
        return date.fromisoformat(row[header.index("period_start")]) + timedelta(days=6) < first
    return False


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("open_data_first")
    settings = make_settings(tmp)
    con = create_warehouse(tmp / "warehouse.duckdb")
    fill_sample_marts(con)
    fill_period_marts(con)
    for week in (DAY2 - timedelta(days=13), DAY2 - timedelta(days=6)):  # Mondays: the week before DAY2's, DAY2's
        _insert(
            con,
            "marts.opportunity_pairs",
            period_grain="iso_week",
            period_start=week,
            period_label=f"{week:%G-W%V}",
            source_kind="entry_log",
            segment="all",
            from_facility_id="glover_garden",
            to_facility_id="oura_church",
            observed_moves=40,
            is_suppressed=False,
        )
    load_calendar(con, DAY1, DAY2)  # as prepare_warehouse leaves it: periods without an end column look it up
    write_open_data(con, settings, tmp / "all")
    write_open_data(con, dataclasses.replace(settings, open_data_first=DAY2), tmp / "from_day2")
    con.close()
    return tmp / "all", tmp / "from_day2"


def test_files_from_the_first_day_are_the_full_files_less_the_earlier_rows(both) -> None:
    everything, published = (_csv_rows(folder) for folder in both)
    assert everything.keys() == published.keys()
    dropped = 0
    for name, (header, rows) in everything.items():
        kept = [row for row in rows if not _before(header, row, DAY2)]
        dropped += len(rows) - len(kept)
        assert published[name] == (header, kept), name
    assert dropped > 0  # the sample holds DAY1 rows and periods before DAY2: the filter did something
    assert len(everything["opportunity_pairs.csv"][1]) == 2 and len(published["opportunity_pairs.csv"][1]) == 1
    day_rows = published["facility_daily.csv"]
    assert DAY1.isoformat() not in {row[day_rows[0].index("service_date")] for row in day_rows[1]}


def test_the_catalogue_states_the_first_day(both) -> None:
    everything, published = (json.loads((folder / "catalogue.json").read_text(encoding="utf-8")) for folder in both)
    assert published["first_service_date"] == DAY2.isoformat() and "first_service_date" not in everything


def test_the_setting_is_a_date_or_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOW_OPEN_DATA_FIRST", "2026-11-01")
    assert get_settings().open_data_first == date(2026, 11, 1)
    monkeypatch.setenv("FLOW_OPEN_DATA_FIRST", "")
    assert get_settings().open_data_first is None
    monkeypatch.setenv("FLOW_OPEN_DATA_FIRST", "November")
    with pytest.raises(ConfigError, match=r"FLOW_OPEN_DATA_FIRST='November' is not a date \(YYYY-MM-DD\)\."):
        get_settings()
