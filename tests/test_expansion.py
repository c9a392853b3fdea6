"""The all-visitor estimate of moves (flowlib.expansion.flow_rows), vectorised over every
move, against the per-move definition written plainly here: a transition scaled by the mean
share of its two ends (both, even when the same facility), a route by the mean of its
distinct stops, the circulation's visitors by the day's city share; a facility without a
share leaves its moves unestimated and named in the status."""

from __future__ import annotations

import random

import duckdb
import numpy as np
import pandas as pd
import pytest

from flowlib.expansion import Share, expand, flow_rows, share_interval

FACILITIES = ["dejima", "glover", "oura", "peace_park", "sofukuji", "tokiwa"]
DAYS = [pd.Timestamp("2026-11-02"), pd.Timestamp("2026-11-03"), pd.Timestamp("2026-11-04")]


def reference(moves: list[dict], cells: pd.DataFrame, shares: dict[tuple, Share]) -> list[dict]:
    """One move at a time, as the definition reads."""
    city = {}
    for day in DAYS:
        rows = cells[(cells["service_date"] == day) & (cells["reported_admissions"] > 0)]
        rows = rows[rows["cashless_visitors"].notna() & (rows["cashless_visitors"] <= rows["reported_admissions"])]
        if len(rows):
            cards, admissions = int(rows["cashless_visitors"].sum()), int(rows["reported_admissions"].sum())
            low, high = share_interval(cards, admissions)
            city[day] = Share(cards / admissions, low, high, "same_day", 1)
    out = []
    for move in moves:
        if move["measure"] == "transition":
            involved = [move["from_facility_id"], move["to_facility_id"]]
        elif move["measure"] == "route":
            involved = list(dict.fromkeys(move["route"].split(" > ")))
        else:
            involved = []
        found = [shares.get((move["service_date"], f)) for f in involved]
        missing = [f for f, share in zip(involved, found) if share is None]
        if not involved:
            share = city.get(move["service_date"])
        elif missing:
            share = None
        else:
            share = Share(
                sum(s.value for s in found) / len(found),
                sum(s.low for s in found) / len(found),
                sum(s.high for s in found) / len(found),
                "",
                0,
            )
        cards = None if move["is_suppressed"] else move["visitors"]
        row = {
            "service_date": move["service_date"],
            "measure": move["measure"],
            "route": move["route"],
            "from_facility_id": move["from_facility_id"],
            "to_facility_id": move["to_facility_id"],
            "cashless_visitors": cards,
            "share_used": None,
            "all_visitors_estimate": None,
            "estimate_ci_low": None,
            "estimate_ci_high": None,
            "is_estimate": False,
            "is_suppressed": move["is_suppressed"],
            "suppression": "primary" if move["is_suppressed"] else None,
        }
        if move["is_suppressed"]:
            row["status"] = "suppressed"
        elif share is None:
            row["status"] = "no_totals: " + ", ".join(missing) if missing else "no_totals"
        elif share.value <= 0 and cards:
            row["status"] = "zero_cashless_share"
        else:
            point, low, high = expand(cards, share)
            row.update(
                share_used=round(share.value, 4),
                all_visitors_estimate=point,
                estimate_ci_low=low,
                estimate_ci_high=high,
                is_estimate=True,
                status="estimated",
            )
        out.append(row)
    return out


def random_moves(rng: random.Random, n: int) -> list[dict]:
    moves = []
    for _ in range(n):
        day = rng.choice(DAYS)
        visitors = rng.choice([0, 1, 3, 12, 40, 250])
        suppressed = rng.random() < 0.2
        kind = rng.choice(["transition", "route", "route", "circulation_visitors", "multi_facility_visitors"])
        move = {"service_date": day, "measure": kind, "route": None, "from_facility_id": None, "to_facility_id": None}
        if kind == "transition":
            # a return to the same facility is a move under FLOW_SELF_TRANSITIONS=keep
            move["from_facility_id"], move["to_facility_id"] = rng.choice(FACILITIES), rng.choice(FACILITIES)
        elif kind == "route":
            # revisits repeat a stop: its share counts once
            move["route"] = " > ".join(rng.choice(FACILITIES) for _ in range(rng.randint(2, 7)))
        moves.append({**move, "visitors": visitors, "is_suppressed": suppressed})
    plain = {"route": None, "from_facility_id": None, "to_facility_id": None, "visitors": 12, "is_suppressed": False}
    return moves + [
        # every share involved is 0 (oura on the first day): card payers moved, no multiplier
        {**plain, "service_date": DAYS[0], "measure": "transition", "from_facility_id": "oura", "to_facility_id": "oura"},
        {**plain, "service_date": DAYS[0], "measure": "route", "route": "oura > oura"},
        {**plain, "service_date": DAYS[0], "measure": "route", "route": "oura > oura", "visitors": 0},
        # two facilities without a share, named in the order of the move
        {**plain, "service_date": DAYS[1], "measure": "transition", "from_facility_id": "tokiwa", "to_facility_id": "sofukuji"},
        {**plain, "service_date": DAYS[1], "measure": "route", "route": "sofukuji > glover > tokiwa > sofukuji"},
    ]


