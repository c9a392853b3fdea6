"""Routes, OD, dwell, circulation and roll-ups from hand-made taps and detections.

Every expected number below was worked out by hand from the rows inserted here (see the
comments), not read back from the pipeline. k = 1 unless a test says otherwise, so the
values are visible; suppression has its own tests in test_privacy.py.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import throwaway_settings
from raw_rows import insert_detections, insert_taps

from flowlib.calendar import load_calendar, period_bounds
from flowlib.config import Settings
from flowlib.models import build_day, build_range
from flowlib.pipeline import prepare_warehouse
from flowlib.pseudonym import pseudonymise
from flowlib.warehouse import writer

DAY = date(2026, 11, 3)  # Tuesday, Culture Day (文化の日): a holiday
KEY = b"test-key"
#: The marts the route models build from stops, trips and transitions (the roll-ups, then the daily views of them).
ROUTE_MARTS = (
    "facility_visits_by_period",
    "transitions_by_period",
    "routes_by_period",
    "circulation_by_period",
    "dwell_by_period",
    "facility_daily",
    "facility_entries_hourly",
    "transitions_daily",
    "routes_daily",
    "circulation_daily",
)


def make_settings(root: Path, k: int = 1) -> Settings:
    return throwaway_settings(root, hmac_key_env="routes-test", min_cell_count=k)


def at(day: date, hhmm: str) -> datetime:
    """A JST time of the service day: hours before 04:00 are the next calendar morning."""
    hour, minute = map(int, hhmm.split(":"))
    moment = datetime(day.year, day.month, day.day, hour, minute)
    return moment + timedelta(days=1) if hour < 4 else moment


def tap(card: str, facility: str, hhmm: str, country: str | None = "JP", ticket: str = "adult", day: date = DAY) -> tuple:
    return ("test", day, facility, at(day, hhmm), pseudonymise(card, KEY), ticket, 500, country, "taps.csv", 2)


def detection(device: str, facility: str, moment: datetime) -> tuple:
    service_day = (moment - timedelta(hours=4)).date()
    return ("sensor", service_day, facility, moment, pseudonymise(device, KEY), "sensor.csv", 2)


def insert(settings: Settings, taps: list[tuple] = (), detections: list[tuple] = ()) -> None:
    with writer(settings) as con:
        insert_taps(con, taps)
        insert_detections(con, detections)


def query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    with writer(settings) as con:
        return con.execute(sql, params or []).fetchall()


def key(name: str) -> str:
    return pseudonymise(name, KEY)


def vid(name: str) -> int:
    """The visitor_id the intermediate tables carry for a person: the pseudonym's first 64 bits."""
    return int(key(name)[:16], 16)


TAPS = [
    # A, Japanese card: re-entry at Glover within 30 min, then a new trip after 5 h 15 min
    tap("A", "glover_garden", "09:00"),
    tap("A", "glover_garden", "09:20"),
    tap("A", "oura_cathedral", "10:30"),
    tap("A", "dejima", "11:45"),
    tap("A", "peace_park", "17:00"),
    # B, US card, senior: two gates in the same second (facility id breaks the tie)
    tap("B", "dejima", "10:00", "US", "senior"),
    tap("B", "shinchi_chinatown", "10:00", "US", "senior"),
    tap("B", "glover_garden", "12:00", "US", "senior"),
    # C, issuer unknown, child: 02:30 the next morning still belongs to DAY
    tap("C", "glover_garden", "02:30", None, "child"),
    # D: first admission as a student, the second as an adult -> segment 'student'
    tap("D", "oura_cathedral", "13:00", ticket="student"),
    tap("D", "dejima", "13:40"),
    # E
    tap("E", "oura_cathedral", "14:00"),
    tap("E", "glover_garden", "15:00"),
]


