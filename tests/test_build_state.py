"""A night whose warehouse, code and settings are as the last build left them builds nothing
(flowlib.build_state); any change to any of them builds again."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from flowlib import build_state
from flowlib.pipeline import build_marts, prepare_warehouse
from flowlib.pseudonym import pseudonymise
from flowlib.warehouse import writer

FIRST = date(2026, 11, 2)
DAYS = [FIRST + timedelta(days=i) for i in range(3)]
DATES = [day.isoformat() for day in DAYS]
SITES = ("peace_park", "glover_garden")


def _detections(settings, visitors: int = 15) -> None:
    """Every visitor at both sites each day, one detection each."""
    prepare_warehouse(settings)
    rows = []
    for day in DAYS:
        for i in range(visitors):
            key = pseudonymise(f"visitor-{day:%m%d}-{i}", b"k")
            for hour, site in enumerate(SITES, start=10):
                start = datetime(day.year, day.month, day.day, hour, i % 50)
                rows.append(("wifi_sensor_free_sights", day, site, start, key, f"{day}.csv", i + 2, key))
    with writer(settings) as con:
        con.executemany(
            "insert into raw.wifi_sensor (source, service_date, facility_id, detected_at, device_key, "
            "file_name, line_number, device_id) values (?, ?, ?, ?, ?, ?, ?, raw.pseudonym_id(?))",
            rows,
        )


def _visits(settings) -> dict[tuple[date, str], int]:
    with writer(settings) as con:
        return {
            (day, site): visitors
            for day, site, visitors in con.execute(
                "select service_date, facility_id, visitors from marts.facility_daily where source_kind = 'wifi_sensor'"
            ).fetchall()
        }


def test_a_build_with_nothing_changed_is_skipped_and_any_change_builds_again(settings):
    _detections(settings)
    first = build_marts(DATES, settings)
    assert "up_to_date" not in first and f"{DATES[0]}..{DATES[-1]}" in first
    visits = _visits(settings)
    assert visits[(DAYS[0], "peace_park")] == 15

    assert build_marts(DATES, settings) == {"up_to_date": {"days": 3}}
    assert _visits(settings) == visits
    # another set of days was never built from this warehouse
    assert "up_to_date" not in build_marts(DATES[:2], settings)
    assert "up_to_date" not in build_marts(DATES, settings)
    assert build_marts(DATES, settings) == {"up_to_date": {"days": 3}}

    # a raw row changed by another tool than ingest: the build sees it
    with writer(settings) as con:
        con.execute(
            "update raw.wifi_sensor set facility_id = 'glover_garden' where service_date = ? and line_number = 2 "
            "and facility_id = 'peace_park'",
            [DAYS[0]],
        )
    assert "up_to_date" not in build_marts(DATES, settings)
    assert _visits(settings)[(DAYS[0], "peace_park")] == 14

    # a mart damaged by hand is built again, not left as it is
    with writer(settings) as con:
        con.execute("delete from marts.facility_daily where service_date = ?", [DAYS[1]])
    assert "up_to_date" not in build_marts(DATES, settings)
    assert _visits(settings)[(DAYS[1], "peace_park")] == 15

    # a setting the models read
    assert "up_to_date" not in build_marts(DATES, dataclasses.replace(settings, trip_max_gap_minutes=200))
    assert "up_to_date" not in build_marts(DATES, settings)
    # asked for explicitly
    assert build_marts(DATES, settings) == {"up_to_date": {"days": 3}}
    assert "up_to_date" not in build_marts(DATES, settings, rebuild=True)


@pytest.fixture
def warehouse(settings):
    _detections(settings, visitors=3)
    with writer(settings) as con:
        yield con


def test_the_digest_follows_every_row_and_not_the_storage_order(settings, warehouse, tmp_path):
    con = warehouse
    before = build_state.state_digest(con, settings, DAYS)
    assert build_state.state_digest(con, settings, list(reversed(DAYS))) == before
    rows = con.execute("select * from raw.wifi_sensor order by all desc").fetchall()
    con.execute("delete from raw.wifi_sensor")
    con.executemany(f"insert into raw.wifi_sensor values ({', '.join('?' * len(rows[0]))})", rows)
    assert build_state.state_digest(con, settings, DAYS) == before  # same rows, stored in another order

    changes = [
        "update raw.wifi_sensor set detected_at = detected_at + interval 1 second where line_number = 3",
        "insert into raw.wifi_sensor select * from raw.wifi_sensor limit 1",  # a duplicate row
        "delete from raw.wifi_sensor where line_number = 2",
        "update ref.facilities set lat = lat + 0.001 where facility_id = 'peace_park'",
        "create table marts.made_by_hand as select 1 as x",
        "update ops.load_log set rows_loaded = rows_loaded",  # no change: the same digest
    ]
    seen = {before}
    for number, change in enumerate(changes):
        con.execute(change)
        digest = build_state.state_digest(con, settings, DAYS)
        if number == len(changes) - 1:
            assert digest in seen
        else:
            assert digest not in seen, change
        seen.add(digest)


def test_what_later_steps_write_and_when_a_run_looked_are_not_in_the_digest(settings, warehouse):
    con = warehouse
    con.execute(
        "insert into ops.feed_status values ('wifi_sensor_free_sights', ?, 'wifi_sensor', 'loaded', null, 1, 'x', "
        "timestamp '2026-11-03 06:00', timestamp '2026-11-03 05:00', timestamp '2026-11-03 05:00', true, "
        "timestamp '2026-11-03 05:00')",
        [DAYS[0]],
    )
    before = build_state.state_digest(con, settings, DAYS)
    con.execute("update ops.feed_status set checked_at = checked_at + interval 1 day")
    for table in sorted(build_state.LATER_STEPS_TABLES):
        con.execute(f"create or replace table {table} as select 1 as forecast_value")
    assert build_state.state_digest(con, settings, DAYS) == before
    con.execute("update ops.feed_status set status = 'late'")
    assert build_state.state_digest(con, settings, DAYS) != before


def test_the_days_settings_and_code_are_in_the_digest(settings, warehouse, tmp_path):
    con = warehouse
    before = build_state.state_digest(con, settings, DAYS)
    assert build_state.state_digest(con, settings, DAYS[:2]) != before
    for field, value in (("min_cell_count", 11), ("self_transitions", "keep"), ("hmac_key_env", "another key " * 4)):
        assert build_state.state_digest(con, dataclasses.replace(settings, **{field: value}), DAYS) != before, field
    secret = "a secret key that must not be written anywhere"
    assert secret not in build_state.settings_text(dataclasses.replace(settings, hmac_key_env=secret))

    sql = tmp_path / "sql"
    shutil.copytree(settings.sql_dir, sql)
    copied = dataclasses.replace(settings, sql_dir=sql)
    same_code = build_state.state_digest(con, copied, DAYS)  # (the folder's path is a setting)
    assert build_state.state_digest(con, copied, DAYS) == same_code
    model = sql / "marts" / "facility_daily.sql"
    model.write_text(model.read_text(encoding="utf-8") + "\n-- a comment is a change of code\n", encoding="utf-8")
    assert build_state.state_digest(con, copied, DAYS) != same_code


def test_up_to_date_only_after_a_record_of_the_same_days_and_state(settings, warehouse):
    con = warehouse
    assert not build_state.up_to_date(con, settings, DAYS)  # never built
    build_state.record(con, settings, DAYS)
    assert build_state.up_to_date(con, settings, DAYS)
    assert not build_state.up_to_date(con, settings, DAYS[1:])
    assert con.execute("select count(*) from ops.build_state").fetchone() == (1,)
    con.execute("update raw.wifi_sensor set facility_id = 'dejima' where line_number = 2")
    assert not build_state.up_to_date(con, settings, DAYS)
    build_state.record(con, settings, DAYS)
    assert build_state.up_to_date(con, settings, DAYS)
    assert con.execute("select count(*) from ops.build_state").fetchone() == (1,)


def test_pages_are_kept_while_nothing_they_read_changed_and_written_again_otherwise(settings, caplog):
    """The pages read the warehouse, the code, the settings and the open data only: with all
    of them as when the pages were written, and the pages as written, they are kept."""
    import logging

    from flowlib.pipeline import publish_dashboards

    _detections(settings)
    build_marts(DATES, settings)
    index = Path(publish_dashboards(DATES, settings))
    daily = settings.dashboards_dir / "daily" / f"{DATES[-1]}.html"
    pages = {p: p.read_bytes() for p in (index, daily)}

    kept = "pages: warehouse, code, settings and dates as when they were written; kept"

    def night() -> bool:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="flowlib.pipeline"):
            assert Path(publish_dashboards(DATES, settings)) == index
        return kept in caplog.text

    assert night()
    assert {p: p.read_bytes() for p in pages} == pages
    daily.unlink()  # a page lost: written again
    assert not night() and daily.read_bytes() == pages[daily]
    assert night()
    index.write_text("changed by hand", encoding="utf-8")
    assert not night() and index.read_bytes() == pages[index]
    with writer(settings) as con:  # the marts changed (a build of the same files would not)
        con.execute("delete from marts.facility_daily where service_date = ?", [DAYS[-1]])
    assert not night()
    assert night()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="flowlib.pipeline"):
        publish_dashboards(DATES[:1], settings)  # other dates
    assert kept not in caplog.text
