"""Information loss of the open data: the share of cells and of people hidden.

    .venv/bin/python bench/disclosure_figures.py PUBLISHED_EXPORTS TRUTH_EXPORTS [more PUBLISHED ...]

TRUTH_EXPORTS: the same marts written with k = 1 (every cell published), so each hidden
cell's people can be counted. For each published folder, per file: cells (rows), hidden
rows, people (the file's count of people summed over its rows) and people hidden. The
roll-ups count distinct people per period, so "people" is a sum over cells, not a head
count of the city. Prints one table per folder and the totals.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flowlib.disclosure_audit import _rows as rows  # noqa: E402  (the audit reads the files the same way)

#: The columns that name a roll-up cell before the file's own ones.
PERIOD_CELL = ("period_grain", "period_start", "source_kind", "day_type", "segment_kind", "segment")

#: file → (people column, key columns)
FILES = {
    "facility_daily": ("visitors", ("service_date", "source_kind", "facility_id")),
    "facility_entries_hourly": ("visitors", ("service_date", "source_kind", "facility_id", "hour_of_day")),
    "transitions_daily": ("visitors", ("service_date", "source_kind", "from_facility_id", "to_facility_id")),
    "routes_daily": ("visitors", ("service_date", "source_kind", "route")),
    "circulation_daily": ("visitors", ("service_date", "source_kind", "segment")),
    "survey_satisfaction_daily": ("respondents", ("service_date", "segment")),
    "facility_visits_by_period": ("visitors", (*PERIOD_CELL, "facility_id", "hour_of_day")),
    "transitions_by_period": ("visitors", (*PERIOD_CELL, "from_facility_id", "to_facility_id")),
    "routes_by_period": ("visitors", (*PERIOD_CELL, "origin_facility_id", "destination_facility_id", "route")),
    "circulation_by_period": ("visitors", (*PERIOD_CELL, "facility_role", "facility_id")),
    "dwell_by_period": ("visitors", (*PERIOD_CELL, "facility_id", "dwell_method")),
}


def figures(published: Path, truth: Path) -> dict[str, tuple[int, int, int, int]]:
    out = {}
    for name, (people, keys) in FILES.items():
        true = {tuple(r[k] for k in keys): r for r in rows(truth, name)}
        cells = hidden = total = lost = 0
        for row in rows(published, name):
            value = true.get(tuple(row[k] for k in keys), {}).get(people) or "0"
            count = int(float(value))
            cells += 1
            total += count
            if row[people] == "":
                hidden += 1
                lost += count
        out[name] = (cells, hidden, total, lost)
    return out


def main(argv: list[str]) -> int:
    truth = Path(argv[1])
    for folder in [Path(argv[0]), *map(Path, argv[2:])]:
        table = figures(folder, truth)
        print(f"\n{folder}")
        print(f"{'file':28} {'cells':>8} {'hidden':>8} {'share':>7} {'people':>10} {'hidden':>9} {'share':>7}")
        for name, (cells, hidden, total, lost) in table.items():
            print(
                f"{name:28} {cells:8,} {hidden:8,} {hidden / max(cells, 1):7.1%} {total:10,} {lost:9,} "
                f"{lost / max(total, 1):7.1%}"
            )
        cells, hidden, total, lost = (sum(v[i] for v in table.values()) for i in range(4))
        print(
            f"{'all files':28} {cells:8,} {hidden:8,} {hidden / max(cells, 1):7.1%} {total:10,} {lost:9,} "
            f"{lost / max(total, 1):7.1%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
