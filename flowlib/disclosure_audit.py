"""The disclosure audit: what an outsider can infer from the published open-data files.

The attacker holds every published CSV of a folder and knows how the numbers add up.
:func:`relations` turns the files into cells (one per published count: a value, or a
hidden cell whose row is marked suppressed) and the linear relations between them:

- hour within day (entries, visitors of a facility);
- day within ISO week, month and fiscal year, and weekday + weekend/holiday = all days
  (facility visits, facility hours, pairs, routes, circulation);
- each segment (residence, ticket type) within "all" (every period file);
- first / last facility of the day within all visitors (circulation);
- visitors = circulating + single-facility visitors; respondents = satisfied + not
  satisfied (survey, indicator, drivers);
- a pair within its origin's moves, whose total the next-facility probabilities reveal
  (to their 4 decimals); the people behind a pair within each facility's visitors;
- routes within their origin-destination cell (routes of 6 stops or more count in the cell
  only, so the routes add up to at most the cell);
- survey segments within "all" (answers without a residence country count in "all" only);
  driver values within their segment's respondents of the indicator; the indicator's
  months within their quarter and fiscal year;
- the derived files, each number on the visit-file cell it counts (:func:`_read_derived`):
  all-visitor card counts, bounded by share x reported admissions and estimate x share;
  revenue's visitors, admissions, visitor-days and paid admissions (revenue / revenue per
  unit to 1 decimal), over facilities, segments, day types and days; revenue by first
  facility and route; opportunity pairs' observed moves.

Counts of distinct people are not additive in theory (a visitor on two days of a week
counts once in the week) but are in practice for tourists, so the attacker treats them
as additive. Only when a part of the system is inconsistent under that assumption is it
relaxed there to what always holds (each part <= total <= sum of parts).

Every count is non-negative. For every hidden cell (and every cell the relations name but
no file publishes, e.g. the answers without a residence country), :func:`audit` solves
the smallest and largest value the cell can take (HiGHS: ``scipy.optimize.linprog`` and
``highspy``), one connected component of the relation graph at a time, after substituting
the published values. A cell is **exposed** when its interval is narrower than k, whatever
it holds: a withheld cell pinned at 388 tells the outsider 388, so withholding it protected
nothing and its row's other numbers may follow. Every published count of 1 to k-1 is exposed too. A
cell that no file shows (answers without a residence country, an empty segment) was never
withheld: it is exposed only where it may hold 1 to k-1 people. A component with no
published number in its relations is skipped (every cell in it is unbounded).

:func:`complements` turns exposed cells into rows to withhold, chosen by linear programs
too; ``flowlib.privacy.settle`` withholds them in the build until the audit passes.

Hand-written here: the mapping of the project's files to cells and relations (no library
knows our files); the solving is HiGHS.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import logging
import math
import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: the published next-facility probability is rounded to 4 decimals
PROBABILITY_HALF_STEP = 0.00005
#: driver types with one value per respondent (the others are multi-select)
SINGLE_CHOICE_DRIVERS = frozenset({"form_language"})
#: rounds of spreading programs over the open cells of a bundle before solving cell by cell
SEED_PROGRAMS = 12
#: components are solved in bundles of about this many cells: a simplex program's time grows
#: faster than its size (70 demo days: one random program over 298k cells took 17.5 s, the
#: same cells as 16 bundles 4.8 s), each bundle stops its rounds when it is done, and the
#: worker processes share many bundles more evenly than a few (the new components of the
#: night of a new day, 567 in 22,806 cells: 7.5 s in bundles of 20,000 cells, the larger
#: 6.7 s alone for one worker; 5.35 s in bundles of 2,000, the largest 0.6 s; smaller
#: bundles cost more programs, 1,000: 5.85 s; docs/privacy.md)
BUNDLE_CELLS = 2_000
#: the box of the programs: a cell that reaches it is taken as unbounded
UNBOUNDED = 1e9
#: published numbers that are not counts
NOT_COUNTS = frozenset({"next_probability"})
#: numerical slack of the solver when comparing an interval with k
TOLERANCE = 1e-6

Cell = tuple  # (family, measure, key...)


@contextmanager
def paused_cycle_collection() -> Iterator[None]:
    """Python's cyclic garbage collector held off while the audit builds its cells (a
    context manager, or a decorator), then as it was.

    The audit and its complements create hundreds of thousands of small tuples and
    dataclasses that live until they return and form no reference cycles (reference
    counting frees them). Each time the long-lived objects grow by a quarter, CPython's
    collector traverses every tracked object of the process, and a night's process holds
    many (Great Expectations, pandas and the forecast's libraries are loaded): in the night
    of a new day 15 full collections of 0.24-0.47 s each ran inside the settlement, 4.5 s of
    the night's 6.2 s of collection (docs/privacy.md). Nested uses keep the outer state."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class Relation:
    """``total`` = sum(``parts``) (``kind`` "exact" or "distinct"), or sum(parts) <= total
    (``kind`` "at_most"); ``total`` None with ``lower``/``upper`` coefficients: a ratio
    bound ``coefficient * total_cell`` on a published constant (next-facility probability)."""

    total: Cell
    parts: tuple[Cell, ...]
    kind: str
    #: for kind "ratio": constant c with lower * total <= c <= upper * total
    constant: float = 0.0
    lower: float = 0.0
    upper: float = 0.0
    #: for kind "ratio": the cell whose published row gives the constant and the coefficients
    #: (None: ``total``); withholding that row removes the relation
    source: Cell | None = None


@dataclass
class Published:
    """What the files say: a value per published cell, None per hidden one."""

    values: dict[Cell, float | None] = field(default_factory=dict)
    #: where each cell was read: "file.csv line n column"
    origin: dict[Cell, str] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)

    def put(self, cell: Cell, text: str | None, where: str) -> None:
        value = _number(text)
        if cell in self.values and self.values[cell] is not None and value is None:
            return  # published elsewhere (e.g. a day in two files): the published value wins
        self.values[cell] = value
        self.origin.setdefault(cell, where)


@dataclass(frozen=True)
class Exposure:
    cell: Cell
    where: str
    low: float
    high: float

    def describe(self) -> str:
        family, measure, *key = self.cell
        shown = "latent (in no file)" if not self.where else self.where
        high = "inf" if math.isinf(self.high) else f"{self.high:g}"
        return f"{family}.{measure} {tuple(key)} [{shown}] lies in [{self.low:g}, {high}]"


@dataclass
class AuditReport:
    k: int
    cells: int = 0
    hidden: int = 0
    latent: int = 0
    exposed: list[Exposure] = field(default_factory=list)
    components: int = 0
    solved: int = 0
    relaxed_components: int = 0
    #: the hidden cells of the relaxed components (their distinct counts are not exact sums)
    relaxed_cells: set = field(default_factory=set)
    #: cells in no file, not shown wide but shown to hold k or more (or 0) in every solution
    narrowed_large: int = 0
    #: cells that needed programs of their own (the others were shown wide together)
    cell_programs: int = 0
    inconsistent_components: int = 0
    #: the cells of the inconsistent components (set where they are solved)
    inconsistent_cells: set = field(default_factory=set)
    #: components whose verdict an earlier audit found for the same program (BlockMemory)
    components_remembered: int = 0
    seconds: float = 0.0
    people_cells: int = 0
    people_hidden_cells: int = 0
    #: the verdict of an earlier audit of the same files (flowlib.audit_verdicts), not solved again
    reused: bool = False
    #: what the audit read from the files (None for a verdict reused): the settlement chooses
    #: its complements from it rather than reading the files a second time
    published: Published | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.exposed and self.inconsistent_components == 0

    def summary(self) -> str:
        lines = [
            f"published cells: {self.cells:,}; hidden: {self.hidden:,} "
            f"({self.hidden / max(self.cells, 1):.1%}); cells in no file but implied: {self.latent:,}",
            f"people counts: {self.people_cells:,} cells, {self.people_hidden_cells:,} hidden "
            f"({self.people_hidden_cells / max(self.people_cells, 1):.1%})",
            f"relation components solved: {self.solved:,} of {self.components:,} "
            f"({self.relaxed_components} relaxed to distinct-count bounds, "
            f"{self.inconsistent_components} inconsistent; {self.cell_programs:,} cells solved one by one; "
            f"{self.components_remembered:,} components' programs solved before, not again); "
            + (
                f"passed before on the same files, not solved again ({self.seconds:.1f} s)"
                if self.reused
                else f"{self.seconds:.1f} s"
            ),
            f"cells in no file narrowed at k or more (never withheld, not a disclosure): {self.narrowed_large:,}",
            f"exposed cells (withheld but narrower than k = {self.k}, or published below k): {len(self.exposed):,}",
        ]
        lines += [f"  EXPOSED {item.describe()}" for item in self.exposed[:50]]
        if len(self.exposed) > 50:
            lines.append(f"  ... and {len(self.exposed) - 50:,} more")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- reading


