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


def _marts_changed(settings, table: str = "marts.night") -> None:
    """What a build that changes the files does to the warehouse (the files here are made by
    hand, but a night whose warehouse is unchanged keeps the published set)."""
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create schema if not exists marts")
        con.execute(f"create table if not exists {table} (n integer)")
        con.execute(f"insert into {table} values (1)")


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
    _marts_changed(settings)
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


def test_a_night_with_nothing_new_keeps_the_published_set(night, caplog):
    """Same warehouse, code and settings: the set is kept (no new version, same summary);
    a changed table, a changed setting or a published file changed by hand write it again."""
    import dataclasses
    import logging

    settings, plan = night
    first = publish_open_data(settings)
    versions = settings.dashboards_dir / ".opendata"
    assert [p.name for p in versions.iterdir() if p.is_dir()] == [first.folder.name]
    with caplog.at_level(logging.INFO, logger="flowlib.opendata"):
        kept = publish_open_data(settings)
    assert kept.folder == first.folder and kept.summary() == {**first.summary(), "audit_seconds": 0.0}
    assert "the set is kept" in caplog.text
    assert [p.name for p in versions.iterdir() if p.is_dir()] == [first.folder.name]

    plan["hours"] = [40, 30, None, None]
    _marts_changed(settings)
    changed = publish_open_data(settings)
    exports = settings.dashboards_dir / "exports"
    assert changed.folder != first.folder and exports.resolve() == changed.folder
    assert b"40" in (exports / "facility_entries_hourly.csv").read_bytes()
    assert publish_open_data(settings).folder == changed.folder

    tampered = exports / "facility_entries_hourly.csv"
    original = tampered.read_bytes()
    tampered.write_bytes(original.replace(b"40", b"41"))
    again = publish_open_data(settings)
    assert again.folder != changed.folder and (exports / "facility_entries_hourly.csv").read_bytes() == original

    other = dataclasses.replace(settings, min_cell_count=settings.min_cell_count + 1)
    assert publish_open_data(other).folder != again.folder