def sensor_rows() -> list[tuple]:
    x = [
        ("glover_garden", "10:00"),
        ("glover_garden", "10:10"),
        ("glover_garden", "10:25"),
        ("glover_garden", "10:25"),  # a repeated detection counts once
        ("oura_cathedral", "10:40"),
        ("oura_cathedral", "10:50"),
        ("glover_garden", "11:30"),
    ]  # back at Glover: a new stop
    rows = [detection("X", facility, at(DAY, hhmm)) for facility, hhmm in x]
    # Y: 03:50 belongs to DAY, 04:10 to the next service day
    rows += [detection("Y", "dejima", at(DAY, "03:50")), detection("Y", "dejima", at(DAY + timedelta(days=1), "04:10"))]
    # R: seen at noon on ten consecutive service days up to DAY: resident on DAY
    rows += [detection("R", "glover_garden", at(DAY - timedelta(days=n), "12:00")) for n in range(10)]
    rows += [detection("R", "oura_cathedral", at(DAY, "12:30"))]
    return rows


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Settings:
    settings = make_settings(tmp_path_factory.mktemp("routes"))
    prepare_warehouse(settings)
    insert(settings, TAPS, sensor_rows())
    with writer(settings) as con:
        build_day(con, DAY, settings)
    return settings


def test_entry_log_stops_trips_and_transitions(built):
    stops = query(
        built,
        "select visitor_id, trip_index, stop_number, facility_id, taps, "
        "strftime(arrived_at, '%H:%M'), strftime(last_seen_at, '%H:%M'), next_facility_id "
        "from intermediate.int_stops where source_kind = 'entry_log' "
        "order by visitor_id, trip_index, stop_number",
    )
    a = [row[1:] for row in stops if row[0] == vid("A")]
    assert a == [
        (1, 1, "glover_garden", 2, "09:00", "09:20", "oura_cathedral"),
        (1, 2, "oura_cathedral", 1, "10:30", "10:30", "dejima"),
        (1, 3, "dejima", 1, "11:45", "11:45", None),
        (2, 1, "peace_park", 1, "17:00", "17:00", None),
    ]
    b = [row[3] for row in stops if row[0] == vid("B")]
    assert b == ["dejima", "shinchi_chinatown", "glover_garden"]
    segments = dict(query(built, "select visitor_id, segment || '/' || ticket_type from intermediate.int_visitor_days"))
    assert segments[vid("B")] == "international/senior"
    assert segments[vid("C")] == "unknown/child"
    assert segments[vid("D")] == "domestic/student"  # the first admission's ticket
    trips = query(
        built,
        "select route, origin_facility_id, destination_facility_id, n_stops, n_facilities, "
        "trip_minutes from intermediate.int_trips where visitor_id = ? order by trip_index",
        [vid("A")],
    )
    assert trips == [
        ("glover_garden > oura_cathedral > dejima", "glover_garden", "dejima", 3, 3, 165.0),
        ("peace_park", "peace_park", "peace_park", 1, 1, 0.0),
    ]


def test_transitions_quartiles_and_next_probability(built):
    rows = query(
        built,
        "select from_facility_id, to_facility_id, transitions, visitors, transfer_minutes_median, "
        "next_probability from marts.transitions_daily where source_kind = 'entry_log' order by 1, 2",
    )
    assert rows == [
        ("dejima", "shinchi_chinatown", 1, 1, 0.0, 1.0),
        ("glover_garden", "oura_cathedral", 1, 1, 90.0, 1.0),
        ("oura_cathedral", "dejima", 2, 2, 57.5, 0.6667),  # A 75 min, D 40 min
        ("oura_cathedral", "glover_garden", 1, 1, 60.0, 0.3333),  # E
        ("shinchi_chinatown", "glover_garden", 1, 1, 120.0, 1.0),
    ]
    quartiles = query(
        built,
        "select transfer_minutes_p25, transfer_minutes_p75 from marts.transitions_by_period "
        "where period_grain = 'day' and segment_kind = 'all' and source_kind = 'entry_log' "
        "and from_facility_id = 'oura_cathedral' and to_facility_id = 'dejima'",
    )
    assert quartiles == [(pytest.approx(48.75, abs=0.051), pytest.approx(66.25, abs=0.051))]
    by_segment = query(
        built,
        "select segment_kind, segment, transitions, visitors from marts.transitions_by_period "
        "where period_grain = 'day' and source_kind = 'entry_log' "
        "and from_facility_id = 'oura_cathedral' and to_facility_id = 'dejima' order by 1, 2",
    )
    assert by_segment == [
        ("all", "all", 2, 2),
        ("residence", "domestic", 2, 2),
        ("ticket_type", "adult", 1, 1),
        ("ticket_type", "student", 1, 1),
    ]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param(
            "select route_rank, route, n_stops, visitors from marts.routes_daily where source_kind = 'entry_log' order by route_rank",
            [
                (1, "dejima > shinchi_chinatown > glover_garden", 3, 1),
                (2, "glover_garden > oura_cathedral > dejima", 3, 1),
                (3, "oura_cathedral > dejima", 2, 1),
                (4, "oura_cathedral > glover_garden", 2, 1),
            ],
            id="routes",
        ),
        pytest.param(
            "select origin_facility_id, destination_facility_id, trips, visitors, trip_minutes_median "
            "from marts.routes_by_period where period_grain = 'day' and segment_kind = 'all' "
            "and source_kind = 'entry_log' and route is null order by 1, 2",
            [
                ("dejima", "glover_garden", 1, 1, 120.0),
                ("glover_garden", "dejima", 1, 1, 165.0),
                ("oura_cathedral", "dejima", 1, 1, 40.0),
                ("oura_cathedral", "glover_garden", 1, 1, 60.0),
            ],
            id="origin-destination",
        ),
    ],
)
def test_routes_and_origin_destination_matrix(built, sql: str, expected: list[tuple]):
    """The day's multi-stop routes, ranked, and the origin-destination rows (route null) of its
    roll-up: B 120 minutes from first to last stop, A 165, D 40, E 60."""
    assert query(built, sql) == expected