def _number(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    return float(text)


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    if name not in AUDITED_FILES:
        raise ValueError(f"the audit reads {name}.csv: add it to AUDITED_FILES, or its verdicts would ignore it")
    path = folder / f"{name}.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def _span(start: str, end: str) -> tuple[str, ...]:
    """The days start..end as ISO texts (asked for the same few periods for every cell)."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return tuple((first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1))


#: measures of each family: (name, how it adds up: exact counts or distinct people)
FAMILIES = {
    "facility_visits": (("entries", "exact"), ("visitors", "distinct")),
    "transitions": (("transitions", "exact"), ("visitors", "distinct")),
    "routes": (("trips", "exact"), ("visitors", "distinct")),
    "circulation": (("visitors", "distinct"), ("multi_facility_visitors", "distinct"), ("single_facility_visitors", "distinct")),
    "dwell": (("visitors", "distinct"),),
}
#: the count of people in each family (the information-loss figures count these)
PEOPLE = {
    "facility_visits": "visitors",
    "transitions": "visitors",
    "routes": "visitors",
    "circulation": "visitors",
    "dwell": "visitors",
    "survey": "respondents",
    "indicator": "respondents",
    "drivers": "respondents",
}
#: key columns of the period files after period_grain, period_start, source_kind, day_type,
#: segment_kind, segment
PERIOD_KEYS = {
    "facility_visits": ("facility_id", "hour_of_day"),
    "transitions": ("from_facility_id", "to_facility_id"),
    "routes": ("origin_facility_id", "destination_facility_id", "route"),
    "circulation": ("facility_role", "facility_id"),
    "dwell": ("facility_id", "dwell_method"),
}
PERIOD_FILES = {
    "facility_visits": "facility_visits_by_period",
    "transitions": "transitions_by_period",
    "routes": "routes_by_period",
    "circulation": "circulation_by_period",
    "dwell": "dwell_by_period",
}

#: every file the audit reads (``_rows`` opens no other): a verdict is a function of these
#: files' bytes alone (flowlib.audit_verdicts digests them), so a file published beside them
#: that the audit does not read (the crowding forecast, the measures' effects: model output,
#: not counts of people) does not make the same counts another audit
AUDITED_FILES = frozenset(
    {
        *PERIOD_FILES.values(),
        "facility_daily",
        "facility_entries_hourly",
        "transitions_daily",
        "routes_daily",
        "circulation_daily",
        "survey_satisfaction_daily",
        "info_satisfaction_indicator",
        "info_satisfaction_drivers",
        "all_visitors_facility_daily",
        "all_visitors_flows_daily",
        "spending_by_period",
        "spending_routes_by_period",
        "opportunity_pairs",
    }
)


class _Keys(dict):
    """A set of keys that iterates in the order they were added (the files' line order), not
    in the order of their hashes. The relations are built by iterating over such sets and the
    complements' programs take their columns in the relations' order; many rows cost the same,
    so with the keys in a set, whose order follows the process's hash seed, another process
    chose other rows to withhold from the same files (a rerun of a night published other
    bytes). ``add`` is ``dict.setdefault``: a key already there keeps its place."""

    add = dict.setdefault


@dataclass
class _Family:
    """The cells of one family, by key, and which slices the files cover."""

    name: str
    keys: _Keys = field(default_factory=_Keys)
    #: (grain, start, source_kind) → covered slices ("all", "residence", "ticket_type", "hours", "routes")
    covered: dict[tuple[str, str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    periods: dict[tuple[str, str], str] = field(default_factory=dict)  # (grain, start) → end


def _read_periods(folder: Path, pub: Published, families: dict[str, _Family]) -> None:
    for family, file_name in PERIOD_FILES.items():
        fam = families[family]
        for line, row in enumerate(_rows(folder, file_name), start=2):
            if row["period_grain"] == "day":
                continue
            extra = tuple(row[c] for c in PERIOD_KEYS[family])
            key = (
                row["period_grain"],
                row["period_start"],
                row["source_kind"],
                row["day_type"],
                row["segment_kind"],
                row["segment"],
                *extra,
            )
            fam.keys.add(key)
            fam.periods[(row["period_grain"], row["period_start"])] = row["period_end"]
            fam.covered[(row["period_grain"], row["period_start"], row["source_kind"])] |= {
                "all",
                "residence",
                "ticket_type",
                "hours",
                "routes",
                "roles",
            }
            for measure, _ in FAMILIES[family]:
                if measure in row:
                    pub.put((family, measure, *key), row[measure], f"{file_name}.csv line {line} {measure}")


def _day_key(family: str, day: str, source: str, segment_kind: str, segment: str, *extra: str) -> tuple:
    return ("day", day, source, "all", segment_kind, segment, *extra)


def _read_days(folder: Path, pub: Published, families: dict[str, _Family], day_types: dict[str, str]) -> None:
    fv, tr, rt, ci = (families[n] for n in ("facility_visits", "transitions", "routes", "circulation"))
    for line, row in enumerate(_rows(folder, "facility_daily"), start=2):
        day, source = row["service_date"], row["source_kind"]
        day_types.setdefault(day, row.get("day_type", ""))
        fv.covered[("day", day, source)].add("all")
        key = _day_key("facility_visits", day, source, "all", "all", row["facility_id"], "")
        fv.keys.add(key)
        for measure in ("entries", "visitors"):
            pub.put(("facility_visits", measure, *key), row[measure], f"facility_daily.csv line {line} {measure}")
        if source == "entry_log":
            fv.covered[("day", day, source)].add("residence")
            for segment in ("domestic", "international", "unknown"):
                key = _day_key("facility_visits", day, source, "residence", segment, row["facility_id"], "")
                fv.keys.add(key)
                pub.put(
                    ("facility_visits", "visitors", *key),
                    row[f"{segment}_visitors"],
                    f"facility_daily.csv line {line} {segment}_visitors",
                )
    for line, row in enumerate(_rows(folder, "facility_entries_hourly"), start=2):
        day, source = row["service_date"], row["source_kind"]
        fv.covered[("day", day, source)].add("hours")
        key = _day_key("facility_visits", day, source, "all", "all", row["facility_id"], row["hour_of_day"])
        fv.keys.add(key)
        for measure in ("entries", "visitors"):
            pub.put(("facility_visits", measure, *key), row[measure], f"facility_entries_hourly.csv line {line} {measure}")
    for line, row in enumerate(_rows(folder, "transitions_daily"), start=2):
        day, source = row["service_date"], row["source_kind"]
        day_types.setdefault(day, row.get("day_type", ""))
        tr.covered[("day", day, source)].add("all")
        key = _day_key("transitions", day, source, "all", "all", row["from_facility_id"], row["to_facility_id"])
        tr.keys.add(key)
        for measure in ("transitions", "visitors"):
            pub.put(("transitions", measure, *key), row[measure], f"transitions_daily.csv line {line} {measure}")
        pub.put(
            ("transitions", "next_probability", *key),
            row["next_probability"],
            f"transitions_daily.csv line {line} next_probability",
        )
    for line, row in enumerate(_rows(folder, "routes_daily"), start=2):
        day, source = row["service_date"], row["source_kind"]
        rt.covered[("day", day, source)].add("routes")
        stops = row["route"].split(" > ")
        key = _day_key("routes", day, source, "all", "all", stops[0], stops[-1], row["route"])
        rt.keys.add(key)
        pub.put(("routes", "visitors", *key), row["visitors"], f"routes_daily.csv line {line} visitors")
    for line, row in enumerate(_rows(folder, "circulation_daily"), start=2):
        day, source = row["service_date"], row["source_kind"]
        day_types.setdefault(day, row.get("day_type", ""))
        kind = "all" if row["segment"] == "all" else "residence"
        ci.covered[("day", day, source)].add(kind)
        key = _day_key("circulation", day, source, kind, row["segment"], "all", "")
        ci.keys.add(key)
        for measure in ("visitors", "multi_facility_visitors"):
            pub.put(("circulation", measure, *key), row[measure], f"circulation_daily.csv line {line} {measure}")


def _period_relations(pub: Published, fam: _Family, day_types: dict[str, str]) -> None:
    family = fam.name
    measures = FAMILIES[family]
    by_group: dict[tuple, list[tuple]] = defaultdict(list)
    for key in fam.keys:
        by_group[key[:4] + key[6:]].append(key)
    known_days = {key[1] for key in fam.keys if key[0] == "day"}
    for key in list(fam.keys):
        grain, start, source, day_type, segment_kind, segment, *extra = key
        # segments within all: the total row and every part of the covered slice
        if segment_kind == "all" and not (family == "facility_visits" and extra[-1] != ""):
            for kind in ("residence", "ticket_type"):
                if kind not in fam.covered.get((grain, start, source), ()):
                    continue
                parts = tuple(k for k in by_group[(grain, start, source, day_type, *extra)] if k[4] == kind)
                if not parts:
                    continue  # sensors, and first / last facilities, have no segments
                for measure, how in measures:
                    pub.relations.append(Relation((family, measure, *key), tuple((family, measure, *p) for p in parts), how))
        # weekday + weekend/holiday = all, in a period
        if grain != "day" and day_type == "all":
            # (the period file covers both day types: an absent row holds nobody)
            parts = tuple(
                k
                for k in ((grain, start, source, t, segment_kind, segment, *extra) for t in ("weekday", "weekend_holiday"))
                if k in fam.keys
            )
            for measure, how in measures:
                pub.relations.append(Relation((family, measure, *key), tuple((family, measure, *p) for p in parts), how))
        # days within the period, where the daily files cover the slice
        if grain != "day":
            end = fam.periods[(grain, start)]
            span = [d for d in _span(start, end) if day_type == "all" or day_types.get(d) == day_type]
            slice_name = _slice(family, segment_kind, extra)
            if slice_name is None or day_type != "all" and any(d not in day_types for d in _span(start, end)):
                continue
            if not any(slice_name in fam.covered.get(("day", d, source), ()) for d in span):
                continue
            parts = []
            for d in span:
                day_key = ("day", d, source, "all", segment_kind, segment, *extra)
                if slice_name in fam.covered.get(("day", d, source), ()) or d not in known_days:
                    # covered days: absent = nothing; days no file covers are latent cells
                    if day_key in fam.keys or d not in known_days:
                        parts.append(day_key)
                else:
                    parts.append(day_key)
            for measure, how in measures:
                if family == "routes" and measure == "trips":
                    continue  # routes_daily publishes visitors only
                if family == "circulation" and measure == "single_facility_visitors":
                    continue  # derived below from visitors and multi
                pub.relations.append(Relation((family, measure, *key), tuple((family, measure, *p) for p in parts), how))


def _slice(family: str, segment_kind: str, extra: list[str]) -> str | None:
    """Which covered slice of the daily files holds the day cells of a period cell."""
    if family == "facility_visits":
        return "hours" if extra[-1] != "" else segment_kind
    if family == "transitions":
        return "all" if segment_kind == "all" else None
    if family == "routes":
        return "routes" if segment_kind == "all" and extra[-1] != "" else None
    if family == "circulation":
        return segment_kind if extra[0] == "all" and segment_kind in ("all", "residence") else None
    return None


def _family_relations(pub: Published, families: dict[str, _Family]) -> None:
    fv, tr, rt, ci = (families[n] for n in ("facility_visits", "transitions", "routes", "circulation"))
    # hours within the whole day (facility visits, every grain)
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for key in fv.keys:
        if key[-1] != "":
            groups[key[:-1]].append(key)
    for base, hours in groups.items():
        total = (*base, "")
        for measure, how in FAMILIES["facility_visits"]:
            pub.relations.append(
                Relation(("facility_visits", measure, *total), tuple(("facility_visits", measure, *h) for h in hours), how)
            )
    # pairs: origin totals revealed by the probabilities; people within facility visitors
    origins: dict[tuple, list[tuple]] = defaultdict(list)
    for key in tr.keys:
        origins[key[:-1]].append(key)
    for origin, pairs in origins.items():
        total = ("transitions", "origin_total", *origin)
        pub.relations.append(Relation(total, tuple(("transitions", "transitions", *p) for p in pairs), "exact"))
        for pair in pairs:
            moves = pub.values.get(("transitions", "transitions", *pair))
            probability = pub.values.get(("transitions", "next_probability", *pair))
            if moves is not None and probability:
                pub.relations.append(
                    Relation(
                        total,
                        (),
                        "ratio",
                        constant=moves,
                        lower=max(probability - PROBABILITY_HALF_STEP, 0.0),
                        upper=probability + PROBABILITY_HALF_STEP,
                        source=("transitions", "transitions", *pair),
                    )
                )
            for facility in pair[-2:]:
                visits = ("facility_visits", "visitors", *pair[:-2], facility, "")
                if visits in pub.values:
                    pub.relations.append(Relation(visits, (("transitions", "visitors", *pair),), "at_most"))
    # routes within their origin-destination cell
    cells: dict[tuple, list[tuple]] = defaultdict(list)
    for key in rt.keys:
        if key[-1] != "":
            cells[key[:-1]].append(key)
    for od, routes in cells.items():
        if (*od, "") not in rt.keys:
            continue
        for measure, _ in FAMILIES["routes"]:
            pub.relations.append(
                Relation(("routes", measure, *od, ""), tuple(("routes", measure, *r) for r in routes), "at_most")
            )
    # circulation: visitors = multi + single; first / last facility within all
    roles: dict[tuple, list[tuple]] = defaultdict(list)
    for key in ci.keys:
        if key[6] == "all":
            pub.relations.append(
                Relation(
                    ("circulation", "visitors", *key),
                    (("circulation", "multi_facility_visitors", *key), ("circulation", "single_facility_visitors", *key)),
                    "exact",
                )
            )
        else:
            roles[(*key[:6], key[6])].append(key)
    for (*base, _role), keys in roles.items():
        total = ("circulation", "visitors", *base, "all", "")
        if total[2:] in ci.keys:
            pub.relations.append(Relation(total, tuple(("circulation", "visitors", *k) for k in keys), "distinct"))


def _read_survey(folder: Path, pub: Published) -> None:
    """Daily answers, the indicator and its drivers: satisfied within respondents,
    segments within all, months within quarters and years, driver values within segments."""
    days: dict[str, set[str]] = defaultdict(set)
    for line, row in enumerate(_rows(folder, "survey_satisfaction_daily"), start=2):
        key = (row["service_date"], row["segment"])
        days[row["service_date"]].add(row["segment"])
        for measure in ("respondents", "satisfied"):
            pub.put(("survey", measure, *key), row[measure], f"survey_satisfaction_daily.csv line {line} {measure}")
    for day, segments in days.items():
        for segment in sorted(segments | {"unknown"}):  # sorted: a set's order follows the hash seed
            cell = ("survey", "respondents", day, segment)
            pub.relations.append(
                Relation(cell, (("survey", "satisfied", day, segment), ("survey", "not_satisfied", day, segment)), "exact")
            )
        for measure in ("respondents", "satisfied", "not_satisfied"):
            pub.relations.append(
                Relation(
                    ("survey", measure, day, "all"),
                    tuple(("survey", measure, day, s) for s in ("domestic", "international", "unknown")),
                    "exact",
                )
            )
    periods: dict[tuple[str, str], tuple[str, str]] = {}
    labels: dict[tuple[str, str], tuple[str, str]] = {}
    for line, row in enumerate(_rows(folder, "info_satisfaction_indicator"), start=2):
        key = (row["period_type"], row["period_start"], row["segment"])
        periods[(row["period_type"], row["period_start"])] = (row["period_start"], row["period_end"])
        labels[(row["period_type"], row["period"])] = (row["period_type"], row["period_start"])
        for measure in ("respondents", "satisfied"):
            pub.put(("indicator", measure, *key), row[measure], f"info_satisfaction_indicator.csv line {line} {measure}")
    for (ptype, start), (first, last) in periods.items():
        for segment in ("domestic", "international", "unknown", "all"):
            cell = ("indicator", "respondents", ptype, start, segment)
            pub.relations.append(
                Relation(
                    cell,
                    (("indicator", "satisfied", ptype, start, segment), ("indicator", "not_satisfied", ptype, start, segment)),
                    "exact",
                )
            )
        for measure in ("respondents", "satisfied", "not_satisfied"):
            pub.relations.append(
                Relation(
                    ("indicator", measure, ptype, start, "all"),
                    tuple(("indicator", measure, ptype, start, s) for s in ("domestic", "international", "unknown")),
                    "exact",
                )
            )
            if ptype == "month":
                continue
            months = [s for (t, s), (a, b) in periods.items() if t == "month" and first <= a and b <= last]
            whole = {m.isoformat()[:7] for m in (date.fromisoformat(d) for d in _span(first, last))}
            if {m[:7] for m in months} != whole:
                continue  # a month without answers has no row: cannot tell it is empty
            for segment in ("domestic", "international", "unknown", "all"):
                pub.relations.append(
                    Relation(
                        ("indicator", measure, ptype, start, segment),
                        tuple(("indicator", measure, "month", m, segment) for m in months),
                        "exact",
                    )
                )
    drivers: dict[tuple, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for line, row in enumerate(_rows(folder, "info_satisfaction_drivers"), start=2):
        period = labels.get((row["period_type"], row["period"]), (row["period_type"], row["period"]))
        key = (*period, row["driver_type"], row["driver_value"], row["segment"])
        drivers[(*period, row["driver_type"])][row["segment"]].add(row["driver_value"])
        for measure in ("respondents", "satisfied"):
            pub.put(("drivers", measure, *key), row[measure], f"info_satisfaction_drivers.csv line {line} {measure}")
    for (ptype, start, driver_type), by_segment in drivers.items():
        values = sorted(set().union(*by_segment.values()) - {"other"})  # as the segments above
        for value in [*values, "other"]:
            for segment in ("domestic", "international", "unknown", "all"):
                cell = ("drivers", "respondents", ptype, start, driver_type, value, segment)
                pub.relations.append(
                    Relation(cell, (("drivers", "satisfied", *cell[2:]), ("drivers", "not_satisfied", *cell[2:])), "exact")
                )
                for measure in ("respondents", "satisfied", "not_satisfied"):
                    # a driver value's people are people of the segment
                    pub.relations.append(
                        Relation(
                            ("indicator", measure, ptype, start, segment),
                            (("drivers", measure, ptype, start, driver_type, value, segment),),
                            "at_most",
                        )
                    )
        for value in values:
            for measure in ("respondents", "satisfied", "not_satisfied"):
                pub.relations.append(
                    Relation(
                        ("drivers", measure, ptype, start, driver_type, value, "all"),
                        tuple(
                            ("drivers", measure, ptype, start, driver_type, value, s)
                            for s in ("domestic", "international", "unknown")
                        ),
                        "exact",
                    )
                )
        for segment, shown in by_segment.items():
            # values pooled into "other" in this segment add up to at most its "other"
            # (one answer per respondent for the form language; several for the others,
            # so there each pooled value alone is at most "other")
            pooled = tuple(v for v in values if v not in shown)
            if pooled and "other" in shown:
                groups = [pooled] if driver_type in SINGLE_CHOICE_DRIVERS else [(v,) for v in pooled]
                for group in groups:
                    for measure in ("respondents", "satisfied", "not_satisfied"):
                        pub.relations.append(
                            Relation(
                                ("drivers", measure, ptype, start, driver_type, "other", segment),
                                tuple(("drivers", measure, ptype, start, driver_type, v, segment) for v in group),
                                "at_most",
                            )
                        )


# ----------------------------------------------------------------------------- derived files

#: half the last published decimal of the derived numbers an attacker divides back
SHARE_HALF_STEP = 0.00005  # cashless_share, share_used: 4 decimals
YEN_HALF_STEP = 0.05  # revenue per visitor-day, per paid admission, per trip: 1 decimal
ESTIMATE_HALF_STEP = 0.5  # an all-visitor estimate is a whole number of people
ENTRY_LOG = "entry_log"  # the files below count card payers (entry_log) only


def _quotient(cell: Cell, numerator: float, quotient: float, half_step: float) -> Relation:
    """``quotient`` = numerator / cell rounded to ``half_step``: a ratio bound on the cell."""
    return Relation(cell, (), "ratio", constant=numerator, lower=max(quotient - half_step, 0.0), upper=quotient + half_step)


def _between(cell: Cell, low: float, high: float) -> Relation:
    """low <= cell <= high (high > 0), as a ratio bound: cell / high <= 1 <= cell / low."""
    return Relation(cell, (), "ratio", constant=1.0, lower=1.0 / high, upper=1.0 / low if low > 0 else math.inf)


def _card_bounds(pub: Published, cards: Cell, row: dict[str, str], share_column: str, reported: str | None) -> None:
    """What the all-visitor files say about a card count besides publishing it:
    card count = share x reported admissions (a day with its own report), and
    estimate = card count / share (an estimated day or flow)."""
    share = _number(row.get(share_column))
    if not share:
        return
    low_share, high_share = share - SHARE_HALF_STEP, share + SHARE_HALF_STEP
    admissions = _number(row.get(reported)) if reported else None
    if admissions and row.get("share_basis") == "same_day":
        pub.relations.append(_between(cards, low_share * admissions, high_share * admissions))
    estimate = _number(row.get("all_visitors_estimate"))
    if estimate is not None and row.get("is_estimate") == "TRUE":
        high = (estimate + ESTIMATE_HALF_STEP) * high_share
        if high > 0:
            pub.relations.append(_between(cards, (estimate - ESTIMATE_HALF_STEP) * low_share, high))


def _read_all_visitors(folder: Path, pub: Published, families: dict[str, _Family]) -> None:
    """The estimates for all visitors divide published card counts: each card count is the
    same cell as the daily file's (facility visitors, pair visitors, route visitors,
    circulation visitors), and the share and estimate bound it."""
    fv, tr, rt, ci = (families[n] for n in ("facility_visits", "transitions", "routes", "circulation"))
    for line, row in enumerate(_rows(folder, "all_visitors_facility_daily"), start=2):
        key = ("day", row["service_date"], ENTRY_LOG, "all", "all", "all", row["facility_id"], "")
        fv.keys.add(key)
        cards = ("facility_visits", "visitors", *key)
        pub.put(cards, row["cashless_visitors"], f"all_visitors_facility_daily.csv line {line} cashless_visitors")
        _card_bounds(pub, cards, row, "cashless_share", "reported_admissions")
    for line, row in enumerate(_rows(folder, "all_visitors_flows_daily"), start=2):
        day, measure = row["service_date"], row["measure"]
        if measure == "transition":
            key = ("day", day, ENTRY_LOG, "all", "all", "all", row["from_facility_id"], row["to_facility_id"])
            fam, cards = tr, ("transitions", "visitors", *key)
        elif measure == "route":
            stops = row["route"].split(" > ")
            key = ("day", day, ENTRY_LOG, "all", "all", "all", stops[0], stops[-1], row["route"])
            fam, cards = rt, ("routes", "visitors", *key)
        elif measure in ("circulation_visitors", "multi_facility_visitors"):
            key = ("day", day, ENTRY_LOG, "all", "all", "all", "all", "")
            fam = ci
            cards = ("circulation", "visitors" if measure == "circulation_visitors" else measure, *key)
        else:
            continue
        fam.keys.add(key)
        pub.put(cards, row["cashless_visitors"], f"all_visitors_flows_daily.csv line {line} cashless_visitors")
        _card_bounds(pub, cards, row, "share_used", None)


def _read_spending(folder: Path, pub: Published, families: dict[str, _Family], day_types: dict[str, str]) -> None:
    """Admission revenue per facility and segment counts the same cards as the visit files:
    visitors and admissions of a facility are its facility-visits cell (visitors and
    entries), the visitors of every facility ('all') its circulation cell. Its own counts
    (visitor-days, paid admissions, admissions of 'all') add up over facilities, segments,
    days and day types; on a day a card is one visitor-day; revenue / revenue per
    visitor-day (per paid admission) gives the visitor-days (paid admissions) back."""
    fv, ci = families["facility_visits"], families["circulation"]
    own = _Keys()  # in line order, as the families' keys
    ends: dict[tuple[str, str], str] = {}
    for line, row in enumerate(_rows(folder, "spending_by_period"), start=2):
        grain, start, day_type = row["period_grain"], row["period_start"], row["day_type"]
        segment_kind, segment, facility = row["segment_kind"], row["segment"], row["facility_id"]
        where = f"spending_by_period.csv line {line}"
        ends[(grain, start)] = row["period_end"]
        spending_key = (grain, start, day_type, segment_kind, segment, facility)
        own.add(spending_key)
        people, volume = _spending_twins(spending_key)
        fam = fv if facility != "all" else ci
        fam.keys.add(people[2:])
        if grain == "day":
            fam.covered[("day", start, ENTRY_LOG)].add(segment_kind)
        else:
            fam.periods.setdefault((grain, start), row["period_end"])
        pub.put(people, row["visitors"], f"{where} visitors")
        pub.put(volume, row["admissions"], f"{where} admissions")
        for measure in ("visitor_days", "paid_admissions"):
            pub.put(("spending", measure, *spending_key), row[measure], f"{where} {measure}")
        revenue = _number(row["revenue_jpy"])
        for measure, per in (("visitor_days", "revenue_per_visitor_day"), ("paid_admissions", "revenue_per_paid_admission")):
            quotient = _number(row[per])
            if revenue is not None and quotient:
                pub.relations.append(_quotient(("spending", measure, *spending_key), revenue, quotient, YEN_HALF_STEP))
    _spending_relations(pub, own, ends, day_types)


def _spending_twins(spending_key: tuple) -> tuple[Cell, Cell]:
    """The visitors and admissions cells of a spending_by_period row."""
    grain, start, day_type, segment_kind, segment, facility = spending_key
    if facility != "all":
        key = (grain, start, ENTRY_LOG, day_type, segment_kind, segment, facility, "")
        return ("facility_visits", "visitors", *key), ("facility_visits", "entries", *key)
    key = (grain, start, ENTRY_LOG, day_type, segment_kind, segment, "all", "")
    return ("circulation", "visitors", *key), ("spending", "admissions", *spending_key)


def _spending_relations(pub: Published, own: _Keys, ends: dict[tuple[str, str], str], day_types: dict[str, str]) -> None:
    def cells(measure: str, keys: Iterable[tuple]) -> tuple[Cell, ...]:
        return tuple(_spending_twins(k)[1] if measure == "admissions" else ("spending", measure, *k) for k in keys)

    spending_days = {key[1] for key in own if key[0] == "day"}
    facility_segment_days = any(k[0] == "day" and k[3] != "all" and k[5] != "all" for k in own)
    by_facility_group: dict[tuple, list[tuple]] = defaultdict(list)
    by_segment_group: dict[tuple, list[tuple]] = defaultdict(list)
    for key in own:
        by_facility_group[key[:5]].append(key)
        by_segment_group[(*key[:3], key[5])].append(key)
    for key in own:
        grain, start, day_type, segment_kind, segment, facility = key
        people, volume = _spending_twins(key)
        pub.relations.append(Relation(volume, cells("paid_admissions", [key]), "at_most"))
        if grain == "day":  # a card on one day is one visitor-day
            pub.relations.append(Relation(("spending", "visitor_days", *key), (people,), "exact"))
        if facility == "all":
            # admissions and paid admissions of every facility add up to 'all'; no facility
            # has more visitor-days than all facilities together
            # (a segment of a day has no facility rows: the day's facility x segment table is
            # not published, so its 'all' row has no parts here)
            parts = [k for k in by_facility_group[key[:5]] if k[5] != "all"]
            for measure in ("admissions", "paid_admissions") if parts else ():
                pub.relations.append(Relation(cells(measure, [key])[0], cells(measure, parts), "exact"))
            for part in parts:
                pub.relations.append(Relation(("spending", "visitor_days", *key), cells("visitor_days", [part]), "at_most"))
        measures = ("visitor_days", "paid_admissions") + (("admissions",) if facility == "all" else ())
        if segment_kind == "all":
            for kind in ("residence", "ticket_type"):
                parts = [k for k in by_segment_group[(grain, start, day_type, facility)] if k[3] == kind]
                if parts:
                    for measure in measures:
                        pub.relations.append(Relation(cells(measure, [key])[0], cells(measure, parts), "exact"))
        if grain == "day":
            continue
        if day_type == "all":
            parts = [
                k
                for k in ((grain, start, t, segment_kind, segment, facility) for t in ("weekday", "weekend_holiday"))
                if k in own
            ]
            for measure in measures:
                pub.relations.append(Relation(cells(measure, [key])[0], cells(measure, parts), "exact"))
        span = _span(start, ends[(grain, start)])
        if not set(span) <= spending_days or day_type != "all" and any(d not in day_types for d in span):
            continue  # a day the file does not hold may hold anyone
        if facility != "all" and segment_kind != "all" and not facility_segment_days:
            continue  # the days' facility x segment table is not published
        days = [
            k
            for k in (
                ("day", d, "all", segment_kind, segment, facility) for d in span if day_type == "all" or day_types[d] == day_type
            )
            if k in own
        ]
        for measure in measures:
            pub.relations.append(Relation(cells(measure, [key])[0], cells(measure, days), "exact"))


def _read_spending_routes(folder: Path, pub: Published, families: dict[str, _Family]) -> None:
    """Revenue by first facility and by route counts the cards of circulation (first
    facility of the day, all visitors) and of the routes; on a day the visitor-days are the
    visitors, and revenue / revenue per unit gives the units (visitor-days, trips) back."""
    rt, ci = families["routes"], families["circulation"]
    for line, row in enumerate(_rows(folder, "spending_routes_by_period"), start=2):
        grain, start, day_type = row["period_grain"], row["period_start"], row["day_type"]
        where = f"spending_routes_by_period.csv line {line}"
        if row["breakdown"] == "route":
            stops = row["route"].split(" > ")
            key = (grain, start, ENTRY_LOG, day_type, "all", "all", stops[0], stops[-1], row["route"])
            fam, people, units = rt, ("routes", "visitors", *key), ("routes", "trips", *key)
            pub.put(units, row["trips"], f"{where} trips")
        else:
            role, facility = ("first", row["facility_id"]) if row["breakdown"] == "first_facility" else ("all", "")
            key = (grain, start, ENTRY_LOG, day_type, "all", "all", role, facility)
            fam, people = ci, ("circulation", "visitors", *key)
            units = people if grain == "day" else None
            if grain == "day":
                pub.put(people, row["visitor_days"], f"{where} visitor_days")
        fam.keys.add(key)
        if grain != "day":
            fam.periods.setdefault((grain, start), row["period_end"])
        pub.put(people, row["visitors"], f"{where} visitors")
        revenue, quotient = _number(row["revenue_jpy"]), _number(row["revenue_per_unit_jpy"])
        if units is not None and revenue is not None and quotient:
            pub.relations.append(_quotient(units, revenue, quotient, YEN_HALF_STEP))


def _read_opportunities(folder: Path, pub: Published, families: dict[str, _Family]) -> None:
    """A pair's observed moves are its period transitions (segment 'all' or a residence).
    (observed_below_k says no more than the suppression column: fewer than k.)"""
    tr = families["transitions"]
    for line, row in enumerate(_rows(folder, "opportunity_pairs"), start=2):
        segment_kind = "all" if row["segment"] == "all" else "residence"
        key = (
            row["period_grain"],
            row["period_start"],
            row["source_kind"],
            "all",
            segment_kind,
            row["segment"],
            row["from_facility_id"],
            row["to_facility_id"],
        )
        if key in tr.keys or _number(row["observed_moves"]):
            tr.keys.add(key)
            pub.put(
                ("transitions", "transitions", *key), row["observed_moves"], f"opportunity_pairs.csv line {line} observed_moves"
            )


def _read_derived(folder: Path, pub: Published, families: dict[str, _Family], day_types: dict[str, str]) -> None:
    """The files whose numbers are derived from the same counts as the visit files."""
    _read_all_visitors(folder, pub, families)
    _read_spending(folder, pub, families, day_types)
    _read_spending_routes(folder, pub, families)
    _read_opportunities(folder, pub, families)


@paused_cycle_collection()
def relations(folder: Path) -> Published:
    """Every published cell of ``folder`` and every relation between cells."""
    pub = Published()
    families = {name: _Family(name) for name in FAMILIES}
    day_types: dict[str, str] = {}
    _read_days(folder, pub, families, day_types)
    _read_periods(folder, pub, families)
    _read_derived(folder, pub, families, day_types)
    for fam in families.values():
        _period_relations(pub, fam, day_types)
    _family_relations(pub, families)
    _read_survey(folder, pub)
    return pub


# ----------------------------------------------------------------------------- solving


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Cell, Cell] = {}

    def find(self, item: Cell) -> Cell:
        parent = self.parent.setdefault(item, item)
        while parent != self.parent.setdefault(parent, parent):
            self.parent[item] = parent = self.parent[parent]
        return parent

    def union(self, items: Iterable[Cell]) -> None:
        items = list(items)
        root = self.find(items[0])
        for item in items[1:]:
            other = self.find(item)
            if other != root:
                self.parent[other] = root


def _rows_of(
    relation: Relation, values: dict[Cell, float | None], relaxed: bool
) -> tuple[list[tuple[dict[Cell, float], float]], list[tuple[dict[Cell, float], float]]]:
    """The relation as (coefficients over unknown cells, constant) equalities and <= rows."""

    def known(cell: Cell) -> float | None:
        return values.get(cell) if cell in values else None

    equalities, inequalities = [], []
    if relation.kind == "ratio":
        value = known(relation.total)
        if value is not None:
            return [], []
        # lower * T <= c  and  c <= upper * T
        inequalities.append(({relation.total: relation.lower}, relation.constant))
        if math.isfinite(relation.upper):  # an infinite upper coefficient: no lower bound
            inequalities.append(({relation.total: -relation.upper}, -relation.constant))
        return equalities, inequalities
    coefficients: dict[Cell, float] = defaultdict(float)
    constant = 0.0
    for cell, sign in ((relation.total, -1.0), *((part, 1.0) for part in relation.parts)):
        value = known(cell)
        if value is None:
            coefficients[cell] += sign
        else:
            constant -= sign * value
    if relation.kind == "at_most":
        inequalities.append((dict(coefficients), constant))  # sum(parts) <= total
    elif relaxed and relation.kind == "distinct":
        # total <= sum(parts): a person counted once in the total may count in several parts
        inequalities.append(({cell: -c for cell, c in coefficients.items()}, -constant))
        if relation.kind == "distinct":  # each part <= total
            for part in relation.parts:
                row: dict[Cell, float] = defaultdict(float)
                c = 0.0
                for cell, sign in ((part, 1.0), (relation.total, -1.0)):
                    value = known(cell)
                    if value is None:
                        row[cell] += sign
                    else:
                        c -= sign * value
                inequalities.append((dict(row), c))
    else:
        equalities.append((dict(coefficients), constant))
    return equalities, inequalities


def _matrices(rows: list[tuple[dict[Cell, float], float]], index: dict[Cell, int]):
    from scipy.sparse import csr_matrix

    if not rows:
        return None, None
    data, row_ids, col_ids = [], [], []
    rhs = np.zeros(len(rows))
    for i, (coefficients, constant) in enumerate(rows):
        for cell, coefficient in coefficients.items():
            data.append(coefficient)
            row_ids.append(i)
            col_ids.append(index[cell])
        rhs[i] = constant
    return csr_matrix((data, (row_ids, col_ids)), shape=(len(rows), len(index))), rhs


def _sorted_cells(cells: tuple[Cell, ...]) -> tuple[Cell, ...]:
    """Cells in their own order: as tuples (of texts, fast), or by their text when their
    elements do not compare."""
    try:
        return tuple(sorted(cells))
    except TypeError:
        return tuple(sorted(cells, key=repr))


@dataclass
class _Block:
    """One connected component: its cells and its rows (equalities, <= rows)."""

    cells: list[Cell]
    relations: list[Relation]
    a_eq: object = None
    b_eq: np.ndarray | None = None
    a_ub: object = None
    b_ub: np.ndarray | None = None
    relaxed: bool = False
    #: the relations as text, in their order (set by :meth:`canonical`; block_digest reads it)
    relations_text: str | None = None

    @classmethod
    def canonical(cls, cells: Iterable[Cell], relations_: Iterable[Relation]) -> _Block:
        """A component in an order of its own: cells and relations sorted by their text, each
        relation's parts as tuples. The order the files are read in and Python's set order, which
        changes with every process's hash seed, would otherwise give the same program another
        digest (the next night's audit, or the publication's in another task, could not find
        its verdict and solved it again) and another row order."""
        texts = []
        for relation in relations_:
            parts = _sorted_cells(relation.parts)
            if parts != relation.parts:
                relation = replace(relation, parts=parts)
            texts.append((repr(relation), relation))
        texts.sort(key=lambda item: item[0])
        return cls(
            sorted(cells, key=repr), [relation for _, relation in texts], relations_text="\n".join(text for text, _ in texts)
        )

    def build(self, values: dict[Cell, float | None], relaxed: bool) -> _Block:
        from scipy.sparse import csr_matrix

        index = {cell: i for i, cell in enumerate(self.cells)}
        eq, ub = [], []
        for relation in self.relations:
            e, u = _rows_of(relation, values, relaxed)
            eq += [r for r in e if r[0]]
            ub += [r for r in u if r[0]]
        n = len(self.cells)
        self.a_eq, self.b_eq = _matrices(eq, index)
        self.a_ub, self.b_ub = _matrices(ub, index)
        if self.a_eq is None:
            self.a_eq, self.b_eq = csr_matrix((0, n)), np.zeros(0)
        if self.a_ub is None:
            self.a_ub, self.b_ub = csr_matrix((0, n)), np.zeros(0)
        self.relaxed = relaxed
        return self


def _program(blocks: list[_Block]):
    """The blocks side by side: one program whose parts do not interact."""
    from scipy.sparse import block_diag

    a_eq = block_diag([b.a_eq for b in blocks], format="csr")
    a_ub = block_diag([b.a_ub for b in blocks], format="csr")
    b_eq = np.concatenate([b.b_eq for b in blocks])
    b_ub = np.concatenate([b.b_ub for b in blocks])
    return (
        a_ub if a_ub.shape[0] else None,
        b_ub if a_ub.shape[0] else None,
        a_eq if a_eq.shape[0] else None,
        b_eq if a_eq.shape[0] else None,
    )


def _solve(objective: np.ndarray, program):
    from scipy.optimize import linprog

    a_ub, b_ub, a_eq, b_eq = program
    # a box far above any count keeps every program bounded: a cell that reaches it is
    # unbounded for the attacker
    return linprog(objective, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, UNBOUNDED), method="highs")


class _CellSolver:
    """One component's program in HiGHS (``highspy``), built once and re-solved per cell.

    Finding each undecided cell's minimum and maximum is a sequence of programs that differ
    in their objective only. ``scipy.optimize.linprog`` builds and presolves the program
    anew each time (a third of a second for a component of 17,000 cells); HiGHS keeps the
    last optimal basis when only the costs change, so the next program starts from it and
    takes a few simplex iterations.
    """

    def __init__(self, block: _Block, low_seen: np.ndarray, high_seen: np.ndarray) -> None:
        """``low_seen`` and ``high_seen`` are the component's views of the bundle's lowest and
        highest values seen; every solution found widens them."""
        import highspy
        from scipy.sparse import vstack

        self._highs = highspy.Highs()
        self._highs.setOptionValue("output_flag", False)
        n = len(block.cells)
        rows = vstack([block.a_eq, block.a_ub]).tocsr()
        n_eq = block.a_eq.shape[0]
        lp = highspy.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = rows.shape[0]
        lp.col_cost_ = np.zeros(n)
        # a box far above any count keeps every program bounded (as in _solve)
        lp.col_lower_ = np.zeros(n)
        lp.col_upper_ = np.full(n, UNBOUNDED)
        lp.row_lower_ = np.concatenate([block.b_eq, np.full(rows.shape[0] - n_eq, -highspy.kHighsInf)])
        lp.row_upper_ = np.concatenate([block.b_eq, block.b_ub])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = rows.indptr.astype(np.int32)
        lp.a_matrix_.index_ = rows.indices.astype(np.int32)
        lp.a_matrix_.value_ = rows.data.astype(float)
        self._highs.passModel(lp)
        self._optimal = highspy.HighsModelStatus.kOptimal
        self._costed: int | None = None
        self._low_seen, self._high_seen = low_seen, high_seen

    def extreme(self, cell: int, sign: float) -> float | None:
        """The cell's smallest (sign 1) or largest (sign -1) value, or None when the solver
        found no solution (the caller then assumes the widest interval)."""
        if self._costed is not None:
            self._highs.changeColCost(self._costed, 0.0)
        self._highs.changeColCost(cell, sign)
        self._costed = cell
        self._highs.run()
        if self._highs.getModelStatus() != self._optimal:
            return None
        found = np.asarray(self._highs.getSolution().col_value)
        np.minimum(self._low_seen, found, out=self._low_seen)
        np.maximum(self._high_seen, found, out=self._high_seen)
        return float(found[cell])


def _infeasible(blocks: list[_Block]) -> list[_Block]:
    """The blocks that have no solution, found by halving (few are)."""
    if not blocks:
        return []
    n = sum(len(b.cells) for b in blocks)
    if _solve(np.zeros(n), _program(blocks)).status != 2:
        return []
    if len(blocks) == 1:
        return blocks
    middle = len(blocks) // 2
    return _infeasible(blocks[:middle]) + _infeasible(blocks[middle:])


def _solve_bundle(
    blocks: list[_Block], values: dict[Cell, float | None], report: AuditReport, k: int
) -> dict[Cell, tuple[float, float]]:
    """Each cell's interval, as far as deciding it needs: (low, high) of the cells not shown
    wide; a cell shown to hold k or more reports high = low (its maximum was not needed).

    The components do not share cells, so they are solved together as one block-diagonal
    program: maximising a sum of cells from different components maximises each. Every
    solution found is kept, so most cells are shown wide (values k or more apart) without
    a program of their own: :func:`_spread` asks for solutions that move every open cell
    by k at once. Two shortcuts decide the rest in few programs:

    - the cells that hold 0 in every solution (latent or empty segments, most of the
      cells left undecided otherwise) are found by one program: :func:`_forced_zero`;
    - a cell is minimised first; k below a value already seen, or (a cell in no file) at
      k or more, it is decided, and only otherwise maximised too: a withheld cell must be
      shown k wide whatever it holds.
    """
    for block in blocks:
        block.build(values, relaxed=False)
    bad = {id(b) for b in _infeasible(blocks)}
    retry = [b.build(values, relaxed=True) for b in blocks if id(b) in bad]
    still = {id(b) for b in _infeasible(retry)}
    report.relaxed_components += len(retry) - len(still)
    report.relaxed_cells.update(cell for block in retry if id(block) not in still for cell in block.cells)
    for block in blocks:
        if id(block) in still:
            report.inconsistent_components += 1
            report.inconsistent_cells.update(block.cells)
            log.warning("audit: relations of %d cells are inconsistent (first: %s); not solved", len(block.cells), block.cells[0])
    blocks = [b for b in blocks if id(b) not in still]
    if not blocks:
        return {}
    offsets = np.cumsum([0] + [len(b.cells) for b in blocks])
    cells = [cell for block in blocks for cell in block.cells]
    n = len(cells)
    program = _program(blocks)
    low_seen = np.full(n, np.inf)
    high_seen = np.full(n, -np.inf)
    proved_zero = np.zeros(n, dtype=bool)

    def keep(result) -> None:
        if result.status == 0:
            np.minimum(low_seen, result.x, out=low_seen)
            np.maximum(high_seen, result.x, out=high_seen)

    def undecided() -> np.ndarray:
        return (high_seen - low_seen < k) & ~proved_zero

    proved_zero = _forced_zero(program, n)
    keep(_solve(np.ones(n), program))
    keep(_solve(-np.ones(n), program))
    for _ in range(SEED_PROGRAMS):
        before = int(undecided().sum())
        if not before:
            break
        # raise every open cell up to k above the lowest value seen, then lower it up to k
        # below the highest, all at once: one program shows most cells wide together
        for upwards in (True, False):
            open_cells = np.flatnonzero(undecided())
            if open_cells.size:
                anchor = low_seen if upwards else high_seen
                keep(_spread(program, n, open_cells, anchor[open_cells], upwards, k))
        log.debug("audit: spread round: %d open cells, then %d", before, int(undecided().sum()))
        if before - int(undecided().sum()) < max(2, before // 50):
            break
    bounds: dict[Cell, tuple[float, float]] = {cells[i]: (0.0, 0.0) for i in np.flatnonzero(proved_zero)}
    # then cell by cell, each component in its own solver, re-solved from its last basis
    for b, block in enumerate(blocks):
        first, span = offsets[b], slice(offsets[b], offsets[b + 1])
        solver = None
        for j in range(offsets[b], offsets[b + 1]):
            if proved_zero[j] or high_seen[j] - low_seen[j] >= k:
                continue
            solver = solver or _CellSolver(block, low_seen[span], high_seen[span])
            report.cell_programs += 1
            low = solver.extreme(j - first, 1.0)
            if low is None:  # the solver gave up: assume the widest
                bounds[cells[j]] = (0.0, math.inf)
            elif (low >= k - TOLERANCE and cells[j] not in values) or high_seen[j] - low >= k - TOLERANCE:
                bounds[cells[j]] = (low, max(high_seen[j], low))
            else:
                top = solver.extreme(j - first, -1.0)
                bounds[cells[j]] = (low, math.inf if top is None or top >= UNBOUNDED / 2 else top)
    return bounds


def _spread(program, n: int, open_cells: np.ndarray, anchor: np.ndarray, upwards: bool, k: int):
    """A solution moving each open cell as far as k from ``anchor`` (upwards: above the
    lowest value seen; else below the highest), as many cells as possible at once.

    Maximises Σ t over the open cells with t <= x - anchor (or anchor - x) and t <= k: a
    concave objective, so one program. Random objectives reach a vertex that moves a few
    cells; this one is rewarded for every cell it moves by k (the demo month: 28,466 open
    cells to 849 in four rounds, against 40 random rounds leaving 6,455).
    """
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, eye, hstack, vstack

    a_ub, b_ub, a_eq, b_eq = program
    m = open_cells.size
    select = csr_matrix((np.full(m, -1.0 if upwards else 1.0), (np.arange(m), open_cells)), shape=(m, n))
    moved = hstack([select, eye(m)])  # t - x <= -anchor, or t + x <= anchor
    rhs = -anchor if upwards else anchor
    if a_ub is not None:
        inequality = vstack([hstack([a_ub, csr_matrix((a_ub.shape[0], m))]), moved]).tocsr()
        b = np.concatenate([b_ub, rhs])
    else:
        inequality, b = moved.tocsr(), rhs
    equality = None if a_eq is None else hstack([a_eq, csr_matrix((a_eq.shape[0], m))]).tocsr()
    objective = np.concatenate([np.zeros(n), -np.ones(m)])
    result = linprog(
        objective,
        A_ub=inequality,
        b_ub=b,
        A_eq=equality,
        b_eq=b_eq,
        bounds=[(0, UNBOUNDED)] * n + [(None, k)] * m,
        method="highs",
    )
    if result.status == 0:
        result.x = result.x[:n]
    return result


def _forced_zero(program, n: int) -> np.ndarray:
    """Which of the n cells are 0 in every solution of ``program``, by one program.

    In homogenised form (y = s·x for a scale s >= 1; A x = b becomes A y - b s = 0) the
    solutions scaled by any s >= 1 form a cone, and averaging solutions keeps every cell
    that one of them makes positive positive. So maximising Σ t with t <= y and
    0 <= t <= 1 sets t to 1 on every cell that can be positive and leaves 0 only on the
    cells no solution makes positive (the classic detection of a polyhedron's implicit
    zero variables).
    """
    from scipy.sparse import csr_matrix, eye, hstack, vstack

    a_ub, b_ub, a_eq, b_eq = program
    blocks_ub = []
    if a_ub is not None:
        blocks_ub.append(hstack([a_ub, csr_matrix((a_ub.shape[0], n)), csr_matrix(-b_ub.reshape(-1, 1))]))
    blocks_ub.append(hstack([-eye(n), eye(n), csr_matrix((n, 1))]))  # t - y <= 0
    equality = None
    if a_eq is not None:
        equality = hstack([a_eq, csr_matrix((a_eq.shape[0], n)), csr_matrix(-b_eq.reshape(-1, 1))]).tocsr()
    inequality = vstack(blocks_ub).tocsr()
    objective = np.concatenate([np.zeros(n), -np.ones(n), [0.0]])
    bounds = [(0, None)] * n + [(0, 1)] * n + [(1, None)]
    from scipy.optimize import linprog

    result = linprog(
        objective,
        A_ub=inequality,
        b_ub=np.zeros(inequality.shape[0]),
        A_eq=equality,
        b_eq=None if equality is None else np.zeros(equality.shape[0]),
        bounds=bounds,
        method="highs",
    )
    if result.status != 0:
        return np.zeros(n, dtype=bool)  # decide nothing here: every cell is solved for itself
    return result.x[n : 2 * n] < 0.5


def _bundles(blocks: list[_Block]) -> list[list[_Block]]:
    """Components packed, largest first, into bundles of about ``BUNDLE_CELLS`` cells."""
    bundles: list[list[_Block]] = []
    sizes: list[int] = []
    for block in sorted(blocks, key=lambda b: (-len(b.cells), repr(b.cells[0]))):
        if bundles and sizes[-1] + len(block.cells) <= BUNDLE_CELLS:
            bundles[-1].append(block)
            sizes[-1] += len(block.cells)
        else:
            bundles.append([block])
            sizes.append(len(block.cells))
    return bundles


@dataclass
class BlockVerdict:
    """All an audit needs of one solved component: its cells solved narrower than k (index
    in the component's cells, low, high), and whether it was relaxed or inconsistent. The
    cells shown k or more wide are not kept: the audit passes over them."""

    narrow: list[tuple[int, float, float]]
    relaxed: bool = False
    inconsistent: bool = False


@dataclass
class BlockMemory:
    """Components solved before, by ``block_digest`` (flowlib.audit_verdicts keeps them on
    disk): a component whose program is the same, bit for bit, has the same verdict, so it is
    not solved again. ``used`` collects every verdict the audit needed, found or solved."""

    code: str
    known: dict[str, BlockVerdict] = field(default_factory=dict)
    used: dict[str, BlockVerdict] = field(default_factory=dict)


def block_digest(block: _Block, values: dict[Cell, float | None], k: int, code: str) -> str:
    """SHA-256 of everything a component's program is built from: k, the audit's code (its
    source and solver versions), the component's cells in order (a verdict names them by
    position), its relations (cells, kinds, constants, coefficients) and the value of every
    cell they name (a published number, None for a hidden one, or absent from every file)."""
    named = sorted({cell for r in block.relations for cell in (r.total, *r.parts) if cell is not None}, key=repr)
    digest = hashlib.sha256(f"k={k};audit={code}".encode())
    relations_text = block.relations_text if block.relations_text is not None else repr(block.relations)
    for part in (
        repr(block.cells),
        relations_text,
        repr([(cell, values[cell] if cell in values else "<absent>") for cell in named]),
    ):
        text = part.encode()
        digest.update(len(text).to_bytes(8, "big") + text)
    return digest.hexdigest()


def _solve_bundle_job(
    job: tuple[list[_Block], dict[Cell, float | None], int],
) -> tuple[list[BlockVerdict], int]:
    """One bundle in a worker process: each component's verdict, and the cells solved one by one."""
    blocks, values, k = job
    report = AuditReport(k=k)
    bounds = _solve_bundle(blocks, values, report, k)
    verdicts = []
    for block in blocks:
        narrow = [
            (i, float(bounds[cell][0]), float(bounds[cell][1]))
            for i, cell in enumerate(block.cells)
            if cell in bounds and bounds[cell][1] - bounds[cell][0] < k - TOLERANCE
        ]
        first = block.cells[0]
        verdicts.append(BlockVerdict(narrow, first in report.relaxed_cells, first in report.inconsistent_cells))
    return verdicts, report.cell_programs


def _exit_with(parent: int) -> None:
    """In an audit worker: exit as soon as the process that started it is gone.

    A killed night (SIGKILL, a stopped Airflow task) cannot shut its pool down, and a worker
    inside a long program only notices at its next job; left alone it would keep a core busy
    for the next night's run."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _start_worker(parent: int) -> None:
    """An audit worker's start: it exits with its parent (:func:`_exit_with`) and imports the
    programs' libraries (about 0.5 s a process) before its first bundle arrives."""
    _exit_with(parent)
    import scipy.optimize  # noqa: F401
    import scipy.sparse  # noqa: F401


def _ready() -> None:
    """A job that does nothing: submitted once per worker so that each starts now."""


@contextmanager
def solver_pool(workers: int) -> Iterator[Executor | None]:
    """Processes for every audit of one settlement (None for one worker: the audit solves in
    its own process). Started at once, so that they spawn and import while the build writes
    the files, and kept across its rounds: a pool per audit spawned and warmed two processes
    each round (0.7-0.8 s, three or four times on the night of a new day).

    Spawned, not forked: the audit runs inside Airflow's task process, which has threads.
    Under the CeleryExecutor that process is a daemon (the Celery worker's pool forks it),
    and a daemon may not start processes: there the audit solves in its own process."""
    from multiprocessing import current_process, get_context

    if workers <= 1:
        yield None
        return
    if current_process().daemon:
        log.info("audit: this process is a daemon (a Celery worker's task), which cannot start workers; solving in it")
        yield None
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=_start_worker, initargs=(os.getpid(),)
    ) as pool:
        for _ in range(workers):  # a pool spawns a process per job that finds none idle
            pool.submit(_ready)
        yield pool


