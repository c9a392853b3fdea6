"""Property tests (hypothesis): random taps and detections against a plain-Python reference.

For any set of taps, the SQL models must give exactly the stops, trips and transitions
of the reference below (the rules of docs/routes.md written as a loop), a trip of n stops
must give n - 1 transitions, the marts' totals must reconcile with the rows behind them,
and building a day twice must change nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from raw_rows import insert_detections, insert_taps
from test_routes import KEY, ROUTE_MARTS, make_settings

from flowlib.calendar import ensure_calendar
from flowlib.config import SELF_TRANSITION_RULES
from flowlib.models import build_range, build_views, discover, load_macros
from flowlib.pseudonym import pseudonymise
from flowlib.reference import load_reference
from flowlib.warehouse import ensure_schema

DAY = date(2026, 11, 4)
START = datetime(2026, 11, 4, 4, 0)
FACILITIES = ["dejima", "glover_garden", "oura_cathedral", "shinchi_chinatown"]
INTERMEDIATE = ["int_sensor_stays", "int_codes", "int_stop_rows", "int_stops", "int_transitions", "int_trips", "int_visitor_days"]
MARTS = list(ROUTE_MARTS)
#: Every property builds models on the module's warehouse (reset per example, hence the
#: function-scoped fixture is fine) and a build takes longer than hypothesis's deadline.
ON_WAREHOUSE = hypothesis_settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
#: For the properties that build every mart: a failing example is reported as found, not shrunk.
NO_SHRINKING = (Phase.explicit, Phase.generate)


def in_memory_warehouse(root, first: date, last: date):
    """An in-memory warehouse with the schema, reference data, views and the calendar of
    ``first``..``last``; k = 1. Returns (connection, settings)."""
    config = make_settings(root)
    con = duckdb.connect()
    ensure_schema(con, config)
    load_reference(con, config)
    ensure_calendar(con, first, last)
    build_views(con, config)
    return con, config


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """The module's warehouse, whose calendar holds DAY."""
    con, config = in_memory_warehouse(tmp_path_factory.mktemp("properties"), DAY, DAY)
    yield con, config
    con.close()


def reset(con, taps=(), detections=()) -> None:
    con.execute("delete from raw.entry_log")
    con.execute("delete from raw.wifi_sensor")
    insert_taps(con, taps)
    insert_detections(con, detections)


# minutes after 04:00 of the service day: the whole day up to 03:59 the next morning
minutes = st.integers(min_value=0, max_value=24 * 60 - 1)
tap_rows = st.lists(
    st.tuples(
        st.sampled_from("ABCDEF"),
        st.sampled_from(FACILITIES),
        minutes,
        st.sampled_from(["JP", "US", None]),
        st.sampled_from(["adult", "senior", "child"]),
    ),
    min_size=1,
    max_size=40,
)


def as_taps(rows) -> list[tuple]:
    out = []
    for card, facility, minute, country, ticket in rows:
        country = {"A": "JP", "B": "JP", "C": "US"}.get(card, country)  # one country per card
        out.append(
            (
                "test",
                DAY,
                facility,
                START + timedelta(minutes=minute),
                pseudonymise(card, KEY),
                ticket,
                500,
                country,
                "taps.csv",
                2,
            )
        )
    return out


def reference_stops(taps: list[tuple], reentry: int, gap: int, self_transitions: str = "revisit") -> list[tuple]:
    """(visitor, trip, stop, facility, arrived, last seen, taps, revisits), in the rules' own words.

    A later tap at the facility of the current stop (same trip) is a re-entry within the
    re-entry gap; after it, a revisit of the same stop (``revisit``) or another stop, an
    A -> A move (``keep``).
    """
    by_visitor: dict[str, list[tuple[datetime, str]]] = {}
    for _, _, facility, moment, visitor, *_ in taps:
        by_visitor.setdefault(visitor, []).append((moment, facility))
    stops = []
    for visitor, events in by_visitor.items():
        trip, stop, previous = 0, 0, None
        current: list = []
        for moment, facility in sorted(events):
            if previous is None or moment - previous[0] > timedelta(minutes=gap):
                trip, stop = trip + 1, 0
            elif facility == previous[1] and (
                moment - previous[0] <= timedelta(minutes=reentry) or self_transitions == "revisit"
            ):
                current[-1][5], current[-1][6] = moment, current[-1][6] + 1  # a re-entry or a revisit
                current[-1][7] += moment - previous[0] > timedelta(minutes=reentry)
                previous = (moment, facility)
                continue
            stop += 1
            current.append([visitor, trip, stop, facility, moment, moment, 1, 0])
            previous = (moment, facility)
        stops.extend(tuple(s) for s in current)
    return sorted(stops)


