"""The route pipeline on real Wi-Fi sensing data, against independent computations.

Data: the Hokuriku inbound-tourism consortium's sample in /work/shared/realdata (MIT
licence; see its README): stays at the Kanazawa cluster (``move_kanazawa/N.csv``, already
sessionised by the publisher), the publisher's per-device routes (``user.csv``: ``pos`` =
facility numbers in time order, consecutive repeats collapsed) and raw detections at
facility 29 (``raw_sample/``).

Checked here:

* the pipeline's transitions and routes (int_stops → int_transitions / int_trips →
  transitions_daily / routes_daily, run by ``flowlib.models``) equal a plain-Python
  computation of the same rules written in this file;
* every device the pipeline keeps whole has exactly the publisher's route;
* the resident-device rule (seen on at least 10 of the last 28 service days: staff
  phones, fixed equipment) removes the devices with thousands of steps and leaves tourists;
* raw detections, loaded through the source registry and ingest, sessionise into exactly
  the publisher's stays (start and dwell).

Locally the tests skip when /work/shared is missing; with CI=true they fail instead.
"""

from __future__ import annotations

import bisect
import hmac
import shutil
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from conftest import PROJECT_ROOT, load_kanazawa_stays, require, throwaway_settings

from flowlib.config import Settings
from flowlib.ingest import ingest_partition
from flowlib.models import build_range
from flowlib.pipeline import prepare_warehouse
from flowlib.pseudonym import pseudonymise_many
from flowlib.sources import parse_declaration
from flowlib.warehouse import writer

FIRST, LAST = date(2024, 8, 26), date(2024, 10, 30)
KANAZAWA = ["24", *(str(n) for n in range(26, 39))]
RAW_SAMPLE_DAYS = (date(2024, 9, 13), date(2024, 10, 1))
EXAMPLES = PROJECT_ROOT / "sources" / "examples"
#: "devices with thousands of steps" in the publisher's user.csv
STAFF_STEPS = 1000
ROUTE_MODELS = [
    "int_sensor_stays",
    "int_codes",
    "int_stop_rows",
    "int_stops",
    "int_transitions",
    "int_trips",
    "int_visitor_days",
    "transitions_by_period",
    "routes_by_period",
    "transitions_daily",
    "routes_daily",
]


def _settings(root: Path) -> Settings:
    return throwaway_settings(root, hmac_key_env="hokuriku-test-key", min_cell_count=1)


@pytest.fixture(scope="module")
def hokuriku(realdata: Path) -> Path:
    folder = realdata / "hokuriku_wifi_sensor"
    require(
        (folder / "user.csv").is_file() and (folder / "move_kanazawa").is_dir(),
        f"the Hokuriku Wi-Fi sensing sample {folder} is missing",
    )
    return folder


def read_stays(folder: Path) -> pd.DataFrame:
    """The publisher's stay starts: facility (file name), start (JST), device number."""
    frames = []
    for path in sorted((folder / "move_kanazawa").glob("*.csv")):
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype={"userid": str})
        frame["facility_id"] = path.stem
        frames.append(frame)
    stays = pd.concat(frames, ignore_index=True)
    stays["detected_at"] = pd.to_datetime(stays["dt"]).dt.tz_convert("Asia/Tokyo").dt.tz_localize(None)
    return stays


# ----------------------------------------------------------------- independent computation


