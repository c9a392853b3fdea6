"""An outsider's subtraction attacks on the published open-data files (issue 12).

Each attack reads only what is published (``dashboards/exports/*.csv``) and returns the
values it claims to recover; :func:`confirmed` keeps the claims that equal the truth (the
same files written with k = 1), i.e. real disclosures. Used by the tests and by
``bench/reliability_report.py``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

#: a published file's rows as the nightly audit reads them (no file, no rows)
from flowlib.disclosure_audit import _rows as read


def _int(text: str | None) -> int | None:
    return int(float(text)) if text not in (None, "") else None


def _days(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _period_minus_days(
    periods: list[dict],
    days: list[dict],
    key: tuple[str, ...],
    columns: tuple[str, ...],
    label: str,
) -> list[tuple[str, int]]:
    """A published period value minus its published days, when exactly one day is hidden.

    ``key`` names the cell in both files (the period file and the daily one).

    Days absent from a daily file hold nothing (the file keeps hidden rows, marked).
    Only days the daily file covers are used; a period with an uncovered day is skipped.
    """
    covered = {row["service_date"] for row in days}
    by_key: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for row in days:
        by_key[tuple(row[c] for c in key)][row["service_date"]] = row
    claims = []
    for period in periods:
        if period["period_grain"] == "day" or period["day_type"] != "all" or period.get("segment_kind", "all") != "all":
            continue
        span = _days(period["period_start"], period["period_end"])
        if not set(span) <= covered:
            continue
        cell = tuple(period[c] for c in key)
        rows = by_key.get(cell, {})
        for column in columns:
            total = _int(period[column])
            if total is None:
                continue
            hidden = [d for d in span if d in rows and _int(rows[d][column]) is None]
            if len(hidden) != 1:
                continue
            shown = sum(_int(rows[d][column]) or 0 for d in span if d in rows and d not in hidden)
            claims.append((f"{label} {cell} {hidden[0]} {column}", total - shown))
    return claims


def week_minus_days_pairs(folder: Path) -> list[tuple[str, int]]:
    return _period_minus_days(
        read(folder, "transitions_by_period"),
        read(folder, "transitions_daily"),
        ("source_kind", "from_facility_id", "to_facility_id"),
        ("transitions", "visitors"),
        "pair",
    )


def week_minus_days_facility_hours(folder: Path) -> list[tuple[str, int]]:
    periods = [r for r in read(folder, "facility_visits_by_period") if r["hour_of_day"] != ""]
    return _period_minus_days(
        periods,
        read(folder, "facility_entries_hourly"),
        ("source_kind", "facility_id", "hour_of_day"),
        ("entries", "visitors"),
        "facility-hour",
    )


def drivers_all_minus_domestic(folder: Path) -> list[tuple[str, int]]:
    """'all' minus 'domestic' of a driver value, when 'international' is hidden."""
    rows = read(folder, "info_satisfaction_drivers")
    cells = {(r["period_type"], r["period"], r["driver_type"], r["driver_value"], r["segment"]): r for r in rows}
    claims = []
    for (ptype, period, dtype, value, segment), everyone in cells.items():
        if segment != "all" or value == "other":
            continue
        # international is unpublished: hidden, or pooled into its segment's "other"
        row = cells.get((ptype, period, dtype, value, "international"))
        domestic = cells.get((ptype, period, dtype, value, "domestic"))
        for column in ("respondents", "satisfied"):
            if (row is not None and _int(row[column]) is not None) or _int(everyone[column]) is None:
                continue
            shown = _int(domestic[column]) if domestic is not None else 0
            if shown is None:
                continue
            claims.append((f"drivers {ptype} {period} {dtype} {value} international {column}", _int(everyone[column]) - shown))
    return claims


_DRIVER_MATCH = {
    "facility_visited": "list_contains(facilities_visited, ?)",
    "info_source": "list_contains(info_sources, ?)",
    "form_language": "form_language = ?",
}


def driver_truth(warehouse: Path, driver_type: str, value: str, segment: str, column: str) -> int:
    """International answers with a driver value, counted from the loaded answers (all of
    the demo's answers fall in one fiscal year)."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        respondents, satisfied = con.execute(
            f"select count(*), count(*) filter (where info_satisfaction >= 4) from staging.stg_survey_response "
            f"where info_satisfaction between 1 and 5 and segment = ? and {_DRIVER_MATCH[driver_type]}",
            [segment, value],
        ).fetchone()
    finally:
        con.close()
    return respondents if column == "respondents" else satisfied