def _solve_blocks(
    blocks: list[_Block],
    values: dict[Cell, float | None],
    report: AuditReport,
    k: int,
    workers: int = 1,
    memory: BlockMemory | None = None,
    pool: Executor | None = None,
) -> dict[Cell, tuple[float, float]]:
    """The interval of every cell solved narrower than k. Components ``memory`` knows are not
    solved again; the others are solved in bundles (in ``workers`` processes when more than one:
    ``pool``'s, else a pool of this audit's own).

    Why a component's verdict can be kept: the components share no cell, so each one's
    intervals are its own program's extremes, whatever else is in its bundle; a rebuild that
    withholds a few rows (the settlement's rounds) or a night that adds a day leaves most
    programs as they were (on the demo, 2,194 of 2,197 components between rounds)."""
    digests = [block_digest(block, values, k, memory.code) for block in blocks] if memory is not None else []
    verdicts: dict[int, BlockVerdict] = {}
    todo = []
    for number in range(len(blocks)):
        found = memory.known.get(digests[number]) if memory is not None else None
        if found is None:
            todo.append(number)
        else:
            verdicts[number] = found
            report.components_remembered += 1
    number_of = {id(blocks[number]): number for number in todo}
    jobs, members = [], []
    for bundle in _bundles([blocks[number] for number in todo]):
        used = {cell for block in bundle for relation in block.relations for cell in (relation.total, *relation.parts)}
        jobs.append((bundle, {cell: values[cell] for cell in used if cell in values}, k))
        members.append([number_of[id(block)] for block in bundle])

    def solved(executor: Executor | None) -> list[tuple[list[BlockVerdict], int]]:
        if executor is None:
            return [_solve_bundle_job(job) for job in jobs]
        return list(executor.map(_solve_bundle_job, jobs))

    if workers <= 1 or len(jobs) <= 1:
        results = solved(None)
    elif pool is not None:
        results = solved(pool)
    else:
        with solver_pool(min(workers, len(jobs))) as own:
            results = solved(own)
    for member, (found, programs) in zip(members, results):
        report.cell_programs += programs
        verdicts.update(zip(member, found))
    bounds: dict[Cell, tuple[float, float]] = {}
    for number, block in enumerate(blocks):
        verdict = verdicts[number]
        if memory is not None:
            memory.known[digests[number]] = memory.used[digests[number]] = verdict
        for index, low, high in verdict.narrow:
            bounds[block.cells[index]] = (low, high)
        if verdict.relaxed:
            report.relaxed_components += 1
            report.relaxed_cells.update(block.cells)
        if verdict.inconsistent:
            report.inconsistent_components += 1
            report.inconsistent_cells.update(block.cells)
            if number not in number_of.values():
                log.warning(
                    "audit: relations of %d cells are inconsistent (first: %s); not solved", len(block.cells), block.cells[0]
                )
    return bounds