@hypothesis_settings(ON_WAREHOUSE, max_examples=25)
@given(rows=tap_rows)
# the last stop's repeated tap in the same second: found by the benchmark's cross-check
@example(
    rows=[
        ("A", "dejima", 0, "JP", "adult"),
        ("A", "glover_garden", 60, "JP", "adult"),
        ("A", "glover_garden", 60, "JP", "adult"),
        ("B", "dejima", 0, "JP", "adult"),
        ("B", "oura_cathedral", 30, "JP", "adult"),
        ("B", "oura_cathedral", 30, "JP", "adult"),
        ("B", "oura_cathedral", 30, "JP", "adult"),
    ]
)
# trips of 12, 7 and 5 stops: int_trips packs stops 1-5 and 6-10 into integers and
# aggregates longer routes as strings; all three paths must spell the same route
@example(
    rows=[("A", FACILITIES[i % 4], 10 * i, "JP", "adult") for i in range(12)]
    + [("B", FACILITIES[(i * 3) % 4], 10 * i, "JP", "adult") for i in range(7)]
    + [("C", FACILITIES[(i + 1) % 4], 10 * i, "US", "child") for i in range(5)]
)
@pytest.mark.parametrize("self_transitions", SELF_TRANSITION_RULES)
def test_stops_trips_and_transitions_match_the_reference(warehouse, rows, self_transitions):
    con, config = warehouse
    config = replace(config, self_transitions=self_transitions)
    taps = as_taps(rows)
    reset(con, taps)
    build_range(con, DAY, DAY, config, only=INTERMEDIATE)
    # stops carry the 64-bit id only; the raw table maps it back for the comparison
    stops = con.execute(
        "select k.card_key, trip_index, stop_number, facility_id, arrived_at, last_seen_at, taps, revisits "
        "from intermediate.int_stops inner join (select distinct card_key, card_id as visitor_id "
        "from raw.entry_log) as k using (visitor_id) order by all"
    ).fetchall()
    expected = reference_stops(taps, config.reentry_gap_minutes, config.trip_max_gap_minutes, self_transitions)
    assert stops == expected
    # a trip of n stops gives n - 1 transitions, between consecutive stops
    expected_moves = Counter()
    trips = Counter()
    for visitor, trip, _stop, _facility, *_ in expected:
        trips[(visitor, trip)] += 1
    by_trip = {}
    for visitor, trip, _stop, facility, *_ in expected:
        by_trip.setdefault((visitor, trip), []).append(facility)
    for facilities in by_trip.values():
        expected_moves.update(zip(facilities, facilities[1:]))
    moves = Counter(
        dict(
            ((a, b), n)
            for a, b, n in con.execute(
                "select from_facility_id, to_facility_id, count(*) from intermediate.int_transitions group by all"
            ).fetchall()
        )
    )
    assert moves == expected_moves
    if self_transitions == "revisit":
        assert all(a != b for a, b in moves), "an A -> A move under the revisit rule"
    revisits = con.execute("select coalesce(sum(revisits), 0) from intermediate.int_trips").fetchone()[0]
    assert revisits == sum(stop[7] for stop in expected)
    per_trip = con.execute(
        "select n_stops, route, trip_stops_check, n_facilities, origin_facility_id, "
        "destination_facility_id from (select t.*, "
        "(select count(*) from intermediate.int_transitions x where x.visitor_id = t.visitor_id "
        "and x.trip_index = t.trip_index) as trip_stops_check from intermediate.int_trips t)"
    ).fetchall()
    for n_stops, route, transitions, n_facilities, origin, destination in per_trip:
        assert transitions == n_stops - 1
        assert route.count(" > ") == n_stops - 1
        assert n_facilities == len(set(route.split(" > ")))
        assert (origin, destination) == (route.split(" > ")[0], route.split(" > ")[-1])
    assert sorted(route.split(" > ") for _, route, *_ in per_trip) == sorted(by_trip.values())
    assert con.execute("select sum(taps) from intermediate.int_stops").fetchone()[0] == len(taps)
    assert_trip_codes_spell_the_trip(con)


@hypothesis_settings(ON_WAREHOUSE, max_examples=10)
@given(trips=st.lists(st.lists(st.integers(min_value=0, max_value=139), min_size=1, max_size=12), min_size=1, max_size=6))
def test_distinct_facilities_of_a_trip_on_a_day_with_many_facilities(warehouse, trips):
    # distinct facilities of trips over facility codes up to 140 (codes in name order, f000
    # = 1; int_stop_rows packs 12 bits a code) and of trips longer than ten stops, which
    # int_trips counts from the route text; each trip is one card, a stop an hour
    con, config = warehouse
    everyone = [("Z", f"f{n:03d}", minute, "JP", "adult") for n, minute in zip(range(140), range(0, 1400, 10))]
    rows = everyone + [
        (chr(ord("a") + number), f"f{code:03d}", 60 * stop, "JP", "adult")
        for number, codes in enumerate(trips)
        for stop, code in enumerate(codes)
    ]
    reset(con, as_taps(rows))
    build_range(con, DAY, DAY, config, only=INTERMEDIATE)
    per_trip = con.execute("select route, n_facilities, n_stops from intermediate.int_trips").fetchall()
    assert {route.split(" > ")[0] for route, *_ in per_trip} >= {f"f{codes[0]:03d}" for codes in trips}
    for route, n_facilities, _ in per_trip:
        assert n_facilities == len(set(route.split(" > "))), route
    assert any(n > 10 for *_, n in per_trip) or all(len(codes) <= 10 for codes in trips)
    assert_trip_codes_spell_the_trip(con)