def confirmed(claims: list[tuple[str, int]], attack: str, truth: Path, key_of) -> list[str]:
    """The claims whose value equals the true value of the hidden cell (a recovered 0
    says that nobody is there: it discloses no one)."""
    found = []
    for label, value in claims:
        true = key_of(label)
        if value > 0 and true is not None and true == value:
            found.append(f"{attack}: {label} = {value}")
    return found


def small_published_answers(folder: Path, k: int) -> list[str]:
    """Published satisfied or not-satisfied counts below k (survey_satisfaction_daily)."""
    found = []
    for row in read(folder, "survey_satisfaction_daily"):
        respondents, satisfied = _int(row["respondents"]), _int(row["satisfied"])
        if respondents is None or satisfied is None:
            continue
        for label, value in (("satisfied", satisfied), ("not satisfied", respondents - satisfied)):
            if value < k:
                found.append(f"survey {row['service_date']} {row['segment']}: {label} = {value} < k")
    return found


# ------------------------------------------------------------------ the derived files
# Each attack below takes a count hidden in a visit file and computes it from a derived file
# that counts the same cards: the all-visitor estimates (card count = share x reported
# admissions, or estimate x share), admission revenue (revenue / revenue per visitor-day
# gives visitor-days, which on a day are the visitors; 'all' admissions minus the other
# facilities), revenue per route (revenue / revenue per trip gives trips), and the
# opportunity pairs (observed moves are the period's moves). A claim is (label, value).


