"""History behind the demo fortnight: eight weeks of everything, and a year of survey answers.

Why: a forecast needs weeks of admissions to learn weekdays, holidays and cruise calls, and
the KPI's path needs months of answers; the demo fortnight alone has neither. Two parts:

* **Daily history** (``HISTORY_WEEKS`` weeks before ``DEMO_START``): the very same simulation
  as the fortnight (``flowlib.demo.generate``), so admissions, Wi-Fi and daily survey files
  have the fortnight's volumes and cruise surges (the calls of ``flowlib.demo_calendar``).
  It is generated in its own call, so the fortnight's files and ground truth do not change;
  its truth goes to ``demo_history_truth.json``. The nightly DAG loads it like any night.
* **Survey archive** (12 months before the daily history): the web form's monthly archive
  export (``survey/web_archive/YYYY-MM.csv``, source ``survey_web_archive``, a snapshot).
  Answers are drawn directly (no visitor simulation: the cheap path, 0.1 s a month) with the
  fortnight's answer distributions, the satisfied share drifting up by
  ``MONTHLY_TREND`` a month towards the fortnight's level.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from flowlib import demo
from flowlib.atomic import write_bytes_atomic
from flowlib.config import Settings, get_settings

HISTORY_WEEKS = 8
ARCHIVE_MONTHS = 12
ARCHIVE_PATH = "survey/web_archive/{month}.csv"
#: Satisfied share rises this much per month (archive months only) up to the fortnight's level.
MONTHLY_TREND = 0.002
#: Visited facilities drawn for an archive answer, weight = attraction.
_ARCHIVE_FACILITIES = {f: g.attraction for f, g in demo.GATES.items() if g.attraction > 0}


def history_first(start: date = demo.DEMO_START, weeks: int = HISTORY_WEEKS) -> date:
    return start - timedelta(weeks=weeks)


def _months_between(first: date, last: date) -> list[date]:
    """First days of the calendar months touching [first, last]."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _archive_day(rng: np.random.Generator, day: date, months_back: int) -> list[list[str]]:
    kind = demo._day_kind(day)
    count = int(np.clip(rng.poisson(demo.SURVEY_BASE[kind]), *demo.SURVEY_RANGE))
    # The same planted response bias as the daily survey: international visitors answer more often.
    international_odds = demo.INTERNATIONAL_RESPONSE_PROPENSITY * demo.INTERNATIONAL_VISITORS / demo.DOMESTIC_VISITORS
    international = rng.random(count) < international_odds / (1 + international_odds)
    countries = list(demo.INTERNATIONAL_COUNTRIES)
    weights = np.array(list(demo.INTERNATIONAL_COUNTRIES.values()))
    residence = np.where(international, rng.choice(countries, size=count, p=weights / weights.sum()), "JP")
    prefectures = list(demo.PREFECTURES)
    pref_w = np.array(list(demo.PREFECTURES.values()))
    prefecture = np.where(international, "", rng.choice(prefectures, size=count, p=pref_w / pref_w.sum()))
    native = np.select([np.isin(residence, ["CN", "TW", "HK"]), residence == "KR"], ["zh", "ko"], "en")
    language = np.where(~international, "ja", np.where(rng.random(count) < 0.85, native, "en"))
    source_p = np.where(international[:, None], demo.INTERNATIONAL_SOURCE_P, demo.DOMESTIC_SOURCE_P)
    sources = rng.random((count, len(demo.INFO_SOURCES))) < source_p
    sources[~sources.any(axis=1), demo.INFO_SOURCES.index("map_app")] = True
    top_two = np.where(international, demo.INTERNATIONAL_TOP_TWO, demo.DOMESTIC_TOP_TWO) - MONTHLY_TREND * months_back
    info = np.where(
        rng.random(count) < top_two,
        rng.choice([4, 5], size=count, p=[0.62, 0.38]),
        rng.choice([1, 2, 3], size=count, p=[0.10, 0.25, 0.65]),
    )
    skip = rng.random(count)
    answered = skip >= demo.NO_ANSWER_SHARE + demo.NOT_APPLICABLE_SHARE
    info_text = np.where(answered, info.astype(str), np.where(skip < demo.NO_ANSWER_SHARE, "", "9"))
    overall = np.clip(np.rint(info + rng.normal(0.4, 0.8, size=count)), 1, 5).astype(int)
    recommend = np.clip(np.rint(2 * overall - 1 + rng.normal(0, 1.3, size=count)), 0, 10).astype(int)
    facility_ids = list(_ARCHIVE_FACILITIES)
    facility_w = np.array(list(_ARCHIVE_FACILITIES.values()))
    minutes = np.sort(rng.integers(10 * 60, 22 * 60, size=count))
    midnight = datetime.combine(day, datetime.min.time())
    rows = []
    for i in range(count):
        visited = rng.choice(facility_ids, size=int(rng.integers(1, 4)), replace=False, p=facility_w / facility_w.sum())
        rows.append(
            [
                f"ARC-{day:%Y%m%d}-{i + 1:04d}",
                (midnight + timedelta(minutes=int(minutes[i]))).strftime("%Y-%m-%d %H:%M:%S"),
                str(language[i]),
                str(residence[i]),
                str(prefecture[i]),
                str(info_text[i]),
                str(overall[i]),
                str(recommend[i]),
                ";".join(c for c, used in zip(demo.INFO_SOURCES, sources[i]) if used),
                ";".join(visited.tolist()),
                "",
            ]
        )
    return rows