def assert_trip_codes_spell_the_trip(con) -> None:
    """int_trips keeps the day's codes beside the ids (the period marts group on them): each
    decodes, in Python, to the id, segment, ticket type and route beside it."""
    rows = con.execute(
        "select t.source_kind, t.source_code, t.segment, t.segment_code, t.ticket_type, t.ticket_code, "
        "t.origin_facility_id, t.origin_facility_code, t.destination_facility_id, t.destination_facility_code, "
        "t.n_stops, t.route, t.short_route_codes, c.facility_ids, c.ticket_types "
        "from intermediate.int_trips as t inner join intermediate.int_codes as c using (service_date)"
    ).fetchall()
    assert rows
    for source, source_code, segment, segment_code, ticket, ticket_code, origin, origin_code, *rest in rows:
        destination, destination_code, n_stops, route, route_codes, facility_ids, ticket_types = rest
        assert source == ["entry_log", "wifi_sensor"][source_code - 1]
        assert segment == ["domestic", "international", "unknown"][segment_code - 1]
        assert ticket == ticket_types[ticket_code - 1]
        assert (origin, destination) == (facility_ids[origin_code - 1], facility_ids[destination_code - 1])
        if n_stops > 5:
            assert route_codes is None
            continue
        stops = [(route_codes >> (12 * i)) & 4095 for i in reversed(range(n_stops))]
        assert route == " > ".join(facility_ids[code - 1] for code in stops), (route, route_codes)
        assert route_codes >> (12 * n_stops) == 0


detection_rows = st.lists(st.tuples(st.sampled_from("XYZ"), st.sampled_from(FACILITIES[:2]), minutes), min_size=1, max_size=30)


@hypothesis_settings(ON_WAREHOUSE, max_examples=15)
@given(rows=detection_rows)
def test_sensor_stays_split_after_more_than_the_stay_gap(warehouse, rows):
    con, config = warehouse
    detections = [
        ("sensor", DAY, facility, START + timedelta(minutes=minute), pseudonymise(device, KEY), "d.csv", 2)
        for device, facility, minute in rows
    ]
    reset(con, detections=detections)
    build_range(con, DAY, DAY, config, only=["int_sensor_stays"])
    stays = con.execute(
        "select device_key, facility_id, started_at, ended_at, detections from intermediate.int_sensor_stays order by all"
    ).fetchall()
    expected = []
    for device, facility in {(d[4], d[2]) for d in detections}:
        times = sorted({d[3] for d in detections if d[4] == device and d[2] == facility})
        start = end = times[0]
        count = 1
        for moment in times[1:]:
            if moment - end > timedelta(minutes=config.sensor_stay_gap_minutes):
                expected.append((device, facility, start, end, count))
                start, count = moment, 0
            end, count = moment, count + 1
        expected.append((device, facility, start, end, count))
    assert stays == sorted(expected)


@hypothesis_settings(ON_WAREHOUSE, max_examples=20)
@given(rows=tap_rows, detected=detection_rows, batch_events=st.integers(min_value=1, max_value=30))
def test_the_stops_are_the_same_built_in_batches_of_visitors(warehouse, rows, detected, batch_events):
    """int_stop_rows built in batches of visitors of at most ``batch_events`` events (each
    batch's stops collected in memory) holds exactly the rows of one batch of everybody."""
    con, config = warehouse
    detections = [
        ("sensor", DAY, facility, START + timedelta(minutes=minute), pseudonymise(device, KEY), "d.csv", 2)
        for device, facility, minute in detected
    ]
    reset(con, as_taps(rows), detections)
    config = replace(config, resident_device_rule=False)  # every device's stays become stops

    def stop_rows(events_per_batch: int) -> list[tuple]:
        build_range(con, DAY, DAY, replace(config, stop_batch_events=events_per_batch), only=INTERMEDIATE)
        return con.execute("select * from intermediate.int_stop_rows order by all").fetchall()

    whole = stop_rows(10_000)
    events = len(rows) + con.execute("select count(*) from intermediate.int_sensor_stays").fetchone()[0]
    assert sum(row[8] for row in whole) == events, "every tap and stay is in one stop"  # row[8]: taps
    assert stop_rows(batch_events) == whole
    assert con.execute("select getvariable('visitor_batches'), getvariable('visitor_batch')").fetchone() == (1, 0)


