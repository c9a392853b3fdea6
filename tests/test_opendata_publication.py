"""The publish_open_data step: a set that exposes a cell is refused, named, and the last
published set stays; a safe set replaces it in one rename."""

from __future__ import annotations

import duckdb
import pytest
from test_disclosure_audit import K, facility_day

from bench.reliability.harness import make_settings
from flowlib import opendata
from flowlib.opendata import DisclosureError, publish_open_data


@pytest.fixture
def night(tmp_path, monkeypatch):
    """Settings on an empty warehouse; each night writes the hours given to next_hours."""
    settings = make_settings(tmp_path)
    settings.warehouse_path.parent.mkdir(parents=True)
    duckdb.connect(str(settings.warehouse_path)).close()
    plan = {"hours": [50, 30, None, None]}

    def fake_write(con, settings_, folder):  # the marts' files, made by hand
        facility_day(folder, 100, plan["hours"])
        return sorted(folder.glob("*.csv"))

    monkeypatch.setattr(opendata, "write_files", fake_write)
    return settings, plan


def test_a_safe_night_is_published_through_the_link(night):
    settings, _ = night
    summary = publish_open_data(settings)
    exports = settings.dashboards_dir / "exports"
    assert exports.is_symlink() and summary.exposed == 0 and summary.hidden > 0
    assert (exports / "facility_entries_hourly.csv").is_file()


def test_an_exposing_night_fails_naming_the_cell_and_the_last_set_stays(night):
    settings, plan = night
    publish_open_data(settings)
    exports = settings.dashboards_dir / "exports"
    before = (exports / "facility_entries_hourly.csv").read_bytes()
    first_version = exports.resolve()
    plan["hours"] = [50, 45, None]  # 100 - 95: the hidden hour is 5
    with pytest.raises(DisclosureError, match=r"facility_entries_hourly\.csv line 4 entries"):
        publish_open_data(settings)
    assert exports.resolve() == first_version
    assert (exports / "facility_entries_hourly.csv").read_bytes() == before
    assert list((settings.dashboards_dir / ".opendata").glob("rejected-*"))
    assert K == settings.min_cell_count


def test_a_plain_exports_folder_is_adopted_then_swapped(night):
    settings, _ = night
    plain = settings.dashboards_dir / "exports"
    plain.mkdir(parents=True)
    (plain / "old.csv").write_text("x\r\n", encoding="utf-8")
    publish_open_data(settings)
    assert plain.is_symlink() and (plain / "old.csv").is_file()  # copied forward, then rewritten around