def independent_routes(stays: pd.DataFrame, settings: Settings) -> dict[str, object]:
    """Trips from the stay starts with plain Python, following docs/routes.md."""
    minute = timedelta(minutes=1)
    start_hour = timedelta(hours=settings.service_day_start.hour)
    detections = sorted({(row.userid, row.facility_id, row.detected_at.to_pydatetime()) for row in stays.itertuples()})
    service_day = {d: (d[2] - start_hour).date() for d in detections}

    # resident devices: seen on >= 10 of the 28 service days ending with the day
    days_by_device: dict[str, list[date]] = defaultdict(list)
    for device, day in sorted({(d[0], service_day[d]) for d in detections}):
        days_by_device[device].append(day)
    resident = set()
    for device, days in days_by_device.items():
        for i, day in enumerate(days):
            if i + 1 - bisect.bisect_left(days, day - timedelta(days=27)) >= 10:
                resident.add((device, day))

    # stays: per device, facility and day, a gap of more than 30 minutes starts a new one
    stay_list: dict[tuple[str, date], list[tuple[datetime, str, datetime]]] = defaultdict(list)
    grouped: dict[tuple[str, str, date], list[datetime]] = defaultdict(list)
    for d in detections:
        grouped[(d[0], d[1], service_day[d])].append(d[2])
    for (device, facility, day), times in grouped.items():
        if (device, day) in resident:
            continue
        start = end = times[0]
        for moment in times[1:]:
            if moment - end > settings.sensor_stay_gap_minutes * minute:
                stay_list[(device, day)].append((start, facility, end))
                start = moment
            end = moment
        stay_list[(device, day)].append((start, facility, end))

    transitions: Counter[tuple[date, str, str]] = Counter()
    pair_visitors: dict[tuple[date, str, str], set[str]] = defaultdict(set)
    route_visitors: dict[tuple[date, str], set[str]] = defaultdict(set)
    trips_total = 0
    for (device, day), events in stay_list.items():
        trips: list[list[str]] = []
        previous_facility, previous_end = None, None
        for start, facility, end in sorted(events):
            gap = None if previous_end is None else start - previous_end
            if gap is None or gap > settings.trip_max_gap_minutes * minute:
                trips.append([facility])
            elif facility != previous_facility or (
                # a return to the same facility: another stop only under FLOW_SELF_TRANSITIONS=keep
                settings.self_transitions == "keep" and gap > settings.reentry_gap_minutes * minute
            ):
                trips[-1].append(facility)
            previous_facility, previous_end = facility, end
        trips_total += len(trips)
        for stops in trips:
            if 2 <= len(stops) <= 5:
                route_visitors[(day, " > ".join(stops))].add(device)
            for pair in zip(stops, stops[1:]):
                transitions[(day, *pair)] += 1
                pair_visitors[(day, *pair)].add(device)
    return {
        "transitions": dict(transitions),
        "pair_visitors": {key: len(devices) for key, devices in pair_visitors.items()},
        "route_visitors": {key: len(devices) for key, devices in route_visitors.items()},
        "resident": resident,
        "trips": trips_total,
    }


def collapse(sequence: list[str]) -> list[str]:
    return [value for i, value in enumerate(sequence) if i == 0 or sequence[i - 1] != value]


# ----------------------------------------------------------------------- pipeline runs


def load_stays_directly(con, stays: pd.DataFrame, settings: Settings) -> None:
    """Stay starts into raw.wifi_sensor as ingest would write them (keyed hash of the id)."""
    start_hour = pd.Timedelta(hours=settings.service_day_start.hour)
    rows = pd.DataFrame(
        {
            "source": "hokuriku_stays",
            "service_date": (stays["detected_at"] - start_hour).dt.date,
            "facility_id": stays["facility_id"],
            "detected_at": stays["detected_at"],
            "device_key": pseudonymise_many(stays["userid"].tolist(), settings.hmac_key),
            "file_name": "hokuriku/move_kanazawa/" + stays["facility_id"] + ".csv",
            "line_number": stays.groupby("facility_id").cumcount() + 2,
        }
    )
    con.register("incoming_stays", rows)
    con.execute("insert into raw.wifi_sensor by name select * from incoming_stays")
    con.unregister("incoming_stays")


def pipeline_results(settings: Settings) -> dict[str, object]:
    with writer(settings) as con:
        build_range(con, FIRST, LAST, settings, only=ROUTE_MODELS)
        transitions = {
            (day, a, b): n
            for day, a, b, n in con.execute(
                "select service_date, from_facility_id, to_facility_id, count(*) from intermediate.int_transitions "
                "where source_kind = 'wifi_sensor' group by all"
            ).fetchall()
        }
        daily = {
            (day, a, b): (n, v)
            for day, a, b, n, v in con.execute(
                "select service_date, from_facility_id, to_facility_id, transitions, visitors "
                "from marts.transitions_daily where source_kind = 'wifi_sensor'"
            ).fetchall()
        }
        routes = {
            (day, route): v
            for day, route, v in con.execute(
                "select service_date, route, visitors from marts.routes_daily where source_kind = 'wifi_sensor'"
            ).fetchall()
        }
        per_trip = con.execute(
            "select count(*) filter (where t.n_stops - 1 <> coalesce(x.moves, 0)), count(*) from intermediate.int_trips as t "
            "left join (select service_date, visitor_id, trip_index, count(*) as moves from intermediate.int_transitions "
            "group by all) as x using (service_date, visitor_id, trip_index)"
        ).fetchone()
        sequences = dict(
            con.execute(
                # stops carry the 64-bit device id only; the raw table maps it back for the comparison
                "select k.device_key, list(s.facility_id order by s.arrived_at, s.facility_id) "
                "from intermediate.int_stops as s "
                "inner join (select distinct device_key, device_id as visitor_id from raw.wifi_sensor) as k "
                "using (visitor_id) group by all"
            ).fetchall()
        )
        resident_days = con.execute(
            "select device_key, service_date, bool_or(is_resident_device) from intermediate.int_sensor_stays group by all"
        ).fetchall()
        stays_by_device = con.execute(
            "select device_key, count(*), count(*) filter (where is_resident_device) "
            "from intermediate.int_sensor_stays group by all"
        ).fetchall()
        # each day's moves grouped on that day's codes and decoded after (as bench/routes_benchmark.py
        # reads them), and the same moves grouped on the ids
        by_codes = con.execute(
            "with cells as (select service_date, source_code, from_facility_code, to_facility_code, count(*) as moves, "
            "count(distinct visitor_id) as visitors from intermediate.int_transitions group by all) "
            "select service_date, ['entry_log', 'wifi_sensor'][source_code], codes.facility_ids[from_facility_code], "
            "codes.facility_ids[to_facility_code], moves, visitors "
            "from cells inner join intermediate.int_codes as codes using (service_date)"
        ).fetchall()
        by_ids = con.execute(
            "select service_date, source_kind, from_facility_id, to_facility_id, count(*), count(distinct visitor_id) "
            "from intermediate.int_transitions group by all"
        ).fetchall()
        recoded = con.execute(
            "select count(*) from (select to_facility_id from intermediate.int_transitions "
            "group by all having count(distinct to_facility_code) > 1)"
        ).fetchone()[0]
    return {
        "by_codes": sorted(by_codes),
        "by_ids": sorted(by_ids),
        "recoded_facilities": recoded,
        "transitions": transitions,
        "daily": daily,
        "routes": routes,
        "per_trip": per_trip,
        "sequences": sequences,
        "resident_days": resident_days,
        "stays_by_device": stays_by_device,
    }


