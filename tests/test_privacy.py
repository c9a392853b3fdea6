"""Suppression: small cells are hidden and stay hidden against differencing.

The engine (flowlib.privacy) is checked on hand-made tables, then the whole set of route
marts is attacked: every linear relation that holds between published cells (segment
margins, next-facility totals, hours vs. day, first facility vs. all, routes vs. OD,
week vs. its days, day types vs. all) is turned into an equation, and linear algebra
says whether any hidden value is pinned down. With secondary suppression on, none is;
with it switched off, the same attacker recovers hidden values exactly, so the attack
is real.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from test_routes import insert, make_settings, tap

import flowlib.models
import flowlib.privacy
from flowlib.models import build_range, discover
from flowlib.pipeline import prepare_warehouse
from flowlib.privacy import Margin, PrivacySpec, Rank, protect
from flowlib.warehouse import writer

MONDAY, SUNDAY = date(2026, 11, 2), date(2026, 11, 8)
CUBES = ["facility_visits_by_period", "transitions_by_period", "routes_by_period", "circulation_by_period", "dwell_by_period"]


# ------------------------------------------------------------------ the engine, by hand


def staged(rows: list[tuple], k: int) -> duckdb.DuckDBPyConnection:
    """A stage table (segment, to_facility_id, visitors, moves) with primary suppression."""
    con = duckdb.connect()
    con.execute("create table s (segment varchar, to_facility_id varchar, visitors integer, moves integer)")
    con.executemany("insert into s values (?, ?, ?, ?)", rows)
    con.execute(f"""create table stage as select row_number() over () as __rid, *,
        visitors < {k} as is_suppressed, case when visitors < {k} then 'primary' end as suppression,
        cast(null as integer) as position from s""")
    return con


SEGMENTS = Margin("residence", ("segment",), "segment <> 'all'", "segment = 'all'")
DESTINATIONS = Margin("destinations", ("to_facility_id",), "true", None)


def spec(*margins: Margin, rank: Rank | None = None) -> PrivacySpec:
    return PrivacySpec(
        keys=("segment", "to_facility_id"), counts=("visitors",), suppress=("visitors", "moves"), margins=margins, rank=rank
    )


def hidden(con) -> dict[tuple[str, str], str]:
    return {
        (s, t): why
        for s, t, why in con.execute("select segment, to_facility_id, suppression from stage where is_suppressed").fetchall()
    }


def test_a_lone_hidden_segment_takes_the_next_smallest_with_it():
    con = staged([("all", "x", 30, 30), ("domestic", "x", 20, 20), ("international", "x", 4, 4), ("unknown", "x", 6, 6)], 5)
    protect(con, "stage", spec(SEGMENTS), 5)
    # k = 5: 30 - 20 - 6 would give back the 4 international visitors; with unknown hidden
    # too, the two hold 10 >= k together and neither can be recovered alone
    assert hidden(con) == {("international", "x"): "primary", ("unknown", "x"): "secondary"}
    assert con.execute("select visitors, moves from stage where segment = 'unknown'").fetchall() == [(None, None)]
    assert con.execute("select visitors from stage where segment = 'domestic'").fetchall() == [(20,)]


def test_a_margin_whose_parts_show_elsewhere_hides_its_total_instead():
    """spending_by_period's facilities: the day files publish every facility, so hiding a
    second facility here protects nothing; the all-facilities row goes instead."""
    from flowlib.privacy import _parse_margin

    by_total = _parse_margin("residence | vary segment | parts segment <> 'all' | total segment = 'all' | complement total", "t")
    assert by_total.complement_total and not SEGMENTS.complement_total
    con = staged([("all", "x", 30, 30), ("domestic", "x", 20, 20), ("international", "x", 4, 4), ("unknown", "x", 6, 6)], 5)
    protect(con, "stage", spec(by_total), 5)
    assert hidden(con) == {("international", "x"): "primary", ("all", "x"): "secondary"}
    with pytest.raises(flowlib.privacy.PrivacySpecError, match="complement"):
        _parse_margin("d | vary to_facility_id | parts true | total implied | complement total", "t")


def test_hidden_parts_must_hold_k_together():
    con = staged([("all", "x", 20, 20), ("domestic", "x", 15, 15), ("international", "x", 3, 3), ("unknown", "x", 2, 2)], 10)
    protect(con, "stage", spec(SEGMENTS), 10)
    # two hidden parts holding 5 < k would publish "5 non-domestic visitors": hide domestic too
    assert set(hidden(con)) == {("international", "x"), ("unknown", "x"), ("domestic", "x")}
    assert con.execute("select visitors from stage where segment = 'all'").fetchall() == [(20,)]


def test_an_implied_total_protects_the_destinations():
    con = staged([("all", "b", 12, 14), ("all", "c", 3, 3), ("all", "d", 15, 15)], 10)
    protect(con, "stage", spec(DESTINATIONS), 10)
    assert hidden(con) == {("all", "c"): "primary", ("all", "b"): "secondary"}


def test_crossing_margins_converge_and_hide_a_total_with_no_part_left():
    rows = [
        ("all", "x", 12, 12),
        ("all", "y", 2, 2),
        ("domestic", "x", 12, 12),
        ("domestic", "y", 2, 2),
        ("all", "z", 40, 40),
        ("domestic", "z", 40, 40),
    ]
    con = staged(rows, 10)
    protect(con, "stage", spec(SEGMENTS, DESTINATIONS), 10)
    # y is primary in both rows; the destination margin hides x (the next smallest) in each
    # row; z stays. Nothing is left to recover.
    assert hidden(con) == {
        ("all", "y"): "primary",
        ("domestic", "y"): "primary",
        ("all", "x"): "secondary",
        ("domestic", "x"): "secondary",
    }
    con = staged([("all", "x", 12, 12), ("domestic", "x", 12, 12), ("domestic", "w", 2, 2)], 10)
    protect(con, "stage", spec(SEGMENTS, DESTINATIONS), 10)
    # domestic x is hidden to protect domestic w; all x equals domestic x (its only part),
    # so the total must go as well
    assert hidden(con) == {("domestic", "w"): "primary", ("domestic", "x"): "secondary", ("all", "x"): "secondary"}


def test_a_hidden_total_takes_one_of_its_parts_with_it():
    con = staged([("all", "x", 12, 12), ("domestic", "x", 7, 7), ("unknown", "x", 5, 5), ("all", "y", 3, 3)], 5)
    protect(con, "stage", spec(SEGMENTS, DESTINATIONS), 5)
    # all/y is below k, so all/x goes too (destinations); 7 + 5 would then give all/x back:
    # one of its parts (the smaller) is hidden with it
    assert hidden(con) == {("all", "y"): "primary", ("all", "x"): "secondary", ("unknown", "x"): "secondary"}


def rounds_until_nothing_changes(con, table: str, margins: tuple[Margin, ...], k: int) -> None:
    """The rule as stated: whole rounds over every margin until a round hides nothing (what
    flowlib.privacy.secondary_suppression shortens)."""
    while sum(flowlib.privacy._secondary_round(con, table, spec(*margins), margin, k) for margin in margins):
        pass


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    visitors=st.lists(st.integers(min_value=0, max_value=40), min_size=12, max_size=12),
    margins=st.sampled_from([(SEGMENTS, DESTINATIONS), (DESTINATIONS, SEGMENTS), (SEGMENTS,), (DESTINATIONS,)]),
)
def test_secondary_suppression_hides_what_whole_rounds_hide(visitors, margins):
    """The rule stops once every margin was checked since the last change and skips margins
    without parts: the same cells as rounds repeated until one changes nothing."""
    rows = [
        (segment, destination, visitors[3 * i + j], visitors[3 * i + j])
        for i, segment in enumerate(["all", "domestic", "international", "unknown"])
        for j, destination in enumerate("xyz")
    ]
    shortened, reference = staged(rows, 10), staged(rows, 10)
    flowlib.privacy.secondary_suppression(shortened, "stage", spec(*margins), 10)
    rounds_until_nothing_changes(reference, "stage", margins, 10)
    assert hidden(shortened) == hidden(reference)


def test_ranks_count_published_rows_only():
    rank = Rank("position", ("segment",), "visitors desc, to_facility_id")
    con = staged([("all", "a", 30, 30), ("all", "b", 3, 3), ("all", "c", 30, 30), ("all", "d", 12, 12)], 10)
    protect(con, "stage", spec(rank=rank), 10)
    assert con.execute("select to_facility_id, position from stage order by 1").fetchall() == [
        ("a", 1),
        ("b", None),
        ("c", 2),
        ("d", 3),
    ]


# ------------------------------------------------------------------ the marts, attacked


def week_of_taps(seed: int = 4) -> list[tuple]:
    """A week of taps: 5 facilities, mixed segments, one trip of 1-4 stops a day per card."""
    rng = random.Random(seed)
    facilities = ["glover_garden", "oura_cathedral", "dejima", "shinchi_chinatown", "peace_park"]
    cards = [
        (f"P{n}", rng.choices(["JP", "US", None], [6, 3, 2])[0], rng.choices(["adult", "senior", "child"], [6, 2, 2])[0])
        for n in range(120)
    ]
    taps = []
    for offset in range(7):
        day = MONDAY + timedelta(days=offset)
        for card, country, ticket in rng.sample(cards, 45):
            minute = rng.randrange(9 * 60, 12 * 60)
            stops = rng.choices(facilities, [5, 4, 3, 2, 1], k=rng.choice([1, 2, 2, 3, 3, 4]))
            for facility in stops:
                taps.append(tap(card, facility, f"{minute // 60:02d}:{minute % 60:02d}", country, ticket, day))
                minute += rng.randrange(35, 90)
    return taps


def build_week(root: Path, k: int) -> dict[str, dict]:
    """One build of the week, recording each cube's staged cells before flowlib.privacy ran
    (the truth) next to what was published."""
    settings = make_settings(root, k)
    prepare_warehouse(settings)
    insert(settings, week_of_taps())
    staged_rows: dict[str, list[dict]] = defaultdict(list)
    protect_for_real = flowlib.models.protect

    def recording_protect(con, table, spec, k, mart=None, rollup=False):
        if mart.split(".")[1] in CUBES:  # the cubes this attack models
            cursor = con.execute(f"select * exclude (__rid) from {table}")
            columns = [d[0] for d in cursor.description]
            staged_rows[mart.split(".")[1]].extend(dict(zip(columns, row)) for row in cursor.fetchall())
        return protect_for_real(con, table, spec, k, mart=mart, rollup=rollup)

    patch = pytest.MonkeyPatch()
    patch.setattr(flowlib.models, "protect", recording_protect)
    try:
        with writer(settings) as con:
            build_range(con, MONDAY, SUNDAY, settings)
            published, specs = {}, {}
            for model in discover(settings.sql_dir):
                if model.name in CUBES:
                    specs[model.name] = model.privacy
                    cursor = con.execute(f"select * from marts.{model.name}")
                    columns = [d[0] for d in cursor.description]
                    published[model.name] = {
                        tuple(r[c] for c in model.privacy.keys): r for r in (dict(zip(columns, row)) for row in cursor.fetchall())
                    }
            daily = {
                name: con.execute(f"select * from marts.{name}").fetchall()
                for name in ("facility_daily", "transitions_daily", "routes_daily", "circulation_daily")
            }
    finally:
        patch.undo()
    truth = {name: {tuple(r[c] for c in specs[name].keys): r for r in rows} for name, rows in staged_rows.items()}
    # what primary suppression alone would have published: hide only cells below k
    primary_only = {
        name: {
            key: {c: (None if r["is_suppressed"] and c in specs[name].suppress else v) for c, v in r.items()}
            for key, r in rows.items()
        }
        for name, rows in truth.items()
    }
    return {"published": published, "truth": truth, "primary_only": primary_only, "daily": daily}


@pytest.fixture(scope="module")
def week_runs(tmp_path_factory) -> dict[str, dict]:
    return build_week(tmp_path_factory.mktemp("week"), k=5)


#: additive measures: a sum over any split of the rows (segments, hours, days, day types)
ADDITIVE = {
    "facility_visits_by_period": ["entries"],
    "transitions_by_period": ["transitions"],
    "routes_by_period": ["trips"],
    "circulation_by_period": [],
    "dwell_by_period": [],
}
#: distinct-id counts: a sum only over splits that partition the ids (a card has one
#: residence segment; one ticket segment and one first facility per day)
DISTINCT = {
    "facility_visits_by_period": ["visitors"],
    "transitions_by_period": ["visitors"],
    "routes_by_period": ["visitors"],
    "dwell_by_period": ["visitors"],
    "circulation_by_period": ["visitors", "multi_facility_visitors", "single_facility_visitors"],
}
NAMES = ("period_grain", "period_start", "source_kind", "day_type", "segment_kind", "segment")


def relations(published: dict[str, dict[tuple, dict]], truth: dict[str, dict[tuple, dict]]) -> list[list]:
    """Every structural 'sum of parts = total' between published cells, as lists of cell refs.

    A relation is [total, part, part, ...]; a constant total (an origin's number of moves,
    known from any published next-facility probability) is ('const', value). Each relation
    must hold exactly in the true data (that is asserted: totals reconcile).
    """
    found = []

    def add(table: str, total_key, part_keys, measure: str, constant=None):
        rows = truth[table]
        values = [rows[p][measure] for p in part_keys]
        total = constant if constant is not None else rows[total_key][measure]
        if total is None or any(v is None for v in values):
            return  # a value the model itself leaves empty (e.g. multi on 'first' rows)
        assert sum(values) == pytest.approx(total), (table, total_key, measure)
        head = ("const", total) if constant is not None else (table, total_key, measure)
        found.append([head, *((table, p, measure) for p in part_keys)])

    for table, rows in truth.items():
        segment_kind = NAMES.index("segment_kind")
        by_group: dict[tuple, list[tuple]] = defaultdict(list)
        for key in rows:
            by_group[key[:4] + key[6:]].append(key)
        for keys in by_group.values():
            totals = [k for k in keys if k[segment_kind] == "all"]
            for kind in ("residence", "ticket_type"):
                parts = [k for k in keys if k[segment_kind] == kind]
                if not (totals and parts):
                    continue
                partition = kind == "residence" or totals[0][0] == "day"
                for measure in ADDITIVE[table] + (DISTINCT[table] if partition else []):
                    add(table, totals[0], parts, measure)
        if table == "transitions_by_period":
            origins: dict[tuple, list[tuple]] = defaultdict(list)
            for key in rows:
                origins[key[:7]].append(key)
            for keys in origins.values():
                shown = [k for k in keys if published[table][k]["next_probability"] is not None]
                if shown:  # moves / probability of any shown part = the origin's total
                    add(table, None, keys, "transitions", constant=sum(rows[k]["transitions"] for k in keys))
        if table == "facility_visits_by_period":
            days: dict[tuple, list[tuple]] = defaultdict(list)
            for key in rows:
                days[key[:7]].append(key)
            for keys in days.values():
                whole = [k for k in keys if k[7] is None]
                hours = [k for k in keys if k[7] is not None]
                if whole and hours:
                    add(table, whole[0], hours, "entries")
        if table == "circulation_by_period":
            groups: dict[tuple, list[tuple]] = defaultdict(list)
            for key in rows:
                if key[0] == "day":
                    groups[key[:6]].append(key)
            for keys in groups.values():
                total = [k for k in keys if k[6] == "all"]
                for role in ("first", "last"):
                    parts = [k for k in keys if k[6] == role]
                    if total and parts:
                        add(table, total[0], parts, "visitors")
        # neighbouring periods: a week is the sum of its days; all = weekday + weekend_holiday
        day_type_of = {MONDAY + timedelta(days=i): "weekday" for i in range(7)}
        for day in (date(2026, 11, 3), date(2026, 11, 7), SUNDAY):
            day_type_of[day] = "weekend_holiday"
        for key in (k for k in rows if k[0] == "iso_week"):
            for measure in ADDITIVE[table]:
                parts = [("day", d, key[2], "all", *key[4:]) for d in day_type_of if key[3] == "all" or day_type_of[d] == key[3]]
                add(table, key, [p for p in parts if p in rows], measure)
                if key[3] == "all":
                    split = [key[:3] + (t,) + key[4:] for t in ("weekday", "weekend_holiday")]
                    add(table, key, [p for p in split if p in rows], measure)
    return found


def _day(key):
    return key[1].date() if hasattr(key[1], "date") else key[1]


def attack(published: dict, truth: dict) -> dict[tuple, float]:
    """Hidden cell values pinned down by the relations: {(table, key, measure): value}."""
    equations, unknowns = [], {}
    for relation in relations(published, truth):
        coefficients: dict[int, float] = {}
        constant = 0.0
        for position, ref in enumerate(relation):
            sign = -1.0 if position == 0 else 1.0  # sum(parts) - total = 0
            if ref[0] == "const":
                constant -= sign * ref[1]
                continue
            table, key, measure = ref
            value = published[table].get(key, {}).get(measure) if key in published[table] else 0
            if value is None:
                index = unknowns.setdefault(ref, len(unknowns))
                coefficients[index] = coefficients.get(index, 0.0) + sign
            else:
                constant -= sign * value
        if coefficients:
            equations.append((coefficients, constant))
    if not equations:
        return {}
    # solve each group of unknowns tied together by equations on its own (small matrices)
    parent = list(range(len(unknowns)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for coefficients, _ in equations:
        first, *rest = coefficients
        for other in rest:
            parent[root(other)] = root(first)
    components: dict[int, list[int]] = defaultdict(list)
    for index in range(len(unknowns)):
        components[root(index)].append(index)
    by_component: dict[int, list[tuple[dict[int, float], float]]] = defaultdict(list)
    for equation in equations:
        by_component[root(next(iter(equation[0])))].append(equation)
    refs = {index: ref for ref, index in unknowns.items()}
    recovered = {}
    for component, members in components.items():
        position = {index: i for i, index in enumerate(members)}
        rows = by_component[component]
        matrix = np.zeros((len(rows), len(members)))
        rhs = np.zeros(len(rows))
        for r, (coefficients, constant) in enumerate(rows):
            for index, value in coefficients.items():
                matrix[r, position[index]] = value
            rhs[r] = constant
        if len(members) == 1:  # one unknown in an equation: it is given back
            recovered[refs[members[0]]] = rhs[0] / matrix[0, 0]
            continue
        # x_j is pinned down iff e_j is in the row space: no null-space vector touches j
        eigenvalues, eigenvectors = np.linalg.eigh(matrix.T @ matrix)
        null_space = eigenvectors[:, eigenvalues < 1e-9]
        pinned = [j for j in range(len(members)) if null_space.shape[1] == 0 or np.abs(null_space[j]).max() < 1e-6]
        if pinned:
            solution = np.linalg.lstsq(matrix, rhs, rcond=None)[0]
            recovered.update({refs[members[j]]: solution[j] for j in pinned})
    return recovered


def test_published_marts_have_hidden_cells(week_runs):
    published = week_runs["published"]
    reasons = defaultdict(int)
    for rows in published.values():
        for row in rows.values():
            reasons[row["suppression"]] += 1
    assert reasons["primary"] > 50 and reasons["secondary"] > 20 and reasons["partial"] > 5
    assert reasons[None] > 200


def test_no_hidden_value_can_be_recovered_by_differencing(week_runs):
    recovered = attack(week_runs["published"], week_runs["truth"])
    assert recovered == {}


def test_without_secondary_suppression_the_same_attack_succeeds(week_runs):
    truth = week_runs["truth"]
    recovered = attack(week_runs["primary_only"], truth)
    assert len(recovered) > 10
    for (table, key, measure), value in recovered.items():
        assert value == pytest.approx(truth[table][key][measure], abs=1e-6)
        assert truth[table][key]["visitors"] is not None


def test_every_published_count_holds_k_ids(week_runs):
    for table, rows in week_runs["published"].items():
        for row in rows.values():
            assert row["is_suppressed"] == (row["visitors"] is None)
            if not row["is_suppressed"]:
                assert row["visitors"] >= 5, (table, row)
                for measure in ("multi_facility_visitors", "single_facility_visitors"):
                    if row.get(measure) is not None:
                        assert row[measure] >= 5


def test_daily_marts_publish_exactly_the_cube_day_cells(week_runs):
    cubes, daily = week_runs["published"], week_runs["daily"]
    transitions = cubes["transitions_by_period"]
    for row in daily["transitions_daily"]:
        service_date, source_kind, origin, destination, moves, visitors = row[:6]
        cell = transitions[("day", service_date, source_kind, "all", "all", "all", origin, destination)]
        assert (moves, visitors, row[10]) == (cell["transitions"], cell["visitors"], cell["is_suppressed"])
    facilities = cubes["facility_visits_by_period"]
    for service_date, source_kind, facility, entries, visitors, domestic, *_rest in daily["facility_daily"]:
        cell = facilities[("day", service_date, source_kind, "all", "all", "all", facility, None)]
        assert (entries, visitors) == (cell["entries"], cell["visitors"])
        part = facilities.get(("day", service_date, source_kind, "all", "residence", "domestic", facility, None))
        assert domestic == (part["visitors"] if part else (None if visitors is None else 0))


# ------------------------------------------------------------------ survey answers


def test_answers_need_k_respondents_k_satisfied_and_k_not_satisfied():
    from flowlib.privacy import answers_publishable

    assert answers_publishable(20, 10, 10)
    assert not answers_publishable(13, 9, 10)  # 4 not satisfied
    assert not answers_publishable(19, 12, 10)  # 7 not satisfied
    assert not answers_publishable(30, 5, 10)  # 5 satisfied


def test_a_total_is_withheld_when_all_minus_the_published_segments_gives_back_answers():
    """Independently: with the total published, each segment that is hidden would be the
    total minus the others; the rule must withhold the total exactly when a segment's
    respondents, satisfied or not satisfied are below k."""
    from flowlib.privacy import total_reveals_hidden_answers

    rng = random.Random(12)
    for _ in range(200):
        segments = []
        for _ in range(rng.randint(1, 3)):
            respondents = rng.randint(0, 40)
            segments.append((respondents, rng.randint(0, respondents)))
        small = any(r < 10 or s < 10 or r - s < 10 for r, s in segments)
        assert total_reveals_hidden_answers(segments, 10) is small, segments


# ------------------------------------------------------------------ Wi-Fi devices


def test_wifi_area_hours_are_protected_on_distinct_devices_where_the_feed_counts_them(tmp_path):
    """k = 10. One hour of an area whose two access points log 40 connections from 6
    devices (3 + 3 in the busiest bin): hidden, although 40 connections >= k. An hour of
    12 devices (two bins, the busiest has 7 + 5) is published; an hour whose feed has no
    device counts falls back to connections."""
    from datetime import datetime

    settings = make_settings(tmp_path, k=10)
    prepare_warehouse(settings)
    with writer(settings) as con:
        area, aps = None, []
        for (area_id,) in con.execute(
            "select area_id from ref.wifi_access_points group by area_id having count(*) >= 2 order by area_id"
        ).fetchall()[:1]:
            area = area_id
            aps = [
                r[0]
                for r in con.execute(
                    "select ap_id from ref.wifi_access_points where area_id = ? order by ap_id limit 2", [area_id]
                ).fetchall()
            ]
        assert area is not None, "the reference needs an area with two access points"
        rows = []
        for hour, bins in (
            (10, [(20, 3, 20, 3), (0, 0, 0, 0)]),  # 40 connections, 6 devices
            (11, [(30, 7, 30, 5), (10, 2, 10, 2)]),  # 80 connections, 12 devices
            (12, [(20, None, 20, None), (0, 0, 0, 0)]),
        ):  # no device counts
            for b, (c1, d1, c2, d2) in enumerate(bins):
                start = datetime(2026, 11, 2, hour, 30 * b)
                rows += [
                    ("test", MONDAY, aps[0], start, 30, c1, d1, "wifi.csv", 2),
                    ("test", MONDAY, aps[1], start, 30, c2, d2, "wifi.csv", 3),
                ]
        con.executemany(
            "insert into raw.wifi_ap_count (source, service_date, ap_id, bin_start, bin_minutes, "
            "connections, unique_devices, file_name, line_number) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        build_range(con, MONDAY, MONDAY, settings)
        published = dict(
            (
                (hour, (connections, suppressed))
                for hour, connections, suppressed in con.execute(
                    "select hour_of_day, connections, is_suppressed from marts.wifi_area_hourly where area_id = ? "
                    "order by hour_of_day",
                    [area],
                ).fetchall()
            )
        )
    assert published == {10: (None, True), 11: (80, False), 12: (40, False)}