def warehouse(moves: list[dict]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.transitions_daily (service_date date, source_kind varchar, from_facility_id varchar, "
        "to_facility_id varchar, visitors bigint, is_suppressed boolean)"
    )
    con.execute(
        "create table marts.routes_daily (service_date date, source_kind varchar, route varchar, visitors bigint, "
        "is_suppressed boolean)"
    )
    con.execute(
        "create table marts.circulation_daily (service_date date, source_kind varchar, segment varchar, "
        "visitors bigint, multi_facility_visitors bigint, is_suppressed boolean)"
    )
    for m in moves:
        day = m["service_date"].date()
        if m["measure"] == "transition":
            con.execute(
                "insert into marts.transitions_daily values (?, 'entry_log', ?, ?, ?, ?)",
                [day, m["from_facility_id"], m["to_facility_id"], m["visitors"], m["is_suppressed"]],
            )
        elif m["measure"] == "route":
            con.execute(
                "insert into marts.routes_daily values (?, 'entry_log', ?, ?, ?)",
                [day, m["route"], m["visitors"], m["is_suppressed"]],
            )
    # the circulation: one row per day holding both measures (the moves' values of that day)
    for day in DAYS:
        both = {m["measure"]: m for m in moves if m["service_date"] == day and m["measure"].endswith("visitors")}
        if len(both) == 2:
            v, multi = both["circulation_visitors"], both["multi_facility_visitors"]
            multi["is_suppressed"] = v["is_suppressed"]
            con.execute(
                "insert into marts.circulation_daily values (?, 'entry_log', 'all', ?, ?, ?)",
                [day.date(), v["visitors"], multi["visitors"], v["is_suppressed"]],
            )
    return con


def shares_and_cells(rng: random.Random, with_city: bool) -> tuple[dict[tuple, Share], pd.DataFrame]:
    shares, cells = {}, []
    for day in DAYS:
        for facility in FACILITIES:
            if facility == "tokiwa" or (facility == "sofukuji" and day == DAYS[1]):
                continue  # never reports; one facility misses one day
            value = 0.0 if (facility, day) == ("oura", DAYS[0]) else rng.uniform(0.05, 0.95)
            shares[(day, facility)] = Share(value, max(value - 0.05, 0.0), min(value + 0.05, 1.0), "same_day", 1)
            if with_city and day != DAYS[2]:
                cells.append({"service_date": day, "facility_id": facility, "cashless_visitors": 30, "reported_admissions": 90})
    columns = ["service_date", "facility_id", "cashless_visitors", "reported_admissions"]
    return shares, pd.DataFrame(cells, columns=columns)


def normalised(rows: list[dict]) -> list[tuple]:
    def plain(value):
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            return None
        if isinstance(value, np.generic):
            return value.item()
        return value

    keys = sorted(rows[0]) if rows else []
    return sorted(tuple(str(plain(row[k])) for k in keys) for row in rows)


@pytest.mark.parametrize("seed", range(6))
def test_every_move_is_expanded_as_its_definition_says(seed):
    rng = random.Random(seed)
    moves = random_moves(rng, 400)
    shares, cells = shares_and_cells(rng, with_city=seed % 2 == 0)
    con = warehouse(moves)
    # the warehouse holds what was inserted (a circulation row carries both measures)
    kept = con.execute(
        "select * from (select service_date, 'transition' as measure, null as route, from_facility_id, "
        "to_facility_id, visitors, is_suppressed from marts.transitions_daily union all "
        "select service_date, 'route', route, null, null, visitors, is_suppressed from marts.routes_daily union all "
        "select service_date, 'circulation_visitors', null, null, null, visitors, is_suppressed "
        "from marts.circulation_daily union all select service_date, 'multi_facility_visitors', null, null, null, "
        "multi_facility_visitors, is_suppressed from marts.circulation_daily)"
    ).df()
    expected = reference(kept.to_dict("records"), cells, shares)
    got = flow_rows(con, cells, shares)
    assert normalised(got.to_dict("records")) == normalised(expected)
    statuses = {row["status"] for row in expected}
    # the draw reaches every branch the definition has
    assert {
        "suppressed",
        "estimated",
        "no_totals: tokiwa",
        "no_totals: tokiwa, sofukuji",
        "no_totals: sofukuji, tokiwa",
        "zero_cashless_share",
    } <= statuses
    # without a reporting facility a day has no city share for its circulation
    assert "no_totals" in statuses or seed % 2 == 0


def test_no_moves_give_no_rows():
    con = warehouse([])
    shares, cells = shares_and_cells(random.Random(1), with_city=True)
    assert len(flow_rows(con, cells, shares)) == 0


def test_a_published_move_without_a_count_fails_with_one_sentence():
    plain = {"route": None, "from_facility_id": None, "to_facility_id": None, "is_suppressed": False}
    con = warehouse([{**plain, "service_date": DAYS[0], "measure": "route", "route": "oura > glover", "visitors": None}])
    shares, cells = shares_and_cells(random.Random(1), with_city=True)
    with pytest.raises(ValueError, match="a published move has no visitor count"):
        flow_rows(con, cells, shares)