def test_circulation_and_first_and_last_facility_of_the_day(built):
    overall = query(
        built,
        "select visitors, multi_facility_visitors, circulation_rate, facilities_per_visitor "
        "from marts.circulation_daily where source_kind = 'entry_log' and segment = 'all'",
    )
    # A, B, C, D, E; all but C took in two facilities; facilities per trip 3+1, 3, 1, 2, 2
    assert overall == [(5, 4, 0.8, 2.4)]
    roles = query(
        built,
        "select facility_role, facility_id, visitors from marts.circulation_by_period "
        "where period_grain = 'day' and source_kind = 'entry_log' and segment_kind = 'all' "
        "and facility_role <> 'all' order by 1, 2",
    )
    # first stops: A, C Glover; B Dejima; D, E Oura. Last: A Peace Park; B, C, E Glover; D Dejima
    assert roles == [
        ("first", "dejima", 1),
        ("first", "glover_garden", 2),
        ("first", "oura_cathedral", 2),
        ("last", "dejima", 1),
        ("last", "glover_garden", 3),
        ("last", "peace_park", 1),
    ]
    segments = query(
        built, "select segment, is_suppressed from marts.circulation_daily where source_kind = 'entry_log' order by 1"
    )
    # k = 1, yet every segment row is hidden: in each segment nobody, or everybody, circulated
    assert segments == [("all", False), ("domestic", True), ("international", True), ("unknown", True)]


def test_facility_counts_and_hour_profile(built):
    glover = query(
        built,
        "select entries, visitors, domestic_visitors, international_visitors, unknown_visitors, "
        "day_type from marts.facility_daily where source_kind = 'entry_log' and facility_id = 'glover_garden'",
    )
    assert glover == [(5, 4, 2, 1, 1, "weekend_holiday")]  # A twice, B, C, E
    hours = query(
        built,
        "select hour_of_day, entries, visitors from marts.facility_entries_hourly "
        "where source_kind = 'entry_log' and facility_id = 'glover_garden' order by 1",
    )
    assert hours == [(2, 1, 1), (9, 2, 1), (12, 1, 1), (15, 1, 1)]