@paused_cycle_collection()
def audit(folder: Path, k: int, workers: int = 1, memory: BlockMemory | None = None, pool: Executor | None = None) -> AuditReport:
    """Solve every hidden cell's interval from the files in ``folder`` (components in ``workers``
    processes, ``pool``'s when given (:func:`solver_pool`); those ``memory`` solved before are
    not solved again); see the module doc."""
    started = time.perf_counter()
    pub = relations(folder)
    report = AuditReport(k=k)
    values = pub.values
    report.cells = sum(1 for cell in values if cell[1] != "next_probability")
    report.hidden = sum(1 for cell, value in values.items() if value is None and cell[1] != "next_probability")
    for cell, value in values.items():
        if PEOPLE.get(cell[0]) == cell[1]:
            report.people_cells += 1
            report.people_hidden_cells += value is None
    unions = _UnionFind()
    touching: list[tuple[Relation, list[Cell]]] = []
    for relation in pub.relations:
        members = [relation.total, *relation.parts]
        unknown = [c for c in members if values.get(c) is None]
        if not unknown:
            continue
        unions.union(unknown)
        touching.append((relation, unknown))
    by_root: dict[Cell, list[Relation]] = defaultdict(list)
    cells_by_root: dict[Cell, set[Cell]] = defaultdict(set)
    for relation, unknown in touching:
        root = unions.find(unknown[0])
        by_root[root].append(relation)
        cells_by_root[root].update(unknown)
    report.latent = sum(1 for cells in cells_by_root.values() for c in cells if c not in values)
    report.components = len(by_root)
    blocks = []
    for root, relations_ in by_root.items():
        constants = any(
            relation.kind == "ratio" or any(values.get(c) for c in (relation.total, *relation.parts)) for relation in relations_
        )
        if constants:  # else homogeneous: every cell can be scaled up without bound
            blocks.append(_Block.canonical(cells_by_root[root], relations_))
    report.solved = len(blocks)
    for cell, (low, high) in _solve_blocks(blocks, values, report, k, workers, memory, pool).items():
        if cell[1] == "origin_total":
            continue  # not a count of people; its pairs are checked
        if high - low >= k - TOLERANCE:
            continue
        if cell not in values and (high <= TOLERANCE or low >= k - TOLERANCE):
            # a cell no file shows (answers without a residence country, an empty segment)
            # was never withheld: it is exposed only where it may hold 1 to k-1 people
            report.narrowed_large += 1
            continue
        report.exposed.append(Exposure(cell, pub.origin.get(cell, ""), round(low, 6) + 0.0, round(high, 6) + 0.0))
    for cell, value in values.items():
        if value is not None and cell[1] not in NOT_COUNTS and 0 < value < k:
            report.exposed.append(Exposure(cell, pub.origin.get(cell, ""), value, value))
    report.exposed.sort(key=lambda e: (e.where == "", e.where, repr(e.cell)))
    report.seconds = time.perf_counter() - started
    report.published = pub
    return report


