"""Differencing attacks on the published daily marts, shared by
tests/reliability/test_suppression_differencing.py and bench/reliability_report.py.

An attacker holds the published daily marts (k = FLOW_MIN_CELL_COUNT) and knows how they
add up: segments add up to 'all' (circulation, survey), a facility's segment columns add
up to its visitors, its hours add up to its day's entries, and the next-facility
probabilities of an origin reveal the origin's total moves. For every such margin whose
total is published, the attacker subtracts the published parts. The attack succeeds when
the result equals the true hidden value (the truth is the same marts rebuilt with k = 1)
and either isolates one hidden cell or shows that the hidden cells together hold fewer
than k people. Published counts of people below k are reported too.
"""

from __future__ import annotations

from collections import defaultdict

import duckdb

COUNTS = {
    "marts.circulation_daily": ("visitors", "multi_facility_visitors"),
    "marts.facility_daily": ("visitors", "domestic_visitors", "international_visitors", "unknown_visitors"),
    "marts.facility_entries_hourly": ("visitors",),
    "marts.transitions_daily": ("visitors",),
    "marts.routes_daily": ("visitors",),
    "marts.survey_satisfaction_daily": ("respondents",),
}


def rows(con, table: str) -> list[dict]:
    try:
        cursor = con.execute(f"select * from {table}")
    except duckdb.CatalogException:
        return []
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def margin(name: str, total, parts: list[tuple[str, object, object]], k: int) -> list[str]:
    """parts: (label, published value or None, true value). Returns the disclosures."""
    if total is None:
        return []
    hidden = [(label, true) for label, published, true in parts if published is None and true is not None]
    if not hidden:
        return []
    residual = total - sum(published for _, published, _ in parts if published is not None)
    if residual != sum(true for _, true in hidden):
        return []  # the inference would be wrong: no disclosure
    if len(hidden) == 1:
        return [f"{name}: hidden {hidden[0][0]} = {residual} recovered exactly"]
    if 0 < residual < k:
        return [f"{name}: hidden {[h for h, _ in hidden]} together hold {residual} < k"]
    return []


def _index(rows: list[dict], *keys: str) -> dict:
    return {tuple(r[k] for k in keys): r for r in rows}


def _group(rows: list[dict], *keys: str) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[k] for k in keys)].append(row)
    return groups


def circulation_segments(m) -> list[str]:
    pub, truth = (
        m["published"]["marts.circulation_daily"],
        _index(m["truth"]["marts.circulation_daily"], "service_date", "source_kind", "segment"),
    )
    found = []
    for key, rows in _group(pub, "service_date", "source_kind").items():
        total = next((r for r in rows if r["segment"] == "all"), None)
        if total is None:
            continue
        for column in ("visitors", "multi_facility_visitors"):
            parts = [
                (r["segment"], r[column], truth.get((*key, r["segment"]), {}).get(column)) for r in rows if r["segment"] != "all"
            ]
            found += margin(f"circulation_daily {key} {column}", total[column], parts, m["k"])
    return found


def circulation_single_facility(m) -> list[str]:
    """visitors - multi_facility_visitors = single-stop visitors, a cell of its own."""
    found = []
    for row in m["published"]["marts.circulation_daily"]:
        if row["visitors"] is not None and row["multi_facility_visitors"] is not None:
            single = row["visitors"] - row["multi_facility_visitors"]
            if 0 < single < m["k"]:
                found.append(
                    f"circulation_daily {row['service_date']} {row['source_kind']} {row['segment']}: "
                    f"visitors - multi = {single} single-stop visitors < k"
                )
    return found


def facility_segments(m) -> list[str]:
    truth = _index(m["truth"]["marts.facility_daily"], "service_date", "source_kind", "facility_id")
    found = []
    for row in m["published"]["marts.facility_daily"]:
        true = truth.get((row["service_date"], row["source_kind"], row["facility_id"]))
        if true is None:
            continue
        parts = [(c, row[c], true[c]) for c in ("domestic_visitors", "international_visitors", "unknown_visitors")]
        found += margin(
            f"facility_daily {row['service_date']} {row['source_kind']} {row['facility_id']} visitors",
            row["visitors"],
            parts,
            m["k"],
        )
    return found


def facility_hours(m) -> list[str]:
    hours = _group(m["published"]["marts.facility_entries_hourly"], "service_date", "source_kind", "facility_id")
    truth = _index(m["truth"]["marts.facility_entries_hourly"], "service_date", "source_kind", "facility_id", "hour_of_day")
    found = []
    for row in m["published"]["marts.facility_daily"]:
        key = (row["service_date"], row["source_kind"], row["facility_id"])
        parts = [
            (f"hour {h['hour_of_day']}", h["entries"], truth.get((*key, h["hour_of_day"]), {}).get("entries")) for h in hours[key]
        ]
        found += margin(f"facility_daily/facility_entries_hourly {key} entries", row["entries"], parts, m["k"])
    return found


def transition_destinations(m) -> list[str]:
    """next_probability = moves / all moves leaving the origin: the origin total is implied."""
    groups = _group(m["published"]["marts.transitions_daily"], "service_date", "source_kind", "from_facility_id")
    truth = _index(m["truth"]["marts.transitions_daily"], "service_date", "source_kind", "from_facility_id", "to_facility_id")
    found = []
    for key, rows in groups.items():
        shown = [
            (r["transitions"], r["next_probability"]) for r in rows if r["transitions"] is not None and r["next_probability"]
        ]
        if not shown:
            continue
        known = sum(r["transitions"] for r in rows if r["transitions"] is not None)
        candidates = [
            total for total in range(max(known, 1), known + 5_000) if all(abs(t / total - p) <= 0.00005 + 1e-9 for t, p in shown)
        ]
        if len(candidates) != 1:
            continue
        parts = [
            (r["to_facility_id"], r["transitions"], truth.get((*key, r["to_facility_id"]), {}).get("transitions")) for r in rows
        ]
        found += margin(f"transitions_daily {key} moves (total implied by next_probability)", candidates[0], parts, m["k"])
    return found


def survey_segments(m) -> list[str]:
    """'all' = domestic + international (+ answers without a residence country, usually none)."""
    truth = _index(m["truth"]["marts.survey_satisfaction_daily"], "service_date", "segment")
    groups = defaultdict(dict)
    for row in m["published"]["marts.survey_satisfaction_daily"]:
        groups[row["service_date"]][row["segment"]] = row
    found = []
    for day, rows in groups.items():
        total = rows.get("all")
        if total is None:
            continue
        for column in ("respondents", "satisfied"):
            parts = [
                (s, rows[s][column], truth.get((day, s), {}).get(column)) for s in ("domestic", "international") if s in rows
            ]
            found += margin(f"survey_satisfaction_daily {day} {column}", total[column], parts, m["k"])
    return found


def small_published_cells(m) -> list[str]:
    found = []
    for table, columns in COUNTS.items():
        for row in m["published"][table]:
            for column in columns:
                value = row.get(column)
                if value is not None and 0 < value < m["k"]:
                    where = {
                        k: v
                        for k, v in row.items()
                        if k.endswith(("_id", "segment", "date", "hour_of_day", "source_kind", "route"))
                    }
                    found.append(f"{table} {where}: {column} = {value} published (< k)")
    return found


ATTACKS = {
    f.__name__: f
    for f in (
        circulation_segments,
        circulation_single_facility,
        facility_segments,
        facility_hours,
        transition_destinations,
        survey_segments,
        small_published_cells,
    )
}