@pytest.fixture(scope="module")
def stays(hokuriku: Path) -> pd.DataFrame:
    return read_stays(hokuriku)


@pytest.fixture(scope="module")
def users(hokuriku: Path) -> pd.DataFrame:
    return pd.read_csv(hokuriku / "user.csv", encoding="utf-8-sig")


@pytest.fixture(scope="module")
def direct_run(tmp_path_factory, stays: pd.DataFrame) -> dict[str, object]:
    settings = _settings(tmp_path_factory.mktemp("hokuriku_direct"))
    prepare_warehouse(settings)
    with writer(settings) as con:
        load_stays_directly(con, stays, settings)
    return {"settings": settings, **pipeline_results(settings)}


@pytest.fixture(scope="module")
def expected(stays: pd.DataFrame, direct_run: dict[str, object]) -> dict[str, object]:
    return independent_routes(stays, direct_run["settings"])


# ---------------------------------------------------------------------------------- tests


def test_transitions_and_routes_agree_with_an_independent_computation(direct_run, expected):
    assert direct_run["transitions"] == expected["transitions"]
    assert sum(expected["transitions"].values()) > 10_000  # the comparison is not vacuous
    assert direct_run["daily"] == {key: (n, expected["pair_visitors"][key]) for key, n in expected["transitions"].items()}
    assert direct_run["routes"] == expected["route_visitors"]
    assert len(expected["route_visitors"]) > 500
    bad_trips, trips = direct_run["per_trip"]
    assert (bad_trips, trips) == (0, expected["trips"])  # n stops -> n - 1 transitions


def test_a_days_moves_grouped_on_its_facility_codes_are_its_moves_grouped_on_ids(direct_run):
    """int_transitions carries each day's facility codes beside the ids: grouped on the codes
    and decoded after, a day's moves and distinct visitors are those grouped on the ids."""
    assert direct_run["by_codes"] == direct_run["by_ids"]
    assert len(direct_run["by_ids"]) > 1000
    assert direct_run["recoded_facilities"] > 0  # a facility's code changes from day to day: decoded per day


def test_kept_devices_follow_the_publishers_routes(direct_run, users):
    """user.csv `pos` (all 79 facilities) restricted to the Kanazawa cluster, repeats collapsed."""
    settings = direct_run["settings"]
    by_key = {
        hmac.digest(settings.hmac_key, str(uid).encode(), "sha256").hex(): row
        for uid, row in zip(users["userid"], users.itertuples())
    }
    ever_resident = {key for key, _, resident in direct_run["resident_days"] if resident}
    compared = 0
    for key, facilities in direct_run["sequences"].items():
        user = by_key[key]
        if key in ever_resident or user.poslen >= STAFF_STEPS:
            continue  # partly filtered: not comparable
        published = collapse([p for p in str(user.pos).split(",") if p in KANAZAWA])
        assert collapse(facilities) == published, f"device {user.userid}"
        compared += 1
    assert compared > 1000


def test_resident_rule_removes_staff_devices_and_keeps_tourists(direct_run, users):
    settings = direct_run["settings"]
    steps = {
        hmac.digest(settings.hmac_key, str(uid).encode(), "sha256").hex(): n for uid, n in zip(users["userid"], users["poslen"])
    }
    stays = {key: (total, resident) for key, total, resident in direct_run["stays_by_device"]}
    staff = [key for key in stays if steps[key] >= STAFF_STEPS]
    tourists = [key for key in stays if steps[key] <= 20]
    assert len(staff) > 50 and len(tourists) > 1000
    assert all(stays[key][1] > 0 for key in staff)  # every staff device is caught
    assert sum(stays[k][1] for k in staff) / sum(stays[k][0] for k in staff) > 0.7
    assert sum(1 for k in tourists if stays[k][1]) / len(tourists) < 0.01