# ----------------------------------------------------------------------------- complements

#: the marts whose rows the build can withhold, by family (a cell's key is the mart's
#: ``-- keys:`` in order); the other files derive from them or hold answers, protected by
#: their own rules
WITHHOLDABLE = {**PERIOD_FILES, "spending": "spending_by_period"}
#: what withholding a row costs: the people it counts
ROW_PEOPLE = {**PEOPLE, "spending": "visitor_days"}
#: how far (in relations) from an exposed cell a published cell may be to be withheld for
#: it: the nearer first (a smaller program; on the demo fortnight depth 2 chose the same
#: rows as depth 3), then farther for the cells left
COMPLEMENT_DEPTHS = (2, 4)


@dataclass(frozen=True)
class Complement:
    """A published row to withhold: family and key of a ``*_by_period`` mart row."""

    family: str
    key: tuple

    @property
    def people(self) -> Cell:
        return (self.family, ROW_PEOPLE[self.family], *self.key)

    @property
    def mart(self) -> str:
        return f"marts.{WITHHOLDABLE[self.family]}"


def _row_of(cell: Cell) -> Complement | None:
    family, measure, *key = cell
    if family not in WITHHOLDABLE or measure in NOT_COUNTS or measure == "origin_total":
        return None
    return Complement(family, tuple(key))