def write_survey_archive(landing_dir: Path, first: date, last: date, *, seed: int = demo.DEFAULT_SEED) -> int:
    """Monthly archive files for answers from ``first`` to ``last``; returns the answers written."""
    written = 0
    for month in _months_between(first, last):
        rows: list[list[str]] = []
        day = max(month, first)
        while day <= last and day.month == month.month:
            months_back = (demo.DEMO_START.year - day.year) * 12 + demo.DEMO_START.month - day.month
            rows += _archive_day(np.random.default_rng([seed, 7, day.toordinal()]), day, months_back)
            day += timedelta(days=1)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(demo.SURVEY_HEADER)
        writer.writerows(rows)
        write_bytes_atomic(landing_dir / ARCHIVE_PATH.format(month=f"{month:%Y-%m}"), buffer.getvalue().encode("utf-8"))
        written += len(rows)
    return written


def generate_history(
    landing_dir: Path,
    *,
    start: date = demo.DEMO_START,
    weeks: int = HISTORY_WEEKS,
    archive_months: int = ARCHIVE_MONTHS,
    seed: int = demo.DEFAULT_SEED,
    scale: float = 1.0,
    report=None,
) -> demo.GroundTruth:
    """Daily history [start - weeks, start - 1] plus the survey archive for the months before it."""
    first = history_first(start, weeks)
    truth = demo.generate(landing_dir, first, start - timedelta(days=1), seed=seed, scale=scale, report=report)
    archive_first = (first.replace(day=1) - timedelta(days=1)).replace(day=1)
    for _ in range(archive_months - 1):
        archive_first = (archive_first - timedelta(days=1)).replace(day=1)
    answers = write_survey_archive(landing_dir, archive_first, first - timedelta(days=1), seed=seed)
    if report:
        report(f"demo history: survey archive {archive_first} .. {first - timedelta(days=1)} ({answers:,} answers)")
    return truth


def history_built(settings: Settings, start: date = demo.DEMO_START, weeks: int = HISTORY_WEEKS) -> bool:
    """True when the warehouse has built every day of the history before ``start``.

    ``make run`` asks this instead of keeping a marker file beside the data: a marker says
    that a warehouse once held the history, not that this one does (a deleted warehouse, or
    FLOW_WAREHOUSE pointed at another file, kept the marker and lost the eight weeks the
    forecast trains on)."""
    from flowlib.models import runner_sql
    from flowlib.warehouse import reader

    if not settings.warehouse_path.is_file():
        return False
    first, last = history_first(start, weeks), start - timedelta(days=1)
    with reader(settings) as con:
        if con.execute(runner_sql("relation_kind"), ["intermediate", "model_build_days"]).fetchone() is None:
            return False
        built = con.execute(runner_sql("days_built"), [first, last]).fetchone()[0]
    return built == (last - first).days + 1


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m flowlib.demo_history", description=__doc__.splitlines()[0])
    parser.add_argument("--landing-dir", type=Path, default=settings.landing_dir)
    parser.add_argument(
        "--start", type=date.fromisoformat, default=demo.DEMO_START, help="the demo's first day; history ends the day before"
    )
    parser.add_argument("--weeks", type=int, default=HISTORY_WEEKS)
    parser.add_argument("--archive-months", type=int, default=ARCHIVE_MONTHS)
    parser.add_argument("--print-first", action="store_true", help="only print the history's first day")
    parser.add_argument(
        "--built",
        action="store_true",
        help="generate nothing; exit 0 when the warehouse has built every day of the history, 1 when not",
    )
    args = parser.parse_args(argv)
    if args.print_first:
        print(history_first(args.start, args.weeks))
        return 0
    if args.built:
        built = history_built(settings, args.start, args.weeks)
        print(f"demo history {'already built' if built else 'not built yet'} in {settings.warehouse_path}")
        return 0 if built else 1
    truth = generate_history(
        args.landing_dir, start=args.start, weeks=args.weeks, archive_months=args.archive_months, report=print
    )
    path = args.landing_dir.parent / "demo_history_truth.json"
    write_bytes_atomic(
        path,
        json.dumps(
            {
                "start": truth.start,
                "end": truth.end,
                "days": {
                    d: {"day_type": t.day_type, "cruise_call": t.cruise_call, "entries_per_facility": t.entries_per_facility}
                    for d, t in truth.days.items()
                },
            },
            ensure_ascii=False,
            indent=1,
        ).encode("utf-8"),
    )
    print(f"demo history: truth written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
