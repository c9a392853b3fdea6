"""The resident-device rule on the index's data-quality section: its share per sensor source
and day is shown, and FLOW_RESIDENT_DEVICE_RULE=off keeps those devices as visitors."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest

from flowlib.config import ConfigError, get_settings
from flowlib.pipeline import build_marts, prepare_warehouse
from flowlib.pseudonym import pseudonymise
from flowlib.warehouse import writer

FIRST = date(2026, 11, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(12)]
SITE = "peace_park"
VISITORS_PER_DAY = 20
STAFF = tuple(f"staff-phone-{i}" for i in range(10))


def _detections(settings, staff: tuple[str, ...] = STAFF) -> None:
    """Staff phones at the site every day, 20 different visitors a day, one stay each."""
    prepare_warehouse(settings)
    rows = []
    for day in DAYS:
        devices = list(staff) + [f"visitor-{day:%m%d}-{i}" for i in range(VISITORS_PER_DAY)]
        for i, device in enumerate(devices):
            rows.append(
                (
                    "wifi_sensor_free_sights",
                    day,
                    SITE,
                    datetime(day.year, day.month, day.day, 10, i % 50),
                    pseudonymise(device, b"k"),
                    f"{day}.csv",
                    i + 2,
                )
            )
    with writer(settings) as con:
        con.executemany(
            "insert into raw.wifi_sensor (source, service_date, facility_id, detected_at, device_key, "
            "file_name, line_number, device_id) values (?, ?, ?, ?, ?, ?, ?, raw.pseudonym_id(?))",
            [(*row, row[4]) for row in rows],
        )


def _night(settings) -> tuple[str, dict[date, int]]:
    from flowlib.dashboards import build_dashboards

    build_marts([day.isoformat() for day in DAYS], settings)
    with writer(settings) as con:
        index = build_dashboards(con, settings, service_dates=[]).read_text(encoding="utf-8")
        visitors = dict(
            con.execute(
                "select service_date, visitors from marts.facility_daily where facility_id = ? and source_kind = 'wifi_sensor'",
                [SITE],
            ).fetchall()
        )
    return index, visitors


def _shown_shares(index: str) -> dict[str, str]:
    table = index[index.index('id="resident-device-share"') :]
    table = table[: table.index("</table>")]
    return dict(re.findall(r'data-source="wifi_sensor_free_sights" data-day="([\d-]+)" data-share="([^"]*)"', table))


def test_the_resident_share_is_on_the_data_quality_section(settings):
    _detections(settings)
    index, visitors = _night(settings)
    section = index[index.index('id="data-quality"') :]
    assert 'id="resident-devices"' in section and "FLOW_RESIDENT_DEVICE_RULE=off" in section
    shares = _shown_shares(index)
    # the phones are resident from the 10th day on (seen on 10 of the last 28): 10 of 30 stays
    expected = {day.isoformat(): ("33.3" if day >= DAYS[9] else "0.0") for day in DAYS}
    assert shares == expected
    assert visitors[DAYS[-1]] == VISITORS_PER_DAY and visitors[DAYS[0]] == VISITORS_PER_DAY + len(STAFF)


def test_a_share_that_gives_back_fewer_than_k_resident_stays_is_withheld(settings):
    """2 resident stays of 22: the share (9.1 %) times the stays would give the 2 back."""
    _detections(settings, staff=STAFF[:2])
    index, _ = _night(settings)
    shares = _shown_shares(index)
    assert {day: shares[day.isoformat()] for day in DAYS[9:]} == {day: "None" for day in DAYS[9:]}
    assert {shares[day.isoformat()] for day in DAYS[:9]} == {"0.0"}
    table = index[index.index('id="resident-device-share"') :]
    table = table[: table.index("</table>")]
    row = re.search(rf'data-day="{DAYS[-1]}"[^>]*>(.*?)</tr>', table, re.S).group(1)
    assert ">22<" not in row and ">2<" not in row and "9.1" not in row


def test_switching_the_rule_off_keeps_the_devices(settings, monkeypatch):
    monkeypatch.setenv("FLOW_RESIDENT_DEVICE_RULE", "off")
    off = get_settings()
    assert off.resident_device_rule is False
    _detections(off)
    index, visitors = _night(off)
    assert set(_shown_shares(index).values()) == {"0.0"}
    assert 'data-resident-rule="off"' in index
    assert all(count == VISITORS_PER_DAY + len(STAFF) for count in visitors.values()) and len(visitors) == len(DAYS)


def test_the_switch_accepts_only_on_or_off(settings, monkeypatch):
    monkeypatch.setenv("FLOW_RESIDENT_DEVICE_RULE", "maybe")
    with pytest.raises(ConfigError, match="FLOW_RESIDENT_DEVICE_RULE='maybe' is neither on nor off"):
        get_settings()
    monkeypatch.setenv("FLOW_RESIDENT_DEVICE_RULE", "ON")
    assert get_settings().resident_device_rule is True