class _Complements:
    """The state of :func:`complements`: the relations by cell, and the rows chosen so far."""

    def __init__(self, pub: Published, k: int, relaxed_cells: set) -> None:
        self.pub, self.k, self.relaxed_cells = pub, k, relaxed_cells
        self.published = pub.values
        #: what the next program sees: the published values, withheld rows unknown
        self.values = dict(pub.values)
        self.touching: dict[Cell, list[int]] = defaultdict(list)
        for number, relation in enumerate(pub.relations):
            for cell in (relation.total, *relation.parts):
                self.touching[cell].append(number)
        #: visit-file cells that no visit file shows (a circulation segment of a day): the
        #: spending row whose visitors or admissions column shows each, and whose withholding
        #: hides it (every spending row has its visitor-days cell)
        self.shown_by: dict[Cell, Complement] = {}
        for cell in pub.values:
            if cell[0] == "spending" and cell[1] == "visitor_days":
                for shown in _spending_twins(cell[2:]):
                    if shown[0] != "spending" and pub.origin.get(shown, "").startswith("spending_by_period.csv"):
                        self.shown_by[shown] = Complement("spending", cell[2:])
        self.cells_of: dict[Complement, list[Cell]] = defaultdict(list)
        for cell in pub.values:
            row = _row_of(cell)
            if row is not None:
                self.cells_of[row].append(cell)
            if cell in self.shown_by:
                self.cells_of[self.shown_by[cell]].append(cell)
        self.chosen: dict[Complement, None] = {}

    def withhold(self, row: Complement) -> None:
        self.chosen.setdefault(row)
        for cell in self.cells_of[row]:
            self.values[cell] = None

    def withhold_twins(self) -> None:
        """Withhold the published rows that repeat a withheld cell (a relation of two cells,
        such as a day's visitor-days and its circulation visitors): while the twin is shown the
        withheld cell is pinned to it, the next audit would send it back and the only rows
        that can widen it include the twin's. Each round of the build saved is a rebuild,
        a write and an audit (about 10 s on the night of a new day)."""
        queue = deque(self.chosen)
        while queue:
            for cell in self.cells_of[queue.popleft()]:
                for number in self.touching.get(cell, ()):
                    relation = self.pub.relations[number]
                    if relation.kind not in ("exact", "distinct") or len(relation.parts) != 1:
                        continue
                    twin = relation.parts[0] if relation.total == cell else relation.total
                    row = self.shown_by.get(twin) or _row_of(twin)
                    if row is not None and row not in self.chosen and self.values.get(twin) is not None:
                        self.withhold(row)
                        queue.append(row)

    def neighbourhood(self, exposed: list[Cell], reach: int) -> tuple[list[Cell], dict[Cell, Complement], list[Relation]]:
        """The exposed cells' unknown cells (all that the relations connect them to), the
        published cells within ``reach`` relations that may leave their values (each with
        its row), and the relations over them."""
        unknown, free, seen = set(exposed), {}, set()
        queue = deque((cell, 0) for cell in exposed)  # breadth first: each free cell at its least depth
        while queue:
            cell, depth = queue.popleft()
            for number in self.touching.get(cell, ()):
                if number in seen:
                    continue
                seen.add(number)
                relation = self.pub.relations[number]
                for member in (relation.total, *relation.parts):
                    if member in unknown or member in free:
                        continue
                    if self.values.get(member) is None:
                        unknown.add(member)
                        queue.append((member, depth))
                        continue
                    row = _row_of(member)
                    if row is not None and depth < reach:
                        for sibling in self.cells_of[row]:
                            if self.values.get(sibling) is not None and sibling not in free:
                                free[sibling] = row
                                queue.append((sibling, depth + 1))
        rows = set(free.values())

        def holds(relation: Relation) -> bool:
            # a bound that a row's own columns put on its cell (revenue / revenue per unit,
            # an estimate / a share) goes with the row: the row stays as published, where it
            # holds, or is withheld whole; a bound on another cell (a pair's moves and its
            # probability bound the origin's total) holds unless the row is withheld
            if relation.kind != "ratio":
                return True
            if relation.source is None:
                return _row_of(relation.total) not in rows and _row_of(relation.total) not in self.chosen
            return _row_of(relation.source) not in self.chosen

        relations_ = [self.pub.relations[number] for number in sorted(seen) if holds(self.pub.relations[number])]
        return sorted(unknown | set(free), key=repr), free, relations_

    def exact(self, relation: Relation) -> bool:
        """Whether the attacker may read a relation as exact, as the audit did: a relation of
        distinct people is relaxed where the audit relaxed its component, and where its
        published numbers do not add up (a visitor on two days makes a week less than its days)."""
        members = (relation.total, *relation.parts)
        if relation.kind != "distinct":
            return True
        if any(cell in self.relaxed_cells for cell in members):
            return False
        if any(self.published.get(cell) is None for cell in members):
            return True
        return abs(self.published[relation.total] - sum(self.published[cell] for cell in relation.parts)) <= TOLERANCE

    def program(self, cells: list[Cell], free: dict[Cell, Complement], relations_: list[Relation]) -> dict:
        """The relations as one program over the cells and, for each free cell, its move up
        and its move down (x_j - up_j + down_j = the published value)."""
        from scipy.sparse import csr_matrix, hstack, identity, vstack

        index = {cell: i for i, cell in enumerate(cells)}
        moved = list(free)
        n, f = len(cells), len(moved)
        for cell in moved:  # unknown for this program only
            self.values[cell] = None
        try:
            equalities, inequalities = [], []
            for relation in relations_:
                e, u = _rows_of(relation, self.values, not self.exact(relation))
                equalities += [r for r in e if r[0]]
                inequalities += [r for r in u if r[0]]
        finally:
            for cell in moved:
                self.values[cell] = self.published[cell]

        def widen(matrix):
            return None if matrix is None else hstack([matrix, csr_matrix((matrix.shape[0], 2 * f))])

        # x_j - up_j + down_j = published value of each free cell j
        moves = hstack(
            [
                csr_matrix((np.ones(f), (np.arange(f), [index[c] for c in moved])), shape=(f, n)),
                -identity(f, format="csr"),
                identity(f, format="csr"),
            ]
        )
        a_eq, b_eq = _matrices(equalities, index)
        eq_blocks = [m for m in (widen(a_eq), moves) if m is not None and m.shape[0]]
        eq_rhs = [b for b in (b_eq, np.array([self.published[c] for c in moved], dtype=float)) if b is not None and b.size]
        a_ub, b_ub = _matrices(inequalities, index)
        return {
            "index": index,
            "moved": moved,
            "rows": [free[c] for c in moved],
            "a_ub": widen(a_ub),
            "b_ub": b_ub,
            "a_eq": vstack(eq_blocks).tocsr() if eq_blocks else None,
            "b_eq": np.concatenate(eq_rhs) if eq_rhs else None,
        }

    def protect(self, hidden: list[Exposure]) -> list[Exposure]:
        """Withhold rows until every cell of ``hidden`` is k wide; returns the cells no rows
        were found for. The cells of one part of the relations share one program, the
        nearer published cells first (``COMPLEMENT_DEPTHS``)."""
        for reach in COMPLEMENT_DEPTHS:
            left: list[Exposure] = []
            while hidden:
                cells, _, _ = self.neighbourhood([hidden[0].cell], 0)
                inside = set(cells)
                group = [e for e in hidden if e.cell in inside]
                hidden = [e for e in hidden if e.cell not in inside]
                program = self.program(*self.neighbourhood([e.cell for e in group], reach))
                rows, group = self.together(program, group)
                for row in rows:
                    self.withhold(row)
                for exposure in group:
                    rows = self.cheapest(program, exposure)
                    if rows is None:
                        left.append(exposure)
                    for row in rows or ():
                        self.withhold(row)
            hidden = left
        return hidden

    def costs(self, program: dict) -> np.ndarray:
        """A unit of move costs the people of its row (+1: an empty row is a lost cell too);
        a row already withheld moves for free."""
        return np.array([0.0 if row in self.chosen else (self.published.get(row.people) or 0.0) + 1.0 for row in program["rows"]])

    def moved_rows(self, program: dict, x: np.ndarray) -> list[Complement]:
        n, f = len(program["index"]), len(program["rows"])
        shift = x[n : n + f] + x[n + f : n + 2 * f]
        return sorted({row for row, move in zip(program["rows"], shift) if move > TOLERANCE and row not in self.chosen}, key=repr)

    def together(self, program: dict, exposures: list[Exposure]) -> tuple[list[Complement], list[Exposure]]:
        """One solution that lifts every exposed cell of the part k above its lowest value,
        the cheapest: its rows, and the cells it could not lift (a shortfall allowed at a
        price above any row's). One program for many cells; the others are solved alone."""
        from scipy.optimize import linprog
        from scipy.sparse import csr_matrix, hstack, vstack

        n, f, m = len(program["index"]), len(program["rows"]), len(exposures)
        cost = self.costs(program)
        shortfall = (float(cost.sum()) + 1.0) * self.k
        targets = [program["index"][e.cell] for e in exposures]
        # -x_e - short_e <= -(low_e + k)
        lift = hstack(
            [
                csr_matrix((-np.ones(m), (np.arange(m), targets)), shape=(m, n + 2 * f)),
                csr_matrix((-np.ones(m), (np.arange(m), np.arange(m))), shape=(m, m)),
            ]
        )

        def pad(matrix):
            return None if matrix is None else hstack([matrix, csr_matrix((matrix.shape[0], m))])

        result = linprog(
            np.concatenate([np.zeros(n), cost, cost, np.full(m, shortfall)]),
            A_ub=vstack([b for b in (pad(program["a_ub"]), lift) if b is not None]).tocsr(),
            b_ub=np.concatenate(
                [b for b in (program["b_ub"], np.array([-(e.low + self.k) for e in exposures])) if b is not None]
            ),
            A_eq=pad(program["a_eq"]),
            b_eq=program["b_eq"],
            bounds=[(0, UNBOUNDED)] * n + [(0, None)] * (2 * f + m),
            method="highs",
        )
        if result.status != 0:
            return [], exposures
        short = result.x[n + 2 * f :]
        return self.moved_rows(program, result.x), [e for e, gap in zip(exposures, short) if gap > TOLERANCE]

    def cheapest(self, program: dict, exposure: Exposure) -> list[Complement] | None:
        """The rows of the cheapest solution that moves the exposed cell k away from an end
        of its interval (None when there is none). A unit of move costs the people of its
        row (+1: an empty row is a lost cell too); a row already withheld moves for free."""
        from scipy.optimize import linprog
        from scipy.sparse import csr_matrix, vstack

        n, f = len(program["index"]), len(program["rows"])
        cost = self.costs(program)
        objective = np.concatenate([np.zeros(n), cost, cost])
        target = program["index"][exposure.cell]
        best = None
        for upwards in (True, False):
            bound = exposure.low + self.k if upwards else exposure.high - self.k
            if not upwards and (not math.isfinite(exposure.high) or bound < 0):
                continue
            reach = csr_matrix(([-1.0 if upwards else 1.0], ([0], [target])), shape=(1, n + 2 * f))
            a_ub, b_ub = program["a_ub"], program["b_ub"]
            result = linprog(
                objective,
                A_ub=vstack([m for m in (a_ub, reach) if m is not None]).tocsr(),
                b_ub=np.concatenate([b for b in (b_ub, np.array([-bound if upwards else bound])) if b is not None]),
                A_eq=program["a_eq"],
                b_eq=program["b_eq"],
                bounds=[(0, UNBOUNDED)] * n + [(0, None)] * (2 * f),
                method="highs",
            )
            if result.status == 0 and (best is None or result.fun < best.fun):
                best = result
            if best is not None and best.fun <= TOLERANCE:
                break  # the rows withheld already widen it
        return None if best is None else self.moved_rows(program, best.x)