def test_each_batch_of_stops_is_two_parts_that_duckdb_can_run_side_by_side(warehouse):
    """int_stop_rows computes a batch as two parts of its visitors in one statement: each part
    must end in its own collecting window (a pipeline with a sink of its own, else DuckDB runs
    the parts of the union one after the other, in one thread), and split the visitors by a
    64-bit hash (a modulo in 128 bits, as an integer batch number made it, cost 60 %)."""
    con, config = warehouse
    reset(con, as_taps([("A", "dejima", 10, "JP", "adult"), ("B", "glover_garden", 20, "US", "child")]))
    build_range(con, DAY, DAY, config, only=INTERMEDIATE)
    model = next(m for m in discover(config.sql_dir) if m.name == "int_stop_rows")
    for batch, batches in ((0, 1), (2, 3)):
        con.execute(f"set variable visitor_batches = {batches}")
        con.execute(f"set variable visitor_batch = {batch}")
        plan = json.loads(con.execute(f"explain (format json) {model.sql}").fetchall()[0][1])[0]

        def nodes(node: dict) -> list[dict]:
            return [node] + [n for child in node.get("children", []) for n in nodes(child)]

        # the first union from the top joins the parts (each part has its own, of taps and stays)
        parts = next(n for n in nodes(plan) if n["name"] == "UNION")["children"]
        collecting = [
            [n for n in nodes(part) if n["name"] == "WINDOW" and "count() OVER ()" in str(n["extra_info"])] for part in parts
        ]
        assert len(parts) == 2 and all(len(windows) == 1 for windows in collecting), "two parts, each collected"
        splits = sorted(
            str(n["extra_info"]["Expression"])
            for n in nodes(plan)
            if n["name"] == "FILTER" and "hash(visitor_id)" in str(n["extra_info"].get("Expression", ""))
        )
        assert splits == [f"((hash(visitor_id) % {2 * batches}) = {2 * batch + part})" for part in (0, 1)]
    con.execute("set variable visitor_batches = 1")
    con.execute("set variable visitor_batch = 0")


@hypothesis_settings(ON_WAREHOUSE, max_examples=6, phases=NO_SHRINKING)
@given(rows=tap_rows)
def test_mart_totals_reconcile_and_reruns_change_nothing(warehouse, rows):
    con, config = warehouse
    reset(con, as_taps(rows))
    build_range(con, DAY, DAY, config, only=INTERMEDIATE + MARTS)
    first = {m: sorted(map(repr, con.execute(f"select * from marts.{m}").fetchall())) for m in MARTS}
    build_range(con, DAY, DAY, config, only=INTERMEDIATE + MARTS)
    assert {m: sorted(map(repr, con.execute(f"select * from marts.{m}").fetchall())) for m in MARTS} == first

    def one(sql: str):
        return con.execute(sql).fetchone()[0]

    moves = one("select count(*) from intermediate.int_transitions")
    assert one("select coalesce(sum(transitions), 0) from marts.transitions_daily") == moves
    for kind in ("residence", "ticket_type"):
        assert (
            one(
                f"select coalesce(sum(transitions), 0) from marts.transitions_by_period "
                f"where period_grain = 'day' and segment_kind = '{kind}'"
            )
            == moves
        )
    taps = one("select count(*) from raw.entry_log")
    assert one("select sum(entries) from marts.facility_daily") == taps
    assert one("select sum(entries) from marts.facility_entries_hourly") == taps
    visitors = one("select count(distinct card_key) from raw.entry_log")
    assert one("select count(*) from intermediate.int_visitor_days") == visitors
    circulation = con.execute(
        "select visitors, multi_facility_visitors, is_suppressed from marts.circulation_by_period "
        "where period_grain = 'day' and segment_kind = 'all' and facility_role = 'all'"
    ).fetchone()
    multi = one("select count(*) from intermediate.int_visitor_days where most_facilities_in_a_trip >= 2")
    if 0 < multi < visitors:  # k = 1: hidden only when nobody or everybody circulated
        assert circulation == (visitors, multi, False)
    else:
        assert circulation == (None, None, True)
    trips = one("select count(*) from intermediate.int_trips where n_stops >= 2")
    assert (
        one(
            "select coalesce(sum(trips), 0) from marts.routes_by_period where period_grain = 'day' "
            "and segment_kind = 'all' and route is null"
        )
        == trips
    )
    assert one("select coalesce(sum(next_probability), 0) from marts.transitions_daily") == pytest.approx(
        one("select count(distinct from_facility_id) from intermediate.int_transitions"), abs=1e-3
    )


