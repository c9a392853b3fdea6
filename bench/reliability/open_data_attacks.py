"""An outsider's subtraction attacks on the published open-data files (issue 12).

Each attack reads only what is published (``dashboards/exports/*.csv``) and returns the
values it claims to recover; :func:`confirmed` keeps the claims that equal the truth (the
same files written with k = 1), i.e. real disclosures. Used by the tests and by
``bench/reliability_report.py``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path


def read(folder: Path, name: str) -> list[dict[str, str]]:
    path = folder / f"{name}.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _int(text: str | None) -> int | None:
    return int(float(text)) if text not in (None, "") else None


def _days(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _period_minus_days(periods: list[dict], days: list[dict], period_key: tuple[str, ...],
                       day_key: tuple[str, ...], columns: tuple[str, ...], label: str) -> list[tuple[str, int]]:
    """A published period value minus its published days, when exactly one day is hidden.

    Days absent from a daily file hold nothing (the file keeps hidden rows, marked).
    Only days the daily file covers are used; a period with an uncovered day is skipped.
    """
    covered = {row["service_date"] for row in days}
    by_key: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for row in days:
        by_key[tuple(row[c] for c in day_key)][row["service_date"]] = row
    claims = []
    for period in periods:
        if period["period_grain"] == "day" or period["day_type"] != "all" or period.get("segment_kind", "all") != "all":
            continue
        span = _days(period["period_start"], period["period_end"])
        if not set(span) <= covered:
            continue
        key = tuple(period[c] for c in period_key)
        rows = by_key.get(key, {})
        for column in columns:
            total = _int(period[column])
            if total is None:
                continue
            hidden = [d for d in span if d in rows and _int(rows[d][column]) is None]
            if len(hidden) != 1:
                continue
            shown = sum(_int(rows[d][column]) or 0 for d in span if d in rows and d not in hidden)
            claims.append((f"{label} {key} {hidden[0]} {column}", total - shown))
    return claims


def week_minus_days_pairs(folder: Path) -> list[tuple[str, int]]:
    return _period_minus_days(read(folder, "transitions_by_period"), read(folder, "transitions_daily"),
                              ("source_kind", "from_facility_id", "to_facility_id"),
                              ("source_kind", "from_facility_id", "to_facility_id"),
                              ("transitions", "visitors"), "pair")


def week_minus_days_facility_hours(folder: Path) -> list[tuple[str, int]]:
    periods = [r for r in read(folder, "facility_visits_by_period") if r["hour_of_day"] != ""]
    return _period_minus_days(periods, read(folder, "facility_entries_hourly"),
                              ("source_kind", "facility_id", "hour_of_day"),
                              ("source_kind", "facility_id", "hour_of_day"),
                              ("entries", "visitors"), "facility-hour")


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
            claims.append((f"drivers {ptype} {period} {dtype} {value} international {column}",
                           _int(everyone[column]) - shown))
    return claims


_DRIVER_MATCH = {"facility_visited": "list_contains(facilities_visited, ?)",
                 "info_source": "list_contains(info_sources, ?)",
                 "form_language": "form_language = ?"}


def driver_truth(warehouse: Path, driver_type: str, value: str, segment: str, column: str) -> int:
    """International answers with a driver value, counted from the loaded answers (all of
    the demo's answers fall in one fiscal year)."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        respondents, satisfied = con.execute(
            f"select count(*), count(*) filter (where info_satisfaction >= 4) from staging.stg_survey_response "
            f"where info_satisfaction between 1 and 5 and segment = ? and {_DRIVER_MATCH[driver_type]}",
            [segment, value]).fetchone()
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


def every_attack(published: Path, truth: Path, warehouse: Path, k: int) -> dict[str, list[str]]:
    """Every attack above, confirmed against the truth (``truth``: the files written with
    k = 1; ``warehouse``: the loaded answers); name → disclosures."""
    pairs = {(r["service_date"], r["source_kind"], r["from_facility_id"], r["to_facility_id"]): r
             for r in read(truth, "transitions_daily")}
    hours = {(r["service_date"], r["source_kind"], r["facility_id"], r["hour_of_day"]): r
             for r in read(truth, "facility_entries_hourly")}

    def pair_truth(label: str) -> int | None:
        _, key, day, column = _split(label)
        row = pairs.get((day, *key))
        return _int(row[column]) if row else 0

    def hour_truth(label: str) -> int | None:
        _, key, day, column = _split(label)
        row = hours.get((day, *key))
        return _int(row[column]) if row else 0

    def drivers_truth(label: str) -> int | None:
        _, _, _, dtype, value, segment, column = label.split(" ")
        return driver_truth(warehouse, dtype, value, segment, column)

    return {
        "week minus days (pairs)": confirmed(week_minus_days_pairs(published), "pairs", truth, pair_truth),
        "week minus days (facility-hours)": confirmed(week_minus_days_facility_hours(published), "hours", truth,
                                                      hour_truth),
        "drivers all minus domestic": confirmed(drivers_all_minus_domestic(published), "drivers", truth,
                                                drivers_truth),
        "survey satisfied / not satisfied below k": small_published_answers(published, k),
    }


def _split(label: str) -> tuple[str, tuple[str, ...], str, str]:
    kind, rest = label.split(" ", 1)
    key_text, tail = rest.rsplit(")", 1)
    key = tuple(part.strip().strip("'") for part in key_text.lstrip("(").split(","))
    day, column = tail.split()
    return kind, key, day, column