def test_sensor_detections_become_stays_and_stops(built):
    stays = query(
        built,
        "select device_key, facility_id, strftime(started_at, '%m-%d %H:%M'), "
        "strftime(ended_at, '%m-%d %H:%M'), detections, is_resident_device "
        "from intermediate.int_sensor_stays order by device_key, started_at",
    )
    x = [row[1:] for row in stays if row[0] == key("X")]
    assert x == [
        ("glover_garden", "11-03 10:00", "11-03 10:25", 3, False),
        ("oura_cathedral", "11-03 10:40", "11-03 10:50", 2, False),
        ("glover_garden", "11-03 11:30", "11-03 11:30", 1, False),
    ]
    y = [row[1:] for row in stays if row[0] == key("Y")]
    assert y == [("dejima", "11-04 03:50", "11-04 03:50", 1, False)]  # 04:10 is the next service day
    r = [row[1:] for row in stays if row[0] == key("R")]
    assert {row[-1] for row in r} == {True}  # ten days in the last 28
    stops = query(
        built,
        "select visitor_id, facility_id from intermediate.int_stops "
        "where source_kind = 'wifi_sensor' order by visitor_id, trip_index, stop_number",
    )
    assert [f for v, f in stops if v == vid("X")] == ["glover_garden", "oura_cathedral", "glover_garden"]
    assert vid("R") not in {v for v, _ in stops}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param(
            "select from_facility_id, to_facility_id, transitions, transfer_minutes_median "
            "from marts.transitions_daily where source_kind = 'wifi_sensor' order by 1",
            [("glover_garden", "oura_cathedral", 1, 40.0), ("oura_cathedral", "glover_garden", 1, 50.0)],
            id="transitions",
        ),
        pytest.param(
            "select facility_id, dwell_method, visitors, dwell_minutes_median, dwell_minutes_mean "
            "from marts.dwell_by_period where period_grain = 'day' and source_kind = 'wifi_sensor' order by 1",
            [
                ("dejima", "sensor_stay", 1, 0.0, 0.0),
                ("glover_garden", "sensor_stay", 1, 12.5, 12.5),
                ("oura_cathedral", "sensor_stay", 1, 10.0, 10.0),
            ],
            id="measured-dwell",
        ),
        # entries are stays of non-resident devices; sensors know no segment
        pytest.param(
            "select facility_id, entries, visitors, domestic_visitors from marts.facility_daily "
            "where source_kind = 'wifi_sensor' order by 1",
            [("dejima", 1, 1, None), ("glover_garden", 2, 1, None), ("oura_cathedral", 1, 1, None)],
            id="facilities",
        ),
    ],
)
def test_sensor_stays_in_the_day_marts(built, sql: str, expected: list[tuple]):
    """The Wi-Fi sensor rows of the day marts, from X's stays (Glover, Oura, Glover again) and Y's
    one detection; R, a resident device, is in none."""
    assert query(built, sql) == expected