@hypothesis_settings(ON_WAREHOUSE, max_examples=8, phases=NO_SHRINKING)
@given(rows=tap_rows)
# 5 moves glover -> oura: quartile positions 1, 2 and 3 exactly; 4 moves oura -> dejima: 0.75, 1.5, 2.25
@example(
    rows=[(card, "glover_garden", 0, "JP", "adult") for card in "ABCDE"]
    + [(card, "oura_cathedral", 7 * (i + 1) + i * i, "JP", "adult") for i, card in enumerate("ABCDE")]
    + [(card, "dejima", 100 + 13 * i, "JP", "adult") for i, card in enumerate("ABCD")]
)
def test_period_quartiles_and_medians_equal_duckdbs_quantile_cont(warehouse, rows):
    """The period marts read quartiles and medians off histograms of minutes (bounded memory
    for a month of moves); they must equal quantile_cont over the values themselves."""
    con, config = warehouse
    reset(con, as_taps(rows))
    build_range(con, DAY, DAY, config, only=INTERMEDIATE + ["transitions_by_period", "dwell_by_period", "routes_by_period"])
    published = con.execute(
        "select source_kind, segment_kind, segment, from_facility_id, to_facility_id, transitions, "
        "transfer_minutes_p25, transfer_minutes_median, transfer_minutes_p75 from marts.transitions_by_period "
        "where period_grain = 'day' and day_type = 'all' order by all"
    ).fetchall()
    direct = con.execute(
        "select source_kind, 'all', 'all', from_facility_id, to_facility_id, count(*), "
        "round(quantile_cont(transfer_minutes, 0.25), 1), round(quantile_cont(transfer_minutes, 0.5), 1), "
        "round(quantile_cont(transfer_minutes, 0.75), 1) from intermediate.int_transitions group by all "
        "union all "
        "select source_kind, 'residence', segment, from_facility_id, to_facility_id, count(*), "
        "round(quantile_cont(transfer_minutes, 0.25), 1), round(quantile_cont(transfer_minutes, 0.5), 1), "
        "round(quantile_cont(transfer_minutes, 0.75), 1) from intermediate.int_transitions group by all "
        "union all "
        "select source_kind, 'ticket_type', ticket_type, from_facility_id, to_facility_id, count(*), "
        "round(quantile_cont(transfer_minutes, 0.25), 1), round(quantile_cont(transfer_minutes, 0.5), 1), "
        "round(quantile_cont(transfer_minutes, 0.75), 1) from intermediate.int_transitions group by all "
        "order by all"
    ).fetchall()
    assert published == direct
    dwell = con.execute(
        "select facility_id, dwell_minutes_p25, dwell_minutes_median, dwell_minutes_p75 from marts.dwell_by_period "
        "where period_grain = 'day' and day_type = 'all' and segment_kind = 'all' "
        "and dwell_method = 'entry_gap_estimate' order by all"
    ).fetchall()
    assert (
        dwell
        == con.execute(
            "select from_facility_id, round(quantile_cont(dwell_estimate_minutes, 0.25), 1), "
            "round(quantile_cont(dwell_estimate_minutes, 0.5), 1), round(quantile_cont(dwell_estimate_minutes, 0.75), 1) "
            "from intermediate.int_transitions where dwell_estimate_minutes is not null group by all order by all"
        ).fetchall()
    )
    medians = con.execute(
        "select origin_facility_id, destination_facility_id, coalesce(route, ''), trip_minutes_median "
        "from marts.routes_by_period where period_grain = 'day' and day_type = 'all' and segment_kind = 'all' "
        "order by all"
    ).fetchall()
    assert (
        medians
        == con.execute(
            "select origin_facility_id, destination_facility_id, '', round(median(trip_minutes), 1) "
            "from intermediate.int_trips where n_stops >= 2 group by all "
            "union all select origin_facility_id, destination_facility_id, route, round(median(trip_minutes), 1) "
            "from intermediate.int_trips where n_stops between 2 and 5 group by all order by all"
        ).fetchall()
    )


# seconds between two arrivals as minutes (the marts' minutes are seconds / 60.0, so most are
# not exact in binary and the interpolation's rounding shows), in up to four cells
cell_minutes = st.lists(
    st.tuples(st.sampled_from("wxyz"), st.integers(min_value=0, max_value=6 * 3600).map(lambda s: s / 60.0)),
    min_size=1,
    max_size=60,
)


