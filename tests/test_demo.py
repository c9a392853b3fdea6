"""The demo generator writes the contract's raw formats, reproducibly, with a truthful answer key.

The checks re-read the written files with plain csv/json code (not the generator's helpers),
so they catch a truth that drifts from what is actually on disk.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from flowlib import demo
from flowlib.geo import load_access_points, load_facilities

CRUISE_DAY = date(2026, 11, 11)
POS_A_HEADER = "利用日時,カードID,券種,金額,発行国"
POS_B_HEADER = "施設コード,入場日,入場時刻,カード番号,チケット種別,料金(円),カード発行国"
SURVEY_HEADER = (
    "回答ID,回答日時,回答言語,居住国,居住都道府県,旅ナカでの情報取得満足度,旅行全体の満足度,おすすめ度,"
    "利用した情報源,訪問した施設,自由記述"
)
POS_A_TICKETS = {"大人", "中高生", "小学生", "団体", "シニア"}
POS_B_TICKETS = {"一般", "学生", "子供", "団体", "シニア"}
INFO_SOURCES = {"official_site", "sns", "tourist_info_center", "free_wifi", "guidebook", "friends", "map_app", "hotel"}


@pytest.fixture(scope="module")
def fortnight(tmp_path_factory):
    """The default demo fortnight at 5 % volume: (landing_dir, truth)."""
    landing = tmp_path_factory.mktemp("fortnight") / "landing"
    return landing, demo.generate(landing, demo.DEMO_START, demo.DEMO_END, scale=0.05)


@pytest.fixture(scope="module")
def full_scale(tmp_path_factory):
    """An ordinary weekday and the cruise day at full volume."""
    landing = tmp_path_factory.mktemp("full") / "landing"
    return landing, demo.generate(landing, date(2026, 11, 10), CRUISE_DAY)


@pytest.fixture(scope="module")
def harbour_side() -> set[str]:
    facilities = load_facilities()
    return set(facilities.loc[facilities["harbour_side"], "facility_id"])


def _days(truth: demo.GroundTruth) -> list[date]:
    return [date.fromisoformat(day) for day in truth.days]


def _bad_lines(truth: demo.GroundTruth, day: date) -> dict[str, set[int]]:
    bad: dict[str, set[int]] = defaultdict(set)
    for quarantine in truth.days[day.isoformat()].expected_quarantines:
        bad[quarantine["file"]].add(quarantine["line"])
    return bad


def _entry_rows(landing: Path, day: date, skip: dict[str, set[int]] | None = None) -> list[dict]:
    """Every entry row of a day as {facility, card, at, ticket, amount, issuer, file, line}."""
    rows = []
    for pos in ("a", "b"):
        for path in sorted((landing / f"entry_log/pos_{pos}/{day.isoformat()}").glob("*.csv")):
            relative = path.relative_to(landing).as_posix()
            text = path.read_bytes().decode("cp932" if pos == "a" else "utf-8-sig")
            for line_number, record in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
                if line_number == 1 or line_number in (skip or {}).get(relative, set()):
                    continue
                if pos == "a":
                    stamp, card, ticket, amount, issuer = record
                    at = datetime.strptime(stamp, "%Y/%m/%d %H:%M:%S")
                else:
                    _, entry_date, entry_time, card, ticket, amount, issuer = record
                    at = datetime.strptime(f"{entry_date} {entry_time}", "%Y-%m-%d %H:%M:%S")
                rows.append(
                    {
                        "facility": path.stem,
                        "card": card,
                        "at": at,
                        "ticket": ticket,
                        "amount": int(amount),
                        "issuer": issuer,
                        "file": relative,
                        "line": line_number,
                    }
                )
    return rows


def _survey_rows(landing: Path, day: date) -> list[dict[str, str]]:
    text = (landing / f"survey/web/{day.isoformat()}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _all_files(landing: Path) -> dict[str, bytes]:
    return {path.relative_to(landing).as_posix(): path.read_bytes() for path in landing.rglob("*") if path.is_file()}


def test_same_seed_gives_byte_identical_files_and_other_seeds_differ(tmp_path):
    runs = {}
    for name, seed in (("first", 7), ("again", 7), ("other", 8)):
        truth = demo.generate(tmp_path / name, date(2026, 11, 1), date(2026, 11, 2), seed=seed, scale=0.02)
        runs[name] = (_all_files(tmp_path / name), truth.to_json())
    assert runs["first"] == runs["again"]
    first_files, other_files = runs["first"][0], runs["other"][0]
    assert first_files.keys() == other_files.keys()
    changed = [name for name in first_files if first_files[name] != other_files[name]]
    assert "entry_log/pos_a/2026-11-01/glover_garden.csv" in changed
    assert "wifi/vendor_a/2026-11-02.json" in changed
    assert "survey/web/2026-11-02.csv" in changed
    assert runs["first"][1] != runs["other"][1]


def test_no_temporary_files_are_left_behind(fortnight):
    landing, _ = fortnight
    assert not [path for path in landing.rglob("*") if path.name.startswith(".")]


def test_entry_files_use_the_contract_encodings_and_headers(fortnight):
    landing, truth = fortnight
    for day in _days(truth):
        pos_a = sorted(p.stem for p in (landing / f"entry_log/pos_a/{day}").glob("*.csv"))
        pos_b = sorted(p.stem for p in (landing / f"entry_log/pos_b/{day}").glob("*.csv"))
        assert sorted(pos_a + pos_b) == sorted(demo.GATES), day
        assert set(pos_a) == {f for f, gate in demo.GATES.items() if gate.pos == "a"}
        for facility in pos_a:
            data = (landing / f"entry_log/pos_a/{day}/{facility}.csv").read_bytes()
            assert data.count(b"\n") == data.count(b"\r\n") >= 1
            text = data.decode("cp932")
            assert text.split("\r\n")[0] == POS_A_HEADER
        for facility in pos_b:
            data = (landing / f"entry_log/pos_b/{day}/{facility}.csv").read_bytes()
            assert data.startswith(b"\xef\xbb\xbf")
            assert b"\r" not in data
            assert data.decode("utf-8-sig").split("\n")[0] == POS_B_HEADER


def test_entry_rows_have_valid_fields_and_opening_hours(fortnight):
    landing, truth = fortnight
    for day in _days(truth):
        rows = _entry_rows(landing, day, skip=_bad_lines(truth, day))
        assert rows
        for row in rows:
            assert re.fullmatch(r"\d{16}", row["card"])
            assert re.fullmatch(r"([A-Z]{2})?", row["issuer"])
            assert row["ticket"] in (POS_A_TICKETS if row["file"].startswith("entry_log/pos_a") else POS_B_TICKETS)
            assert row["amount"] > 0
            assert row["at"].date() == day
            latest = "22:00:00" if row["facility"] == "inasayama_observatory" else "21:00:00"
            assert "08:00:00" <= row["at"].strftime("%H:%M:%S") <= latest, row
        pos_b_rows = [r for r in rows if "pos_b" in r["file"]]
        raw = (landing / pos_b_rows[0]["file"]).read_text(encoding="utf-8-sig").splitlines()[1]
        assert raw.split(",")[0] == pos_b_rows[0]["facility"]


def test_wifi_files_cover_every_ap_and_bin_of_the_service_day(fortnight):
    landing, truth = fortnight
    ap_ids = set(load_access_points()["ap_id"])
    for day in _days(truth):
        export = json.loads((landing / f"wifi/vendor_a/{day}.json").read_text(encoding="utf-8"))
        assert set(export) == {"vendor", "exported_at", "bin_minutes", "records"}
        assert export["bin_minutes"] == 10
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00", export["exported_at"])
        bins = {r["bin_start"] for r in export["records"]}
        assert min(bins) == f"{day}T04:00:00+09:00"
        assert max(bins) == f"{day + timedelta(days=1)}T03:50:00+09:00"
        assert len(bins) == 144
        assert Counter(r["ap_id"] for r in export["records"]) == {ap: 144 for ap in ap_ids}
        for record in export["records"]:
            assert set(record) == {"ap_id", "bin_start", "connections", "unique_devices"}
            assert 0 <= record["unique_devices"] <= record["connections"]


def test_survey_files_follow_the_web_form_export(fortnight):
    landing, truth = fortnight
    facility_ids = set(load_facilities()["facility_id"])
    for day in _days(truth):
        data = (landing / f"survey/web/{day}.csv").read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf")
        assert data.decode("utf-8").split("\n")[0] == SURVEY_HEADER
        bad = _bad_lines(truth, day)[f"survey/web/{day}.csv"]
        rows = _survey_rows(landing, day)
        assert len({row["回答ID"] for row in rows}) == len(rows)
        for line_number, row in enumerate(rows, start=2):
            start = datetime.combine(day, datetime.min.time()) + timedelta(hours=4)
            assert start <= datetime.strptime(row["回答日時"], "%Y-%m-%d %H:%M:%S") < start + timedelta(days=1)
            assert row["回答言語"] in {"ja", "en", "zh", "ko"}
            assert re.fullmatch(r"[A-Z]{2}", row["居住国"])
            assert (row["居住国"] == "JP") == (row["居住都道府県"] != "") == (row["回答言語"] == "ja")
            if line_number not in bad:
                assert row["旅ナカでの情報取得満足度"] in {"", "9", "1", "2", "3", "4", "5"}
            assert row["旅行全体の満足度"] in {"1", "2", "3", "4", "5"}
            assert 0 <= int(row["おすすめ度"]) <= 10
            assert set(row["利用した情報源"].split(";")) <= INFO_SOURCES
            assert row["訪問した施設"] and set(row["訪問した施設"].split(";")) <= facility_ids


def test_bad_rows_are_exactly_at_the_recorded_lines(fortnight):
    landing, truth = fortnight
    for day in _days(truth):
        expected = truth.days[day.isoformat()].expected_quarantines
        assert Counter(q["reason"] for q in expected) == {
            "negative_amount": 1,
            "unparseable_timestamp": 1,
            "satisfaction_out_of_range": 1,
        }
        for quarantine in expected:
            path = landing / quarantine["file"]
            data = path.read_bytes()
            text = data.decode("cp932") if "pos_a" in quarantine["file"] else data.decode("utf-8-sig")
            line = text.splitlines()[quarantine["line"] - 1].split(",")
            if quarantine["reason"] == "negative_amount":
                assert quarantine["source"] in {"entry_pos_a", "entry_pos_b"}
                assert int(line[-2]) < 0
            elif quarantine["reason"] == "unparseable_timestamp":
                stamp = line[0] if quarantine["source"] == "entry_pos_a" else f"{line[1]} {line[2]}"
                with pytest.raises(ValueError):
                    datetime.strptime(stamp.replace("/", "-"), "%Y-%m-%d %H:%M:%S")
            else:
                assert quarantine["source"] == "survey_web"
                assert line[5] == "7"
        # Every other row parses: _entry_rows would raise on a broken timestamp.
        rows = _entry_rows(landing, day, skip=_bad_lines(truth, day))
        assert all(row["amount"] > 0 for row in rows)


def test_clean_run_writes_no_bad_rows(tmp_path):
    truth = demo.generate(tmp_path, CRUISE_DAY, CRUISE_DAY, scale=0.03, dirty=False)
    assert truth.days[CRUISE_DAY.isoformat()].expected_quarantines == []
    assert all(row["amount"] > 0 for row in _entry_rows(tmp_path, CRUISE_DAY))
    assert {row["旅ナカでの情報取得満足度"] for row in _survey_rows(tmp_path, CRUISE_DAY)} <= {"", "9", "1", "2", "3", "4", "5"}


def _recount_trips(rows: list[dict]) -> tuple[Counter, dict[str, set], dict[str, set]]:
    """Independent trip rules: collapse re-taps within 30 minutes, split on gaps over 240."""
    by_card: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for row in rows:
        by_card[row["card"]].append((row["at"], row["facility"]))
    transitions, pair_cards, route_cards = Counter(), defaultdict(set), defaultdict(set)
    for card, taps in by_card.items():
        trips: list[list[list]] = [[]]
        previous = None
        for at, facility in sorted(taps):
            if previous and at - previous > timedelta(minutes=240):
                trips.append([])
            trip = trips[-1]
            if trip and trip[-1][0] == facility and at - trip[-1][1] <= timedelta(minutes=30):
                trip[-1][1] = at
            else:
                trip.append([facility, at])
            previous = at
        for trip in trips:
            sequence = [facility for facility, _ in trip]
            route_cards[">".join(sequence)].add(card)
            for pair in zip(sequence, sequence[1:]):
                transitions[">".join(pair)] += 1
                pair_cards[">".join(pair)].add(card)
    return transitions, pair_cards, route_cards


def test_ground_truth_matches_a_recount_of_the_files(fortnight):
    landing, truth = fortnight
    for day in _days(truth):
        expected = truth.days[day.isoformat()]
        rows = _entry_rows(landing, day, skip=_bad_lines(truth, day))
        entries = Counter(row["facility"] for row in rows)
        assert expected.entries_per_facility == {f: entries.get(f, 0) for f in sorted(demo.GATES)}
        cards = defaultdict(set)
        for row in rows:
            cards[row["facility"]].add(row["card"])
        assert expected.visitors_per_facility == {f: len(cards[f]) for f in sorted(demo.GATES)}
        hours = Counter((row["facility"], row["at"].strftime("%H")) for row in rows)
        per_hour = expected.entries_per_facility_hour
        assert {(f, h): n for f, counts in per_hour.items() for h, n in counts.items()} == hours

        transitions, pair_cards, route_cards = _recount_trips(rows)
        assert expected.transitions == {
            pair: {"transitions": n, "visitors": len(pair_cards[pair])} for pair, n in transitions.items()
        }
        assert expected.routes == {route: len(c) for route, c in route_cards.items()}
        assert list(expected.routes.values()) == sorted(expected.routes.values(), reverse=True)
        assert sum(expected.visitors_per_stop_count.values()) == len({row["card"] for row in rows})

        survey = _survey_rows(landing, day)
        bad_survey = _bad_lines(truth, day)[f"survey/web/{day}.csv"]
        valid = [row for line, row in enumerate(survey, start=2) if line not in bad_survey]
        for segment, from_japan in (("domestic", True), ("international", False)):
            answers = [row["旅ナカでの情報取得満足度"] for row in valid if (row["居住国"] == "JP") == from_japan]
            assert expected.survey[segment] == {
                "respondents": len(answers),
                "answered": sum(a in {"1", "2", "3", "4", "5"} for a in answers),
                "satisfied": sum(a in {"4", "5"} for a in answers),
            }

        export = json.loads((landing / f"wifi/vendor_a/{day}.json").read_text(encoding="utf-8"))
        per_ap = Counter()
        for record in export["records"]:
            per_ap[record["ap_id"]] += record["connections"]
        assert expected.wifi_connections_per_ap == dict(per_ap)
        assert sum(sum(h.values()) for h in expected.wifi_connections_per_area_hour.values()) == sum(per_ap.values())


def test_visitor_days_are_single_trips_with_some_re_taps(fortnight):
    landing, truth = fortnight
    re_taps = 0
    for day in _days(truth):
        by_card = defaultdict(list)
        for row in _entry_rows(landing, day, skip=_bad_lines(truth, day)):
            by_card[row["card"]].append((row["at"], row["facility"]))
        for taps in by_card.values():
            taps.sort()
            gaps = [later[0] - earlier[0] for earlier, later in zip(taps, taps[1:])]
            assert all(gap <= timedelta(minutes=230) for gap in gaps)
            re_taps += sum(
                earlier[1] == later[1] and gap <= timedelta(minutes=10) for earlier, later, gap in zip(taps, taps[1:], gaps)
            )
            assert len({facility for _, facility in taps}) <= 5
        pairs = [pair.split(">") for pair in truth.days[day.isoformat()].transitions]
        assert all(origin != destination for origin, destination in pairs)
    assert re_taps >= 5


def test_cards_segments_and_stop_counts_are_plausible(fortnight):
    landing, truth = fortnight
    days = _days(truth)
    cards_by_day = {day: {row["card"] for row in _entry_rows(landing, day, skip=_bad_lines(truth, day))} for day in days}
    returning = [len(cards_by_day[d] & cards_by_day[n]) / len(cards_by_day[d]) for d, n in zip(days, days[1:])]
    assert 0.07 <= float(np.mean(returning)) <= 0.22
    assert all(not (cards_by_day[a] & cards_by_day[c]) for a, c in zip(days, days[2:]))

    issuers = Counter()
    for day in days:
        issuers.update(row["issuer"] for row in _entry_rows(landing, day, skip=_bad_lines(truth, day)))
    total = sum(issuers.values())
    assert 0.05 <= issuers[""] / total <= 0.15
    assert 0.55 <= issuers["JP"] / total <= 0.80
    assert len([c for c in issuers if c not in {"", "JP"}]) >= 8

    stops = Counter()
    for day_truth in truth.days.values():
        stops.update({int(k): v for k, v in day_truth.visitors_per_stop_count.items()})
        multi = day_truth.multi_facility_visitors
        assert multi["all"] == multi["domestic"] + multi["international"] + multi["unknown"]
    assert set(stops) <= {1, 2, 3, 4, 5}
    assert 0.45 <= 1 - stops[1] / sum(stops.values()) <= 0.65


def test_weekends_and_the_holiday_are_busier_than_weekdays(fortnight):
    _, truth = fortnight
    totals = {date.fromisoformat(d): sum(t.entries_per_facility.values()) for d, t in truth.days.items()}
    kinds = {date.fromisoformat(d): t.day_type for d, t in truth.days.items()}
    assert kinds[date(2026, 11, 3)] == "holiday"
    busy = [n for day, n in totals.items() if kinds[day] != "weekday"]
    ordinary = [n for day, n in totals.items() if kinds[day] == "weekday" and day not in demo.CRUISE_DAYS]
    assert len(busy) == 5 and len(ordinary) == 8
    assert 1.25 <= np.mean(busy) / np.mean(ordinary) <= 1.6


def test_cruise_day_surges_international_visitors_at_harbour_side_sights(fortnight, harbour_side):
    landing, truth = fortnight
    assert truth.days[CRUISE_DAY.isoformat()].cruise_call

    def international_at_harbour(day: date) -> list[datetime]:
        rows = _entry_rows(landing, day, skip=_bad_lines(truth, day))
        return [r["at"] for r in rows if r["facility"] in harbour_side and r["issuer"] not in {"", "JP"}]

    weekdays = [d for d in _days(truth) if truth.days[d.isoformat()].day_type == "weekday" and d != CRUISE_DAY]
    usual = np.mean([len(international_at_harbour(day)) for day in weekdays])
    surge = international_at_harbour(CRUISE_DAY)
    assert len(surge) >= 3 * usual
    in_port_hours = [at for at in surge if 9 <= at.hour < 16]
    assert len(in_port_hours) >= 0.8 * len(surge)
    museum = truth.days[CRUISE_DAY.isoformat()].entries_per_facility["atomic_bomb_museum"]
    usual_museum = np.mean([truth.days[d.isoformat()].entries_per_facility["atomic_bomb_museum"] for d in weekdays])
    assert museum <= 1.3 * usual_museum


def test_full_scale_volumes(full_scale):
    _, truth = full_scale
    weekday = truth.days["2026-11-10"].entries_per_facility
    ranking = sorted(weekday, key=weekday.get, reverse=True)
    assert ranking[:2] == ["glover_garden", "atomic_bomb_museum"]
    assert 1000 <= weekday["glover_garden"] <= 1500
    assert 8500 <= sum(weekday.values()) <= 14000
    assert all(weekday[f] < 200 for f in ("confucius_shrine", "sofukuji", "twenty_six_martyrs"))
    cruise = truth.days[CRUISE_DAY.isoformat()].entries_per_facility
    assert cruise["glover_garden"] >= weekday["glover_garden"] + 1000
    assert max(cruise, key=cruise.get) == "glover_garden"


def test_survey_volume_and_sample(full_scale, fortnight):
    landing, truth = full_scale
    rows = [row for day in _days(truth) for row in _survey_rows(landing, day)]
    assert 60 * 2 <= len(rows) <= 151 * 2
    weekday = _survey_rows(landing, date(2026, 11, 10))
    # About a quarter of the visitors are international, but they answer 2.5 times as often
    # (the planted response bias): roughly half of the respondents.
    assert 0.30 <= sum(row["居住国"] != "JP" for row in weekday) / len(weekday) <= 0.62
    assert sum(row["自由記述"] != "" for row in rows) >= 0.3 * len(rows)
    _, small = fortnight
    assert all(t.survey["domestic"]["respondents"] + t.survey["international"]["respondents"] >= 1 for t in small.days.values())


def test_in_trip_information_satisfaction_targets():
    """Statistical targets of the survey model, on a large sample of the internal simulation."""
    network = demo._build_network()
    rng = np.random.default_rng(1)
    visitors = demo._new_visitors(rng, 2000, 2000, 0, len(network.facility_ids), set())
    stops = demo._plan_stops(rng, network, visitors)
    responses = demo._survey_responses(rng, network, date(2026, 11, 2), 240, 4000, visitors, stops)
    info = responses["旅ナカでの情報取得満足度"]
    answered = info.isin(["1", "2", "3", "4", "5"])
    satisfied = info.isin(["4", "5"])
    domestic = responses["居住国"] == "JP"
    assert 0.53 <= satisfied[domestic].sum() / answered[domestic].sum() <= 0.60
    assert 0.68 <= satisfied[~domestic].sum() / answered[~domestic].sum() <= 0.76
    assert 0.02 <= (info == "").mean() <= 0.045 and 0.01 <= (info == "9").mean() <= 0.03
    wifi = responses["利用した情報源"].str.contains("free_wifi")
    assert satisfied[wifi & answered].mean() > satisfied[~wifi & answered].mean()


def test_ground_truth_round_trips_through_json(fortnight):
    _, truth = fortnight
    assert demo.GroundTruth.from_json(truth.to_json()) == truth


def test_cli_writes_landing_files_and_truth(tmp_path, capsys):
    landing = tmp_path / "landing"
    arguments = ["--landing-dir", str(landing), "--start", "2026-11-03", "--end", "2026-11-03", "--scale", "0.02"]
    assert demo.main(arguments) == 0
    output = capsys.readouterr().out
    assert re.search(r"^demo: 2026-11-03 written \([\d,]+ entries, [\d,]+ wifi bins, \d+ surveys\)$", output, re.M)
    truth = demo.GroundTruth.from_json((tmp_path / "demo_truth.json").read_text(encoding="utf-8"))
    assert list(truth.days) == ["2026-11-03"] and truth.dirty and truth.scale == 0.02
    assert (landing / "wifi/vendor_a/2026-11-03.json").exists()


def test_rejects_an_empty_range(tmp_path):
    with pytest.raises(ValueError, match="before start"):
        demo.generate(tmp_path, date(2026, 11, 2), date(2026, 11, 1))


def _log_built_days(settings, first: date, last: date) -> None:
    """Record first..last as built, as a build does (sql/runner/log_built_days.sql)."""
    from flowlib.models import runner_sql
    from flowlib.warehouse import writer

    with writer(settings) as con:
        con.execute(f"set variable first_service_date = date '{first}'")
        con.execute(f"set variable last_service_date = date '{last}'")
        con.execute(runner_sql("log_built_days"))


def test_make_run_loads_the_history_until_this_warehouse_has_built_every_day_of_it(settings, capsys):
    """`make run` asks the warehouse (demo_history --built), not a marker file: a deleted or
    replaced warehouse gets the history again, and a half-built one too."""
    from flowlib import demo_history
    from flowlib.warehouse import ensure_schema, writer

    start, weeks = date(2026, 11, 1), 2
    first, last = demo_history.history_first(start, weeks), start - timedelta(days=1)
    args = ["--start", start.isoformat(), "--weeks", str(weeks), "--built"]

    assert not settings.warehouse_path.exists()
    assert demo_history.main(args) == 1
    assert "not built yet" in capsys.readouterr().out
    with writer(settings) as con:
        ensure_schema(con, settings)
    assert not demo_history.history_built(settings, start, weeks)
    _log_built_days(settings, first, last - timedelta(days=1))  # every day but the last
    _log_built_days(settings, start, start + timedelta(days=3))  # the fortnight's days are not the history's
    assert not demo_history.history_built(settings, start, weeks)
    _log_built_days(settings, last, last)
    assert demo_history.history_built(settings, start, weeks)
    assert demo_history.main(args) == 0
    assert "already built" in capsys.readouterr().out
    # a longer history than the warehouse built is not built
    assert not demo_history.history_built(settings, start, weeks + 1)
    settings.warehouse_path.unlink()
    assert demo_history.main(args) == 1


def test_make_run_starts_at_the_history_while_the_warehouse_lacks_it(settings):
    """The run recipe as make would run it (make -n prints it), the nightly script replaced
    by echo: the first day it asks for is the history's on a new warehouse, the fortnight's
    once the warehouse has built the history."""
    import os
    import subprocess

    from flowlib import demo_history
    from flowlib.config import PROJECT_ROOT
    from flowlib.warehouse import ensure_schema, writer

    dry = subprocess.run(["make", "-n", "run"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    recipe = dry[dry.index("if .venv/bin/python -m flowlib.demo_history") :]
    recipe = recipe[: recipe.index("\necho")].replace("bash scripts/run_nightly.sh", "echo nightly")

    def first_day_asked() -> str:
        env = {**os.environ, "FLOW_DATA_DIR": str(settings.data_dir)}
        out = subprocess.run(["bash", "-c", recipe], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True)
        return out.stdout.split("nightly ")[1].split()[0]

    start = date.fromisoformat(re.search(r"--start (\S+) --built", recipe).group(1))
    first = demo_history.history_first(start)
    assert first_day_asked() == first.isoformat()
    with writer(settings) as con:
        ensure_schema(con, settings)
    _log_built_days(settings, first, start - timedelta(days=1))
    assert first_day_asked() == start.isoformat()
