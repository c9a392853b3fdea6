"""Partial nights and catch-up without Airflow: delivery statuses, the coverage mart, the
catch-up's choice of days, pages that show the gaps, and `flowlib run` going on past a
refused source."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pytest
from test_sources import VALID

from flowlib import catchup, feed_status
from flowlib.ingest import IngestError
from flowlib.pipeline import build_marts, ingest_source, prepare_warehouse, publish_dashboards
from flowlib.sources import DEFAULT_EXPECTED_BY, SourceDeclarationError, load_registry, parse_declaration

D1, D2, D3 = date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)
POS_B_HEADER = "施設コード,入場日,入場時刻,カード番号,チケット種別,料金(円),カード発行国"


def pos_b_lines(day: date, facility: str, cards: range) -> list[str]:
    return [POS_B_HEADER] + [
        f"{facility},{day.isoformat()},{10 + n // 60:02d}:{n % 60:02d}:00,{4000000000000000 + n},一般,520,JP" for n in cards
    ]


def deliver(landing: Path, day: date, facility: str, lines: list[str]) -> Path:
    folder = landing / "entry_log" / "pos_b" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{facility}.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode("utf-8"))
    return path


def rows(settings, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def status_of(settings, source: str, day: date) -> feed_status.FeedStatus:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        found = feed_status.current(con, source, day)
    assert found is not None
    return found


# ----------------------------------------------------------------------------- declarations


@pytest.mark.parametrize(
    "value, expected", [(None, DEFAULT_EXPECTED_BY), ('"07:15"', time(7, 15)), ('"00:00"', time(0, 0)), ('"23:59"', time(23, 59))]
)
def test_expected_by_is_read_and_defaults_before_the_nightly_run(tmp_path, value, expected):
    text = VALID + (f"expected_by: {value}\n" if value else "")
    spec = parse_declaration(tmp_path / "x.yaml", text)
    assert spec.expected_by == expected
    assert spec.expected_at(D1) == datetime.combine(D1 + timedelta(days=1), expected)
    assert DEFAULT_EXPECTED_BY < time(2, 0)  # the nightly run reads the landing folder at 02:00


@pytest.mark.parametrize("value", ['"24:00"', '"7:5"', "1:30", '"01:30:00"', '""', "[1, 30]", '"noon"'])
def test_a_wrong_expected_by_is_refused_at_parse(tmp_path, value):
    with pytest.raises(SourceDeclarationError, match=r"x\.yaml: expected_by must be"):
        parse_declaration(tmp_path / "x.yaml", VALID + f"expected_by: {value}\n")


def test_every_declared_source_has_a_due_time(settings):
    for spec in load_registry(settings).values():
        assert isinstance(spec.expected_by, time)


# ----------------------------------------------------------------------------- statuses


@pytest.fixture
def night(settings):
    """Three days of entry_pos_b: D1 delivered, D2 never delivered, D3 a refused file."""
    prepare_warehouse(settings)
    landing = settings.landing_dir
    deliver(landing, D1, "dejima", pos_b_lines(D1, "dejima", range(30)))
    deliver(landing, D1, "glover_garden", pos_b_lines(D1, "glover_garden", range(100, 120)))
    deliver(landing, D3, "dejima", [POS_B_HEADER.replace("カード番号,", "")] + ["x"])
    with pytest.raises(IngestError) as refused:
        ingest_source("entry_pos_b", [d.isoformat() for d in (D1, D2, D3)], settings)
    return settings, refused.value


def test_a_refused_day_does_not_stop_the_other_days_and_each_day_has_a_status(night):
    settings, refused = night
    assert "entry_log/pos_b/2026-11-04/dejima.csv, line 1" in str(refused)
    assert rows(settings, "select count(*) from raw.entry_log where service_date = ?", [D1]) == [(50,)]
    assert status_of(settings, "entry_pos_b", D1).status == "loaded"
    assert status_of(settings, "entry_pos_b", D2).status == "late"  # due 2026-11-04 01:30, long past
    rejected = status_of(settings, "entry_pos_b", D3)
    logged = rows(settings, "select message from ops.load_log where service_date = ? and outcome = 'failed'", [D3])
    assert rejected.status == "rejected" and rejected.reason == logged[0][0]
    assert rejected.reason.startswith("entry_log/pos_b/2026-11-04/dejima.csv, line 1: missing column(s) カード番号")
    assert rejected.files == 1 and rejected.files_digest is not None


def test_the_coverage_mart_marks_what_a_missing_feed_covers(night):
    settings, _ = night
    with duckdb.connect(str(settings.warehouse_path)) as con:
        from flowlib.models import build_range

        build_range(con, D1, D3, settings)
    coverage = rows(
        settings,
        "select service_date, scope, scope_id, status, is_complete from marts.feed_coverage "
        "where source = 'entry_pos_b' order by all",
    )
    assert coverage == [
        (D1, "facility", "dejima", "loaded", True),
        (D1, "facility", "glover_garden", "loaded", True),
        (D2, "facility", "dejima", "late", False),
        (D2, "facility", "glover_garden", "late", False),
        (D3, "facility", "dejima", "rejected", False),
        (D3, "facility", "glover_garden", "rejected", False),
    ]


def test_pending_until_due_then_late_and_arrival_is_judged_by_what_the_runs_saw(settings):
    prepare_warehouse(settings)
    spec = load_registry(settings)["entry_pos_b"]
    due = spec.expected_at(D1)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        early = feed_status.record(con, spec, D1, "missing", [], now=due - timedelta(hours=1))
        assert early.status == "pending" and early.arrived_on_time is None
        late = feed_status.record(con, spec, D1, "missing", [], now=due + timedelta(minutes=30))
        assert late.status == "late" and late.first_checked_at == early.first_checked_at
        arrived = feed_status.record(con, spec, D1, "delivered", [("a.csv", "0" * 64)], now=due + timedelta(hours=7))
        assert arrived.status == "loaded" and arrived.arrived_on_time is False
        assert arrived.delivered_at == due + timedelta(hours=7)
        # found by the first check of the day: on time, whenever that check ran (a backfill)
        first_time = feed_status.record(con, spec, D2, "delivered", [("b.csv", "1" * 64)], now=due + timedelta(days=30))
        assert first_time.arrived_on_time is True
        # found by a later check, but before the due time: on time
        feed_status.record(con, spec, D3, "missing", [], now=spec.expected_at(D3) - timedelta(hours=2))
        before_due = feed_status.record(
            con, spec, D3, "delivered", [("c.csv", "2" * 64)], now=spec.expected_at(D3) - timedelta(minutes=1)
        )
        assert before_due.arrived_on_time is True
        assert len(feed_status.statuses(con)) == 3


# ----------------------------------------------------------------------------- catch-up


def test_catchup_picks_new_and_changed_deliveries_only_within_its_window(night, monkeypatch):
    settings, _ = night
    now = datetime(2026, 11, 6, 9, 0)
    assert catchup.find_work(settings, now=now).reload == ()  # nothing changed since the night
    landing = settings.landing_dir
    deliver(landing, D2, "dejima", pos_b_lines(D2, "dejima", range(10)))  # the late day arrives
    assert catchup.pending_days(settings, now=now) == [("entry_pos_b", D2)]
    deliver(landing, D1, "dejima", pos_b_lines(D1, "dejima", range(31)))  # a corrected day
    assert catchup.pending_days(settings, now=now) == [("entry_pos_b", D1), ("entry_pos_b", D2)]
    # the refused file, untouched, is not retried every cycle
    assert ("entry_pos_b", D3) not in catchup.pending_days(settings, now=now)
    # bounded: with a one-day window only D3 would be looked at
    monkeypatch.setenv("FLOW_CATCHUP_LOOKBACK_DAYS", "2")
    from flowlib.config import get_settings

    assert catchup.pending_days(get_settings(), now=now) == []


def test_overdue_pending_deliveries_become_late(settings, caplog):
    prepare_warehouse(settings)
    spec = load_registry(settings)["entry_pos_b"]
    with duckdb.connect(str(settings.warehouse_path)) as con:
        feed_status.record(con, spec, D1, "missing", [], now=spec.expected_at(D1) - timedelta(hours=1))
    after_due = spec.expected_at(D1) + timedelta(minutes=5)
    work = catchup.find_work(settings, now=after_due)
    assert work.overdue == (("entry_pos_b", D1),) and work.reload == ()
    assert catchup.Work.from_json(work.to_json()) == work
    with caplog.at_level("ERROR", logger="flowlib.alerts"):
        catchup.reload(work, settings, now=after_due)
    assert status_of(settings, "entry_pos_b", D1).status == "late"
    alerts = [r.getMessage() for r in caplog.records if r.name == "flowlib.alerts"]
    assert len(alerts) == 1 and alerts[0].startswith("ALERT late_data: entry_pos_b: no delivery for service day 2026-11-02")
    assert not catchup.find_work(settings, now=after_due)


def test_catchup_rebuilds_the_day_like_a_clean_load(night, tmp_path, monkeypatch):
    settings, _ = night
    landing = settings.landing_dir
    fixed = pos_b_lines(D3, "dejima", range(200, 240))
    deliver(landing, D3, "dejima", fixed)
    build_marts([d.isoformat() for d in (D1, D2, D3)], settings)
    publish_dashboards([d.isoformat() for d in (D1, D2, D3)], settings)
    done = catchup.run_catchup(settings, now=datetime(2026, 11, 6, 9, 0))
    assert done == {"days": [D3.isoformat()], "refused": [], "problems": []}
    assert status_of(settings, "entry_pos_b", D3).status == "loaded"
    # the fixed delivery's 40 taps are in; the day's one facility row may be withheld by the
    # disclosure settlement (with one facility, the facility is all facilities), so the mart
    # is compared with a clean load below rather than with 40
    assert rows(settings, "select count(*) from raw.entry_log where service_date = ? and source = 'entry_pos_b'", [D3]) == [(40,)]
    caught_up = rows(
        settings,
        "select facility_id, entries, visitors, suppression from marts.facility_daily where service_date = ? order by all",
        [D3],
    )
    assert [row[0] for row in caught_up] == ["dejima"]
    assert rows(
        settings, "select bool_and(is_complete) from marts.feed_coverage where service_date = ? and source = 'entry_pos_b'", [D3]
    ) == [(True,)]
    page = (settings.dashboards_dir / "daily" / f"{D3.isoformat()}.html").read_text(encoding="utf-8")
    assert 'data-source="entry_pos_b" data-day="2026-11-04" data-status="loaded"' in page

    # the same files loaded in one go into a fresh warehouse give the same marts
    monkeypatch.setenv("FLOW_DATA_DIR", str(tmp_path / "clean"))
    monkeypatch.setenv("FLOW_LANDING_DIR", str(landing))
    from flowlib.config import get_settings

    clean = get_settings()
    prepare_warehouse(clean)
    ingest_source("entry_pos_b", [D3.isoformat()], clean)
    build_marts([D3.isoformat()], clean)
    assert (
        rows(
            clean,
            "select facility_id, entries, visitors, suppression from marts.facility_daily where service_date = ? order by all",
            [D3],
        )
        == caught_up
    )


# ----------------------------------------------------------------------------- flowlib run and pages


def test_flowlib_run_goes_on_past_a_refused_source_and_the_pages_show_the_gaps(settings, capsys):
    from flowlib.cli import main

    landing = settings.landing_dir
    deliver(landing, D1, "dejima", pos_b_lines(D1, "dejima", range(30)))
    deliver(landing, D2, "dejima", pos_b_lines(D2, "dejima", range(25)))
    deliver(landing, D2, "glover_garden", [POS_B_HEADER.replace("カード番号,", "")] + ["x"])
    assert main(["run", "--first", D1.isoformat(), "--last", D2.isoformat()]) == 2
    error = capsys.readouterr().err
    assert re.match(
        r"error: the night was built without 1 delivery \(pages show the gaps, index: .*index\.html\): "
        r"entry_pos_b 2026-11-03: rejected \(entry_log/pos_b/2026-11-03/glover_garden\.csv, line 1",
        error,
    )
    index = (settings.dashboards_dir / "index.html").read_text(encoding="utf-8")
    day = (settings.dashboards_dir / "daily" / f"{D2.isoformat()}.html").read_text(encoding="utf-8")
    # the other sources never delivered anything: late, shown per source and day
    for source in ("entry_pos_a", "survey_web", "wifi_vendor_a"):
        assert f'data-source="{source}" data-day="2026-11-03" data-status="late"' in day
    assert 'data-source="entry_pos_b" data-day="2026-11-03" data-status="rejected"' in day
    assert "glover_garden.csv, line 1: missing column(s) カード番号" in day
    assert 'data-complete="false"' in day
    # a refused file refuses its whole delivery: nothing of entry_pos_b on D2, and the
    # facilities it delivered before are named as incomplete instead of showing zero
    assert rows(settings, "select count(*) from marts.facility_daily where service_date = ?", [D2]) == [(0,)]
    assert re.search(r'data-scope="facility" data-scope-id="dejima">.*?entry_pos_b 2026-11-03 rejected', day, re.S)
    # and the map draws it as a dashed outline whose popup says why there is no figure
    assert "facility-gap-marker" in day
    assert re.search(
        r'data-facility-id=\\?"dejima\\?".*?No figures, missing data: .*?entry_pos_b 2026-11-03 \(rejected\)', day, re.S
    )
    freshness = re.search(r'<section id="freshness">.*?</section>', index, re.S).group(0)
    assert re.search(r'data-source="entry_pos_b" data-status="rejected".*?class="last-loaded">2026-11-02<', freshness, re.S)
    assert re.search(r'data-source="wifi_vendor_a" data-status="late".*?class="last-loaded">—<', freshness, re.S)
    grid = re.search(r'<section id="feed-days">.*?</section>', index, re.S).group(0)
    from flowlib.sources import load_registry

    daily_sources = sum(1 for spec in load_registry(settings).values() if spec.is_daily)
    assert grid.count("<td data-day=") == 2 * daily_sources  # every daily source x 2 days
    cells = re.findall(r'<td data-day="[^"]+" data-status="([a-z]+)"', grid)
    assert sorted(cells) == ["late"] * (2 * daily_sources - 2) + ["loaded", "rejected"]


def test_period_pages_list_only_the_deliveries_that_were_not_loaded():
    from flowlib.dashboards.feeds import FeedDay, PageFeeds, feeds_view

    due = datetime(2026, 11, 3, 1, 30)
    days = [
        FeedDay("entry_pos_a", D1, "entry_log", "loaded", None, due, due - timedelta(hours=1), True),
        FeedDay("entry_pos_a", D2, "entry_log", "rejected", "a.csv, line 3: bad", due, due, True),
        FeedDay("wifi_vendor_a", D1, "wifi_ap_count", "loaded", None, due, due + timedelta(hours=8), False),
        FeedDay("wifi_vendor_a", D2, "wifi_ap_count", "late", None, due + timedelta(days=1), None, None),
    ]
    period = feeds_view(PageFeeds(days), is_period=True)
    assert [(r["source"], r["status"]) for r in period["rows"]] == [("entry_pos_a", "rejected"), ("wifi_vendor_a", "late")]
    assert period["complete"] is False and period["loaded"] == 2 and period["checked"] == 4
    daily = feeds_view(PageFeeds(days), is_period=False)
    assert len(daily["rows"]) == 4
    rejected, late_arrival, late = daily["rows"][1], daily["rows"][2], daily["rows"][3]
    assert rejected["note_en"] == "a.csv, line 3: bad"
    assert late_arrival["note_en"] == "arrived late (due 11-03 01:30, arrived 11-03 09:30), then loaded"
    assert late["note_en"].startswith("not delivered by 11-04 01:30")
    assert feeds_view(None, is_period=False) is None
    assert feeds_view(PageFeeds(days[:1]), is_period=True) == {
        "rows": [],
        "checked": 1,
        "loaded": 1,
        "complete": True,
        "gaps": [],
    }