def reference_quartiles(values: list[float]) -> list[float]:
    """Positions (n - 1) q of the sorted values, interpolated as lo + (hi - lo) * d."""
    ordered = sorted(values)
    out = []
    for q in (0.25, 0.5, 0.75):
        target = (len(ordered) - 1) * q
        low, high = ordered[int(target // 1)], ordered[-int(-target // 1)]
        out.append(low + (target - target // 1) * (high - low))
    return out


@hypothesis_settings(ON_WAREHOUSE, max_examples=40)
@given(rows=cell_minutes)
# 3663 and 3671 seconds: the third quartile lies at 61.05 + 0.75 x (61.1833... - 61.05), which
# is 61.15 as lo + (hi - lo) d and 61.14999... as quantile_cont's lo (1 - d) + hi d: 61.2 or 61.1
@example(rows=[("w", 3663 / 60.0), ("w", 3671 / 60.0)])
def test_both_ways_to_the_quartiles_give_the_same_published_tenths(warehouse, rows):
    """minute_quartiles sorts a night's day cells in memory and reads weeks, months and large
    days off a histogram (FLOW_QUARTILE_MEMORY_STOPS): both must publish the same rounded
    quartiles, or a quartile could change with the size of a night."""
    con, config = warehouse
    load_macros(con, config.sql_dir)
    # the columns a period mart's value rows carry besides the cell's keys and the minutes
    con.execute(
        "create or replace temp table quartile_values (cell varchar, minutes double, service_date date, visitor_id ubigint)"
    )
    con.executemany(f"insert into quartile_values values (?, ?, date '{DAY}', 1)", rows)
    by_way = {}
    for in_memory in (True, False):
        con.execute(f"set variable quartiles_in_memory = {in_memory}")
        by_way[in_memory] = con.execute(
            "select cell, minutes_p25, minutes_median, minutes_p75 from minute_quartiles(quartile_values) order by cell"
        ).fetchall()
    cells = sorted({c for c, _ in rows})
    # rounded by DuckDB, as the marts round
    expected = [
        (
            cell,
            *con.execute(
                "select round(?, 1), round(?, 1), round(?, 1)", reference_quartiles([m for c, m in rows if c == cell])
            ).fetchone(),
        )
        for cell in cells
    ]
    assert by_way[True] == expected
    assert by_way[False] == expected


def test_a_night_over_the_memory_bound_reads_its_quartiles_off_the_histogram(warehouse, tmp_path):
    """The runner sorts in memory up to FLOW_QUARTILE_MEMORY_STOPS stops and uses the
    histogram above it; the marts are the same either way."""
    con, config = warehouse
    rows = [(card, "glover_garden", 7 * i, "JP", "adult") for i, card in enumerate("ABCDEF")] + [
        (card, "oura_cathedral", 7 * i + 13 + i * i, "JP", "adult") for i, card in enumerate("ABCDEF")
    ]
    reset(con, as_taps(rows))
    marts = {}
    for bound in (10**6, 0):
        build_range(
            con,
            DAY,
            DAY,
            replace(config, quartile_memory_stops=bound),
            only=INTERMEDIATE + ["transitions_by_period", "dwell_by_period", "routes_by_period"],
        )
        assert con.execute("select getvariable('quartiles_in_memory')").fetchone()[0] is (bound > 0)
        marts[bound] = [
            con.execute(f"select * from marts.{name} order by all").fetchall()
            for name in ("transitions_by_period", "dwell_by_period", "routes_by_period")
        ]
    assert marts[10**6] == marts[0]
    assert marts[0][0], "the build published no moves"


WEEK = [date(2026, 11, 2) + timedelta(days=i) for i in range(7)]  # Monday to Sunday, DAY in it


@pytest.fixture(scope="module")
def week_warehouse(tmp_path_factory):
    """A warehouse of its own whose calendar holds the whole week of DAY."""
    con, config = in_memory_warehouse(tmp_path_factory.mktemp("week"), WEEK[0], WEEK[-1])
    yield con, config
    con.close()


week_taps = st.lists(
    st.tuples(
        st.sampled_from("ABCDE"),
        st.sampled_from([1, 2]),  # Tuesday or Wednesday
        st.sampled_from(FACILITIES[:3]),
        st.integers(min_value=0, max_value=12 * 60),
        st.sampled_from(["adult", "senior"]),
    ),
    min_size=2,
    max_size=30,
)


def week_tap_rows(rows, domestic_cards: str) -> list[tuple]:
    """raw.entry_log rows of (card, day of WEEK, facility, minutes after 05:00, ticket); cards
    in ``domestic_cards`` are issued in Japan, the others in the United States."""
    return [
        (
            "test",
            WEEK[day],
            facility,
            datetime.combine(WEEK[day], datetime.min.time()) + timedelta(hours=5, minutes=minute),
            pseudonymise(card, KEY),
            ticket,
            500,
            "JP" if card in domestic_cards else "US",
            "taps.csv",
            2,
        )
        for card, day, facility, minute, ticket in rows
    ]


#: each period mart's cells and their distinct visitors, counted from the intermediate rows:
#: (mart, rows behind it with their cell columns, the cell columns)
VISITOR_CELLS = [
    (
        "transitions_by_period",
        "select service_date, segment, ticket_type, visitor_id, from_facility_id as a, to_facility_id as b, "
        "'' as c from intermediate.int_transitions",
    ),
    (
        "routes_by_period",
        "select service_date, segment, ticket_type, visitor_id, origin_facility_id as a, destination_facility_id as b, "
        "'' as c from intermediate.int_trips where n_stops >= 2 union all "
        "select service_date, segment, ticket_type, visitor_id, origin_facility_id, destination_facility_id, route "
        "from intermediate.int_trips where n_stops between 2 and 5",
    ),
    (
        "dwell_by_period",
        "select service_date, segment, ticket_type, visitor_id, from_facility_id as a, '' as b, '' as c "
        "from intermediate.int_transitions where dwell_estimate_minutes is not null",
    ),
    (
        # whole-day cells per segment, and the hour-of-day profile (c = 'hour', all visitors only)
        "facility_visits_by_period",
        "select e.service_date, v.segment, v.ticket_type, e.visitor_id, e.facility_id as a, '' as b, '' as c "
        "from staging.stg_entry_log as e inner join intermediate.int_visitor_days as v using (service_date, visitor_id) "
        "union all select e.service_date, v.segment, v.ticket_type, e.visitor_id, e.facility_id, "
        "hour(e.entered_at)::varchar, 'hour' "
        "from staging.stg_entry_log as e inner join intermediate.int_visitor_days as v using (service_date, visitor_id)",
    ),
    (
        # all facilities and each facility (c = 'facility'; a day publishes no facility x segment cell)
        "spending_by_period",
        "select e.service_date, v.segment, v.ticket_type, e.visitor_id, 'all' as a, '' as b, '' as c "
        "from staging.stg_entry_log as e inner join intermediate.int_visitor_days as v using (service_date, visitor_id) "
        "union all select e.service_date, v.segment, v.ticket_type, e.visitor_id, e.facility_id, '', 'facility' "
        "from staging.stg_entry_log as e inner join intermediate.int_visitor_days as v using (service_date, visitor_id)",
    ),
    (
        # visitors per segment, and the first and last facility of the day (all visitors only:
        # c = 'hour' keeps them out of the segments)
        "circulation_by_period",
        "select service_date, segment, ticket_type, visitor_id, 'all' as a, '' as b, '' as c "
        "from intermediate.int_visitor_days union all "
        "select service_date, segment, ticket_type, visitor_id, 'first', first_facility_id, 'hour' "
        "from intermediate.int_visitor_days union all "
        "select service_date, segment, ticket_type, visitor_id, 'last', last_facility_id, 'hour' "
        "from intermediate.int_visitor_days",
    ),
]
MART_CELLS = {
    "transitions_by_period": "from_facility_id, to_facility_id, ''",
    "routes_by_period": "origin_facility_id, destination_facility_id, coalesce(route, '')",
    "dwell_by_period": "facility_id, '', ''",
    "facility_visits_by_period": "facility_id, coalesce(hour_of_day::varchar, ''), "
    "case when hour_of_day is not null then 'hour' else '' end",
    "spending_by_period": "facility_id, '', case when facility_id <> 'all' then 'facility' else '' end",
    "circulation_by_period": "facility_role, coalesce(facility_id, ''), case when facility_role <> 'all' then 'hour' else '' end",
}


@hypothesis_settings(ON_WAREHOUSE, max_examples=10, phases=NO_SHRINKING)
@given(rows=week_taps)
# card A moves dejima -> glover on Tuesday as an adult and on Wednesday as a senior: in the
# week it is one visitor of the move, under two ticket types
@example(
    rows=[
        ("A", 1, "dejima", 0, "adult"),
        ("A", 1, "glover_garden", 30, "adult"),
        ("A", 2, "dejima", 0, "senior"),
        ("A", 2, "glover_garden", 30, "senior"),
        ("B", 2, "dejima", 10, "adult"),
        ("B", 2, "glover_garden", 50, "adult"),
        # and B makes the same move again after more than the trip gap: two trips of one route
        ("B", 2, "dejima", 300, "adult"),
        ("B", 2, "glover_garden", 330, "adult"),
    ]
)
# Tuesday knows only glover_garden and oura_cathedral and only seniors, Wednesday every
# facility and both ticket types: a day's facility and ticket codes are not the week's (the
# marts group a week's rows on the week's codes, period_codes)
@example(
    rows=[
        ("C", 1, "glover_garden", 0, "senior"),
        ("C", 1, "oura_cathedral", 40, "senior"),
        ("D", 2, "dejima", 0, "adult"),
        ("D", 2, "glover_garden", 30, "adult"),
        ("D", 2, "oura_cathedral", 90, "adult"),
        ("E", 2, "oura_cathedral", 10, "senior"),
        ("E", 2, "glover_garden", 70, "senior"),
    ]
)
def test_period_marts_count_each_visitor_once_per_cell(week_warehouse, rows):
    """The period marts count a cell's visitors from rows aggregated per visitor (on a day
    without a distinct count): every day and week cell of every segment must hold the
    distinct visitors behind it, also when one visitor shows two ticket types in a week."""
    con, config = week_warehouse
    reset(con, week_tap_rows(rows, domestic_cards="AB"))
    marts = [*MART_CELLS, "spending_routes_by_period"]  # the last reads the ones before
    build_range(con, WEEK[0], WEEK[-1], config, only=INTERMEDIATE + marts)
    for mart, behind in VISITOR_CELLS:
        published = con.execute(
            f"select period_grain, period_start, segment_kind, segment, {MART_CELLS[mart]}, visitors "
            f"from marts.{mart} where day_type = 'all' and period_grain in ('day', 'iso_week') order by all"
        ).fetchall()
        expected = con.execute(
            f"with rows as ({behind}), periods as ("
            "select 'day' as grain, service_date as period_start, * from rows union all "
            "select 'iso_week', date_trunc('week', service_date)::date, * from rows) "
            "select grain, period_start, 'all', 'all', a, b, c, count(distinct visitor_id) from periods group by all "
            "union all select grain, period_start, 'residence', segment, a, b, c, count(distinct visitor_id) "
            "from periods where c <> 'hour' and not (grain = 'day' and c = 'facility') group by all "
            "union all select grain, period_start, 'ticket_type', ticket_type, a, b, c, count(distinct visitor_id) "
            "from periods where c <> 'hour' and not (grain = 'day' and c = 'facility') group by all order by all"
        ).fetchall()
        if mart == "circulation_by_period":
            # its own rule hides a cell without single- or multi-facility visitors even at k = 1:
            # the same cells, the shown ones with their visitors
            assert [row[:-1] for row in published] == [row[:-1] for row in expected], mart
            shown = [row for row in published if row[-1] is not None]
            assert set(shown) <= set(expected), mart
            continue
        assert published == expected, mart
    # a week's visitor-days of spending: each card once per day it came
    assert (
        con.execute(
            "select facility_id, segment_kind, segment, visitor_days from marts.spending_by_period "
            "where period_grain = 'iso_week' and day_type = 'all' order by all"
        ).fetchall()
        == con.execute(
            "with rows as (select e.service_date, v.segment, v.ticket_type, e.visitor_id, e.facility_id "
            "from staging.stg_entry_log as e inner join intermediate.int_visitor_days as v using (service_date, visitor_id)), "
            "cells as (select 'all' as f, 'all' as k, 'all' as s, service_date, visitor_id from rows "
            "union all select 'all', 'residence', segment, service_date, visitor_id from rows "
            "union all select 'all', 'ticket_type', ticket_type, service_date, visitor_id from rows "
            "union all select facility_id, 'all', 'all', service_date, visitor_id from rows "
            "union all select facility_id, 'residence', segment, service_date, visitor_id from rows "
            "union all select facility_id, 'ticket_type', ticket_type, service_date, visitor_id from rows) "
            "select f, k, s, count(distinct (service_date, visitor_id)) from cells group by all order by all"
        ).fetchall()
    )
    # spending by route and by first facility: visitors, visitor-days and trips of every published
    # cell (a cell is hidden with its twin: with k = 1, an all-visitors cell where everybody circulated)
    published = con.execute(
        "select period_grain, period_start, breakdown, facility_id, coalesce(route, ''), visitors, visitor_days, trips "
        "from marts.spending_routes_by_period where day_type = 'all' and period_grain in ('day', 'iso_week') "
        "and not is_suppressed"
    ).fetchall()
    expected = {
        tuple(row[:5]): tuple(row[5:])
        for row in con.execute(
            "with units as (select service_date, 'all' as b, 'all' as f, '' as r, visitor_id "
            "from intermediate.int_visitor_days union all "
            "select service_date, 'first_facility', first_facility_id, '', visitor_id from intermediate.int_visitor_days "
            "union all select service_date, 'route', 'all', route, visitor_id from intermediate.int_trips "
            "where n_stops between 2 and 5), "
            "periods as (select 'day' as grain, service_date as p, * from units "
            "union all select 'iso_week', date_trunc('week', service_date)::date, * from units) "
            "select grain, p, b, f, r, count(distinct visitor_id), count(distinct (service_date, visitor_id)), "
            "case when b = 'route' then count(*) end from periods group by grain, p, b, f, r"
        ).fetchall()
    }
    assert {tuple(row[:5]): tuple(row[5:]) for row in published} == {
        tuple(row[:5]): expected.get(tuple(row[:5])) for row in published
    }


@hypothesis_settings(ON_WAREHOUSE, max_examples=5, phases=NO_SHRINKING)
@given(rows=week_taps)
def test_a_weeks_quartiles_are_the_same_sorted_in_memory_or_off_the_histogram(week_warehouse, rows):
    """Weeks and months sort their cells' minutes in memory too while the period holds at
    most FLOW_QUARTILE_MEMORY_STOPS stops: every week cell is the same either way."""
    con, config = week_warehouse
    # a move on each of the two days besides the drawn rows, so that every mart has cells
    moves = [
        ("F", 1, "dejima", 0, "adult"),
        ("F", 1, "glover_garden", 45, "adult"),
        ("G", 2, "glover_garden", 0, "senior"),
        ("G", 2, "oura_cathedral", 25, "senior"),
    ]
    reset(con, week_tap_rows([*rows, *moves], domestic_cards="ABCDEFG"))
    marts = ["transitions_by_period", "dwell_by_period", "routes_by_period"]
    published = {}
    for bound in (10**6, 0):
        build_range(con, WEEK[0], WEEK[-1], replace(config, quartile_memory_stops=bound), only=INTERMEDIATE + marts)
        assert con.execute("select getvariable('quartiles_in_memory')").fetchone()[0] is (bound > 0)
        assert con.execute("select getvariable('period_grain')").fetchone()[0] != "day"
        published[bound] = [
            con.execute(f"select * from marts.{name} where period_grain <> 'day' order by all").fetchall() for name in marts
        ]
    assert published[10**6] == published[0]
    assert all(published[0])