def _walking_minutes(origin: str, destination: str) -> float:
    coordinates = {
        "glover_garden": (32.7333666, 129.869055),
        "oura_cathedral": (32.734189, 129.8701625),
        "dejima": (32.7434177, 129.872962),
        "shinchi_chinatown": (32.7414507, 129.8753319),
    }
    (lat1, lon1), (lat2, lon2) = coordinates[origin], coordinates[destination]
    h = (
        math.sin(math.radians(lat2 - lat1) / 2) ** 2
        + math.cos(math.radians(lat1)) * math.cos(math.radians(lat2)) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    km = 2 * 6371.0088 * math.asin(math.sqrt(h))
    return km * 1.3 / 4.5 * 60


def test_dwell_estimate_from_taps_subtracts_walking_time(built):
    legs = query(
        built,
        "select from_facility_id, to_facility_id, transfer_minutes, walking_minutes, "
        "dwell_estimate_minutes from intermediate.int_transitions "
        "where source_kind = 'entry_log' and visitor_id = ? order by stop_number",
        [vid("A")],
    )
    for origin, destination, transfer, walking, dwell in legs:
        assert walking == pytest.approx(_walking_minutes(origin, destination), abs=0.01)
        assert dwell == pytest.approx(transfer - walking, abs=0.01)
    assert 1 < legs[0][3] < 4  # Glover to Oura: about 180 m on foot
    b_first = query(
        built,
        "select dwell_estimate_minutes from intermediate.int_transitions where visitor_id = ? and stop_number = 1",
        [vid("B")],
    )
    assert b_first == [(0.0,)]  # 0 minutes between gates: never negative
    oura = query(
        built,
        "select visitors, dwell_minutes_median from marts.dwell_by_period where period_grain = 'day' "
        "and source_kind = 'entry_log' and segment_kind = 'all' and facility_id = 'oura_cathedral'",
    )
    # A 75 and D 40 minutes to Dejima (about 18 minutes' walk), E 60 to Glover (about 2)
    to_dejima, to_glover = (_walking_minutes("oura_cathedral", f) for f in ("dejima", "glover_garden"))
    assert 17 < to_dejima < 20
    median = sorted([75 - to_dejima, 40 - to_dejima, 60 - to_glover])[1]
    assert oura == [(3, pytest.approx(round(median, 1)))]


def test_rollups_count_distinct_visitors_and_wait_for_complete_periods(tmp_path):
    settings = make_settings(tmp_path)
    prepare_warehouse(settings)
    monday, sunday = date(2026, 11, 2), date(2026, 11, 8)
    insert(
        settings,
        [
            tap("V", "glover_garden", "10:00", day=monday),
            tap("V", "oura_cathedral", "11:00", day=monday),
            tap("V", "glover_garden", "10:00"),
            tap("V", "oura_cathedral", "11:00"),
            tap("W", "glover_garden", "10:00"),
            tap("W", "oura_cathedral", "12:00"),
        ],
    )
    week = (
        "select day_type, transitions, visitors from marts.transitions_by_period where period_grain = 'iso_week' "
        "and segment_kind = 'all' and from_facility_id = 'glover_garden' order by 1"
    )
    with writer(settings) as con:
        build_day(con, monday, settings)
        build_day(con, DAY, settings)
        assert con.execute(week).fetchall() == []  # the week is not over: nothing published
        build_day(con, sunday, settings)
        # V on Monday and on the holiday, W on the holiday: 3 moves by 2 distinct visitors
        assert con.execute(week).fetchall() == [("all", 3, 2), ("weekday", 1, 1), ("weekend_holiday", 2, 2)]
        daily = con.execute("select sum(visitors) from marts.transitions_daily").fetchone()
        assert daily == (3,)  # not the week's distinct count
        label = con.execute(
            "select distinct period_label, period_end from marts.transitions_by_period where period_grain = 'iso_week'"
        ).fetchall()
        assert label == [("2026-W45", sunday)]
        assert con.execute(
            "select count(*) from marts.transitions_by_period where period_grain in ('month', 'fiscal_year')"
        ).fetchone() == (0,)
    # a late delivery for Monday: re-running Monday rebuilds the (complete) week
    insert(settings, [tap("Z", "glover_garden", "09:00", day=monday), tap("Z", "oura_cathedral", "09:30", day=monday)])
    with writer(settings) as con:
        build_day(con, monday, settings)
        assert con.execute(week).fetchall() == [("all", 4, 3), ("weekday", 2, 2), ("weekend_holiday", 2, 2)]


@pytest.mark.slow
def test_a_range_build_equals_day_by_day_builds(tmp_path):
    marts = [
        "transitions_by_period",
        "routes_by_period",
        "circulation_by_period",
        "facility_visits_by_period",
        "dwell_by_period",
        "facility_daily",
        "transitions_daily",
        "routes_daily",
        "circulation_daily",
    ]
    results = []
    for mode in ("range", "days"):
        settings = make_settings(tmp_path / mode)
        prepare_warehouse(settings)
        insert(
            settings,
            TAPS
            + [
                tap("A", "dejima", "10:00", day=DAY + timedelta(days=1)),
                tap("A", "megane_bridge", "11:00", day=DAY + timedelta(days=1)),
            ],
            sensor_rows(),
        )
        with writer(settings) as con:
            if mode == "range":
                build_range(con, DAY - timedelta(days=1), DAY + timedelta(days=1), settings)
            else:
                for offset in (-1, 0, 1):
                    build_day(con, DAY + timedelta(days=offset), settings)
            results.append({m: sorted(map(str, con.execute(f"select * from marts.{m}").fetchall())) for m in marts})
    assert results[0] == results[1]
    assert results[0]["transitions_daily"]


def test_calendar_holidays_iso_weeks_and_fiscal_years():
    con = duckdb.connect()
    assert load_calendar(con, date(2026, 11, 3), date(2027, 1, 1)) == 365  # FY2026, April to March
    rows = dict(
        (d, rest)
        for d, *rest in con.execute(
            "select calendar_date, day_type, holiday_name, iso_week_label, fiscal_year_label from ref.calendar "
            "where calendar_date in ('2026-11-03', '2026-11-04', '2026-11-07', '2027-01-01', '2027-03-31')"
        ).fetchall()
    )
    assert rows[date(2026, 11, 3)] == ["weekend_holiday", "Culture Day", "2026-W45", "FY2026"]
    assert rows[date(2026, 11, 4)] == ["weekday", None, "2026-W45", "FY2026"]
    assert rows[date(2026, 11, 7)] == ["weekend_holiday", None, "2026-W45", "FY2026"]  # a Saturday
    assert rows[date(2027, 1, 1)] == ["weekend_holiday", "New Year's Day", "2026-W53", "FY2026"]
    assert rows[date(2027, 3, 31)][3] == "FY2026"
    periods = con.execute(
        "select period_grain, period_start, period_end from ref.calendar_periods where calendar_date = '2027-01-01' order by 1"
    ).fetchall()
    assert periods == [
        ("day", date(2027, 1, 1), date(2027, 1, 1)),
        ("fiscal_year", date(2026, 4, 1), date(2027, 3, 31)),
        ("iso_week", date(2026, 12, 28), date(2027, 1, 3)),
        ("month", date(2027, 1, 1), date(2027, 1, 31)),
    ]
    assert period_bounds("fiscal_year", date(2027, 4, 1)) == (date(2027, 4, 1), date(2028, 3, 31))


def test_two_pseudonyms_behind_one_id_stop_the_build(tmp_path):
    """Stops are keyed by the pseudonym's first 64 bits; two pseudonyms sharing them must fail the day, not merge two people."""
    from flowlib.models import ModelError

    settings = make_settings(tmp_path)
    prepare_warehouse(settings)
    first, second = "0123456789abcdef" + "0" * 48, "0123456789abcdef" + "f" * 48  # same first 64 bits
    taps = [tap("A", "dejima", "10:00"), tap("A", "glover_garden", "11:00")]
    taps = [row[:4] + (first,) + row[5:] for row in taps] + [
        tap("B", "oura_cathedral", "12:00")[:4] + (second,) + tap("B", "oura_cathedral", "12:00")[5:]
    ]
    insert(settings, taps)
    with writer(settings) as con:
        with pytest.raises(ModelError, match="two pseudonyms share the 64-bit id"):
            build_day(con, DAY, settings)
        # the build changed nothing, and the ids stay unset until the clash is resolved
        assert con.execute("select count(*) from raw.entry_log where card_id is null").fetchone()[0] == 3
        con.execute("delete from raw.entry_log where card_key = ?", [second])
        build_day(con, DAY, settings)
        assert con.execute("select count(distinct visitor_id) from intermediate.int_stops").fetchone()[0] == 1


@pytest.mark.parametrize(("min_days", "window_days", "r_is_resident"), [(10, 28, True), (11, 28, False), (10, 9, None)])
def test_resident_rule_follows_its_settings(tmp_path, monkeypatch, min_days, window_days, r_is_resident):
    """R is seen on ten consecutive days: resident under 10 of 28, a visitor under 11 of 28."""
    from flowlib.config import ConfigError, get_settings

    monkeypatch.setenv("FLOW_SENSOR_RESIDENT_MIN_DAYS", str(min_days))
    monkeypatch.setenv("FLOW_SENSOR_RESIDENT_WINDOW_DAYS", str(window_days))
    if r_is_resident is None:
        with pytest.raises(ConfigError, match="FLOW_SENSOR_RESIDENT_WINDOW_DAYS=9 must be at least"):
            get_settings()
        return
    from_env = get_settings()
    settings = replace(
        make_settings(tmp_path),
        sensor_resident_min_days=from_env.sensor_resident_min_days,
        sensor_resident_window_days=from_env.sensor_resident_window_days,
    )
    prepare_warehouse(settings)
    insert(settings, [], sensor_rows())
    with writer(settings) as con:
        build_day(con, DAY, settings)
    flags = query(
        settings,
        "select bool_or(is_resident_device) from intermediate.int_sensor_stays where device_key = ? and service_date = ?",
        [key("R"), DAY],
    )
    assert flags == [(r_is_resident,)]
    r_stops = query(settings, "select count(*) from intermediate.int_stops where visitor_id = ?", [vid("R")])
    assert r_stops == [(0,)] if r_is_resident else r_stops[0][0] > 0


def test_settings_refuse_impossible_values(monkeypatch):
    from flowlib.config import ConfigError, get_settings

    for name, value, message in (
        ("FLOW_SERVICE_DAY_START_HOUR", "24", "not an hour of the day"),
        ("FLOW_TRIP_MAX_GAP_MINUTES", "0", "must be at least 1"),
        ("FLOW_REENTRY_GAP_MINUTES", "-5", "must be at least 0"),
    ):
        with monkeypatch.context() as patched:
            patched.setenv(name, value)
            with pytest.raises(ConfigError, match=f"{name}=.*{message}"):
                get_settings()


def test_every_mart_column_is_documented(built):
    """docs/marts.md has a line for each column of each mart (the common columns once)."""
    import re

    def names(table: str) -> set[str]:
        """Column names of a markdown table; `a_p25 / _median / _p75` and `lat / lon` name several."""
        found = set()
        for cell in re.findall(r"^\| ([\w /]+?) \|", table, re.MULTILINE):
            first, *more = [part.strip() for part in cell.split("/")]
            found.add(first)
            found.update(first.rsplit("_", 1)[0] + part if part.startswith("_") else part for part in more)
        return found

    text = (built.project_root / "docs" / "marts.md").read_text(encoding="utf-8")
    common = names(text[text.index("Common columns of the `*_by_period` marts") : text.index("## `marts.")])
    sections = dict(re.findall(r"^## `marts\.(\w+)`\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL))
    marts = query(built, "select table_name from information_schema.tables where table_schema = 'marts'")
    missing = {}
    for (mart,) in marts:
        assert mart in sections, f"docs/marts.md has no section for marts.{mart}"
        documented = names(sections[mart])
        if mart.endswith("_by_period"):
            documented |= common
        columns = [
            name
            for (name,) in query(
                built,
                "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ?",
                [mart],
            )
        ]
        if set(columns) - documented:
            missing[mart] = sorted(set(columns) - documented)
    assert not missing, f"undocumented mart columns: {missing}"


def test_too_many_facilities_for_the_sort_keys_fail_clearly(tmp_path):
    """Facility codes fill 12 bits per stop of int_stop_rows' route codes; one more facility must stop the day."""
    from flowlib.models import ModelError

    settings = make_settings(tmp_path)
    prepare_warehouse(settings)
    with writer(settings) as con:
        con.execute(
            "insert into raw.entry_log (source, service_date, facility_id, entered_at, card_key, ticket_type, "
            "amount_jpy, issuer_country, file_name, line_number) "
            "select 'test', ?, 'facility_' || i, ?::timestamp + to_seconds(i), "
            "sha256('card_' || (i % 100)), 'adult', 500, 'JP', 'taps.csv', 2 from range(4096) as t(i)",
            [DAY, at(DAY, "09:00")],
        )
        with pytest.raises(ModelError, match="over 4,095 facilities"):
            build_day(con, DAY, settings)


@pytest.mark.parametrize("rule", ["revisit", "keep"])
def test_a_return_to_the_same_facility_is_a_revisit_or_an_a_to_a_move(tmp_path, rule):
    """F: Dejima 10:00, Dejima again 11:00 (after the 30-minute re-entry gap, within the
    240-minute trip gap), Glover 12:00. G: Dejima 10:00, Dejima 10:20 (a re-entry), Oura 11:00.
    H: Dejima 10:00 only.
    revisit: F's stops are Dejima (one revisit) and Glover, one move Dejima -> Glover, route
    'dejima > glover_garden'. keep: three stops, Dejima -> Dejima and Dejima -> Glover."""
    settings = replace(make_settings(tmp_path), self_transitions=rule)
    prepare_warehouse(settings)
    insert(
        settings,
        [
            tap("F", "dejima", "10:00"),
            tap("F", "dejima", "11:00"),
            tap("F", "glover_garden", "12:00"),
            tap("G", "dejima", "10:00"),
            tap("G", "dejima", "10:20"),
            tap("G", "oura_cathedral", "11:00"),
            tap("H", "dejima", "10:00"),  # a single-facility visitor: the circulation cell is published
        ],
    )
    with writer(settings) as con:
        build_range(con, DAY, DAY, settings)
    stops = query(
        settings,
        "select facility_id, taps, revisits from intermediate.int_stops where visitor_id = ? order by stop_number",
        [vid("F")],
    )
    moves = query(settings, "select from_facility_id, to_facility_id from intermediate.int_transitions order by all")
    routes = query(settings, "select route from marts.routes_daily where route is not null order by route")
    revisits = query(
        settings,
        "select revisits from marts.circulation_daily where source_kind = 'entry_log' and segment = 'all'",
    )
    if rule == "revisit":
        assert stops == [("dejima", 2, 1), ("glover_garden", 1, 0)]
        assert moves == [("dejima", "glover_garden"), ("dejima", "oura_cathedral")]
        assert routes == [("dejima > glover_garden",), ("dejima > oura_cathedral",)]
        assert revisits == [(1,)]
    else:
        assert stops == [("dejima", 1, 0), ("dejima", 1, 0), ("glover_garden", 1, 0)]
        assert moves == [("dejima", "dejima"), ("dejima", "glover_garden"), ("dejima", "oura_cathedral")]
        assert routes == [("dejima > dejima > glover_garden",), ("dejima > oura_cathedral",)]
        assert revisits == [(0,)]