@paused_cycle_collection()
def complements(pub: Published, report: AuditReport) -> tuple[list[Complement], list[Exposure]]:
    """Published rows whose withholding gives every exposed cell an interval k wide, and
    the exposed cells no such rows were found for.

    Linear programs (HiGHS) over each connected part of the relations that holds exposed
    cells: the published cells within ``COMPLEMENT_DEPTHS`` relations of them whose rows a
    build can withhold may leave their values, at a cost per unit of the people their row
    counts. The first program asks for one solution lifting every exposed cell of the part
    k above the lowest value it can take, the cheapest; a cell it cannot lift gets a
    program of its own that may lower it k below the highest instead. The rows that move
    in a solution are withheld: that solution and the old ends both stay possible once
    they are, so every interval is at least k wide. A vertex moves few rows, and cheap
    ones (the attacker-subproblem choice of complementary cells of the cell-suppression
    literature; one program for many cells instead of one per cell is faster on a backfilled
    month, at the price of more rows withheld: docs/privacy.md "Figures"). A withheld row's
    cell that another file repeats (a day's visitor-days, its circulation visitors) takes
    the twin's row with it (:meth:`_Complements.withhold_twins`). The rebuilt files are
    audited again, which also protects the withheld rows themselves. A published count
    below k is withheld itself. ``report`` is the audit of
    ``pub``: its exposed cells, and the components it read as distinct counts.

    Hand-written: the model of our files' rows; the solving is HiGHS."""
    state = _Complements(pub, report.k, report.relaxed_cells)
    unresolved: list[Exposure] = []
    hidden: list[Exposure] = []
    rows_seen: set = set()
    for exposure in report.exposed:
        # one program per exposed row: the complements of one measure (a spending row's
        # visitor-days) widen its others (its paid admissions) too, and the next audit
        # sends back any that they do not
        row = _row_of(exposure.cell)
        if (row or exposure.cell) in rows_seen:
            continue
        rows_seen.add(row or exposure.cell)
        if state.values.get(exposure.cell) is None:
            hidden.append(exposure)
        elif row is None:  # a published count of 1 to k-1 that no build can withhold
            unresolved.append(exposure)
        else:  # a published count of 1 to k-1
            state.withhold(row)
    unresolved += state.protect(hidden)
    state.withhold_twins()
    return list(state.chosen), unresolved