def _number(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def _hidden_entry_log_days(folder: Path) -> set[tuple[str, str]]:
    return {
        (r["service_date"], r["facility_id"])
        for r in read(folder, "facility_daily")
        if r["source_kind"] == "entry_log" and _int(r["visitors"]) is None
    }


def _cards_from_all_visitors(row: dict[str, str], share_column: str) -> int | None:
    """The card count a row of the all-visitor files gives, published or divided back."""
    if _int(row["cashless_visitors"]) is not None:
        return _int(row["cashless_visitors"])
    share, estimate = _number(row.get(share_column)), _number(row.get("all_visitors_estimate"))
    reported = _number(row.get("reported_admissions"))
    if share and reported and row.get("share_basis") == "same_day":
        return round(share * reported)
    if share and estimate is not None and row.get("is_estimate") == "TRUE":
        return round(share * estimate)
    return None


def all_visitors_facility_cards(folder: Path) -> list[tuple[str, int]]:
    """A facility-day hidden in facility_daily, from all_visitors_facility_daily."""
    hidden = _hidden_entry_log_days(folder)
    claims = []
    for row in read(folder, "all_visitors_facility_daily"):
        cards = _cards_from_all_visitors(row, "cashless_share")
        if (row["service_date"], row["facility_id"]) in hidden and cards is not None:
            claims.append((f"facility-day {row['service_date']} {row['facility_id']} visitors", cards))
    return claims


def all_visitors_flow_cards(folder: Path) -> list[tuple[str, int]]:
    """A pair or route hidden in transitions_daily / routes_daily, from all_visitors_flows_daily."""
    hidden_pairs = {
        (r["service_date"], r["from_facility_id"], r["to_facility_id"])
        for r in read(folder, "transitions_daily")
        if r["source_kind"] == "entry_log" and _int(r["visitors"]) is None
    }
    hidden_routes = {
        (r["service_date"], r["route"])
        for r in read(folder, "routes_daily")
        if r["source_kind"] == "entry_log" and _int(r["visitors"]) is None
    }
    claims = []
    for row in read(folder, "all_visitors_flows_daily"):
        cards = _cards_from_all_visitors(row, "share_used")
        if cards is None:
            continue
        pair = (row["service_date"], row["from_facility_id"], row["to_facility_id"])
        if row["measure"] == "transition" and pair in hidden_pairs:
            claims.append((f"pair {row['service_date']} {row['from_facility_id']}>{row['to_facility_id']} visitors", cards))
        elif row["measure"] == "route" and (row["service_date"], row["route"]) in hidden_routes:
            claims.append((f"route {row['service_date']} {row['route']} visitors", cards))
    return claims


def spending_facility_days(folder: Path) -> list[tuple[str, int]]:
    """A facility-day hidden in facility_daily, from spending_by_period's day rows: its
    visitors or visitor-days, revenue / revenue per visitor-day, or (entries) the day's
    admissions of all facilities minus the other facilities' published entries."""
    hidden = _hidden_entry_log_days(folder)
    entries = {
        (r["service_date"], r["facility_id"]): _int(r["entries"])
        for r in read(folder, "facility_daily")
        if r["source_kind"] == "entry_log"
    }
    claims = []
    headline = [r for r in read(folder, "spending_by_period") if r["period_grain"] == "day" and r["segment_kind"] == "all"]
    for row in headline:
        key = (row["period_start"], row["facility_id"])
        if key not in hidden:
            continue
        revenue, per_day = _number(row["revenue_jpy"]), _number(row["revenue_per_visitor_day"])
        value = _int(row["visitors"])
        value = _int(row["visitor_days"]) if value is None else value
        if value is None and revenue is not None and per_day:
            value = round(revenue / per_day)
        if value is not None:
            claims.append((f"facility-day {key[0]} {key[1]} visitors", value))
    for row in headline:
        if row["facility_id"] != "all" or _int(row["admissions"]) is None:
            continue
        day = row["period_start"]
        unknown = [f for (d, f), value in entries.items() if d == day and value is None]
        if len(unknown) == 1:
            shown = sum(value for (d, _), value in entries.items() if d == day and value is not None)
            claims.append((f"facility-day {day} {unknown[0]} entries", _int(row["admissions"]) - shown))
    return claims


def spending_route_trips(folder: Path) -> list[tuple[str, int]]:
    """A route's trips hidden in routes_by_period, from spending_routes_by_period
    (published trips, or revenue / revenue per trip)."""
    hidden = {
        (r["period_grain"], r["period_start"], r["day_type"], r["route"])
        for r in read(folder, "routes_by_period")
        if r["source_kind"] == "entry_log" and r["segment_kind"] == "all" and r["route"] and _int(r["trips"]) is None
    }
    claims = []
    for row in read(folder, "spending_routes_by_period"):
        key = (row["period_grain"], row["period_start"], row["day_type"], row["route"])
        if row["breakdown"] != "route" or key not in hidden:
            continue
        trips = _int(row["trips"])
        revenue, per_trip = _number(row["revenue_jpy"]), _number(row["revenue_per_unit_jpy"])
        if trips is None and revenue is not None and per_trip:
            trips = round(revenue / per_trip)
        if trips is not None:
            claims.append((f"route {' '.join(key[:3])} {key[3]} trips", trips))
    return claims


def opportunity_moves(folder: Path) -> list[tuple[str, int]]:
    """A pair's period moves hidden in transitions_by_period, from opportunity_pairs."""
    hidden = {
        (r["period_grain"], r["period_start"], r["source_kind"], r["segment"], r["from_facility_id"], r["to_facility_id"])
        for r in read(folder, "transitions_by_period")
        if r["day_type"] == "all" and r["segment_kind"] in ("all", "residence") and _int(r["transitions"]) is None
    }
    claims = []
    for row in read(folder, "opportunity_pairs"):
        key = (
            row["period_grain"],
            row["period_start"],
            row["source_kind"],
            row["segment"],
            row["from_facility_id"],
            row["to_facility_id"],
        )
        if key in hidden and _int(row["observed_moves"]) is not None:
            claims.append((f"pair-period {' '.join(key)} transitions", _int(row["observed_moves"])))
    return claims


def derived_truth(truth: Path):  # type: ignore[no-untyped-def]
    """The true value of every label the derived-file attacks produce (files written with k = 1)."""
    values: dict[str, int | None] = {}
    for r in read(truth, "facility_daily"):
        if r["source_kind"] == "entry_log":
            for column in ("visitors", "entries"):
                values[f"facility-day {r['service_date']} {r['facility_id']} {column}"] = _int(r[column])
    for r in read(truth, "transitions_daily"):
        if r["source_kind"] == "entry_log":
            values[f"pair {r['service_date']} {r['from_facility_id']}>{r['to_facility_id']} visitors"] = _int(r["visitors"])
    for r in read(truth, "routes_daily"):
        if r["source_kind"] == "entry_log":
            values[f"route {r['service_date']} {r['route']} visitors"] = _int(r["visitors"])
    for r in read(truth, "routes_by_period"):
        if r["source_kind"] == "entry_log" and r["segment_kind"] == "all" and r["route"]:
            values[f"route {r['period_grain']} {r['period_start']} {r['day_type']} {r['route']} trips"] = _int(r["trips"])
    for r in read(truth, "transitions_by_period"):
        if r["day_type"] == "all":
            key = " ".join(
                (r["period_grain"], r["period_start"], r["source_kind"], r["segment"], r["from_facility_id"], r["to_facility_id"])
            )
            values[f"pair-period {key} transitions"] = _int(r["transitions"])
    return values.get


DERIVED_ATTACKS = {
    "all-visitor estimates (facility-days)": all_visitors_facility_cards,
    "all-visitor estimates (pairs, routes)": all_visitors_flow_cards,
    "admission revenue (facility-days)": spending_facility_days,
    "revenue per route (trips)": spending_route_trips,
    "opportunity pairs (period moves)": opportunity_moves,
}


def every_attack(published: Path, truth: Path, warehouse: Path, k: int) -> dict[str, list[str]]:
    """Every attack above, confirmed against the truth (``truth``: the files written with
    k = 1; ``warehouse``: the loaded answers); name → disclosures."""
    pairs = {
        (r["service_date"], r["source_kind"], r["from_facility_id"], r["to_facility_id"]): r
        for r in read(truth, "transitions_daily")
    }
    hours = {
        (r["service_date"], r["source_kind"], r["facility_id"], r["hour_of_day"]): r
        for r in read(truth, "facility_entries_hourly")
    }

    def pair_truth(label: str) -> int | None:
        _, key, day, column = _split(label)
        row = pairs.get((day, *key))
        return _int(row[column]) if row else 0

    def hour_truth(label: str) -> int | None:
        _, key, day, column = _split(label)
        row = hours.get((day, *key))
        return _int(row[column]) if row else 0

    truth_of = derived_truth(truth)

    def drivers_truth(label: str) -> int | None:
        _, _, _, dtype, value, segment, column = label.split(" ")
        return driver_truth(warehouse, dtype, value, segment, column)

    return {
        "week minus days (pairs)": confirmed(week_minus_days_pairs(published), "pairs", truth, pair_truth),
        "week minus days (facility-hours)": confirmed(week_minus_days_facility_hours(published), "hours", truth, hour_truth),
        "drivers all minus domestic": confirmed(drivers_all_minus_domestic(published), "drivers", truth, drivers_truth),
        "survey satisfied / not satisfied below k": small_published_answers(published, k),
    } | {name: confirmed(attack(published), name, truth, truth_of) for name, attack in DERIVED_ATTACKS.items()}


def _split(label: str) -> tuple[str, tuple[str, ...], str, str]:
    kind, rest = label.split(" ", 1)
    key_text, tail = rest.rsplit(")", 1)
    key = tuple(part.strip().strip("'") for part in key_text.lstrip("(").split(","))
    day, column = tail.split()
    return kind, key, day, column