def test_independent_staff_rule_matches_the_pipelines(direct_run, expected):
    settings = direct_run["settings"]
    # device_key -> device number, through the same keyed hash
    keys = {}
    resident = {(key, day) for key, day, flag in direct_run["resident_days"] if flag}
    for device, _day in expected["resident"]:
        keys.setdefault(device, pseudonymise_many([device], settings.hmac_key)[0])
    assert {(keys[d], day) for d, day in expected["resident"]} == resident


def raw_sample_stays(root: Path, hokuriku: Path, users: pd.DataFrame, via_ingest: bool) -> set[tuple]:
    """raw_sample/29_*.csv into raw.wifi_sensor, sessionised by int_sensor_stays, as
    (publisher's device number, stay start, dwell seconds)."""
    settings = _settings(root)
    prepare_warehouse(settings)
    if via_ingest:  # the source registry and the real ingest path
        landing = settings.landing_dir / "hokuriku" / "raw_sample"
        landing.mkdir(parents=True)
        for path in (hokuriku / "raw_sample").glob("29_*.csv"):
            shutil.copy(path, landing / path.name)
        spec = parse_declaration(EXAMPLES / "hokuriku_wifi_sensor.yaml")
        for day in RAW_SAMPLE_DAYS:
            result = ingest_partition(spec, day, settings)
            assert result.outcome == "loaded" and result.rows_loaded > 0
    else:  # the same rows, written as ingest writes them
        raw = pd.concat([pd.read_csv(p, dtype=str) for p in sorted((hokuriku / "raw_sample").glob("29_*.csv"))])
        moments = pd.to_datetime(raw["時間"], format="%Y-%m-%d %H:%M:%S")
        frame = pd.DataFrame(
            {
                "source": "hokuriku_wifi_sensor",
                "service_date": (moments - pd.Timedelta(hours=4)).dt.date,
                "facility_id": raw["施設No"],
                "detected_at": moments,
                "device_key": pseudonymise_many(raw["ユーザー情報"].tolist(), settings.hmac_key),
                "file_name": "raw_sample",
                "line_number": range(2, len(raw) + 2),
            }
        )
        with writer(settings) as con:
            con.register("incoming", frame)
            con.execute("insert into raw.wifi_sensor by name select * from incoming")
    with writer(settings) as con:
        build_range(con, RAW_SAMPLE_DAYS[0], RAW_SAMPLE_DAYS[-1], settings, only=["int_sensor_stays"])
        ours = con.execute(
            "select device_key, started_at, date_diff('second', started_at, ended_at) from intermediate.int_sensor_stays"
        ).fetchall()
    device_of = {
        hmac.digest(settings.hmac_key, user.encode(), "sha256").hex(): uid for uid, user in zip(users["userid"], users["user"])
    }
    return {(device_of[key], start, seconds) for key, start, seconds in ours}


def publisher_stays_at_29(hokuriku: Path) -> set[tuple]:
    publisher = pd.read_csv(hokuriku / "move_kanazawa" / "29.csv", encoding="utf-8-sig")
    started = pd.to_datetime(publisher["dt"]).dt.tz_convert("Asia/Tokyo").dt.tz_localize(None)
    spend = pd.to_timedelta(publisher["spend"]).dt.total_seconds().astype(int)
    return set(zip(publisher["userid"], started.dt.to_pydatetime(), spend))


def test_raw_detections_sessionise_into_the_publishers_stays(tmp_path, hokuriku, users):
    theirs = publisher_stays_at_29(hokuriku)
    assert len(theirs) > 100
    assert raw_sample_stays(tmp_path, hokuriku, users, via_ingest=False) == theirs


@pytest.mark.slow
def test_raw_sample_declaration_loads_through_ingest(tmp_path, hokuriku, users):
    """sources/examples/hokuriku_wifi_sensor.yaml through the registry and ingest (GX included)."""
    assert raw_sample_stays(tmp_path, hokuriku, users, via_ingest=True) == publisher_stays_at_29(hokuriku)


@pytest.mark.slow
def test_stays_declaration_loads_through_ingest_like_the_direct_load(tmp_path, hokuriku, direct_run):
    """sources/examples/hokuriku_stays.yaml (a snapshot source) through the real ingest."""
    settings = load_kanazawa_stays(hokuriku.parent, tmp_path, "hokuriku-test-key")
    through_ingest = pipeline_results(settings)
    assert through_ingest["transitions"] == direct_run["transitions"]
    assert through_ingest["routes"] == direct_run["routes"]
