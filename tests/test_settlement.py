"""The disclosure settlement's parts, without Airflow: the complements the audit's programs
choose (flowlib.disclosure_audit.complements), and how a build hides and forgets the rows
withheld (flowlib.privacy). The settlement on whole worlds: tests/disclosure/test_settlement_world.py."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flowlib.disclosure_audit import Complement, audit, complements, relations
from flowlib.privacy import (
    WITHHELD_TABLE,
    DisclosureSettlementError,
    PrivacySpec,
    cell_key,
    forget_withheld,
    protect,
    settle,
)
from flowlib.warehouse import split_statements

K = 10
DAY = "2026-11-02"
ROOT = Path(__file__).resolve().parents[1]


def write_day(folder: Path, day: tuple[int, int], hours: list[tuple[int, int] | None]) -> None:
    """dejima's sensor stays on DAY: the day's (entries, visitors) and its hours'; None = hidden."""
    folder.mkdir(parents=True, exist_ok=True)

    def cells(value: tuple[int, int] | None) -> dict[str, str]:
        entries, visitors = ("", "") if value is None else map(str, value)
        return {"entries": entries, "visitors": visitors, "is_suppressed": "TRUE" if value is None else "FALSE"}

    base = {"service_date": DAY, "source_kind": "wifi_sensor", "facility_id": "dejima"}
    files = {
        "facility_daily": [base | {"day_type": "weekday"} | cells(day)],
        "facility_entries_hourly": [base | {"hour_of_day": str(9 + i)} | cells(value) for i, value in enumerate(hours)],
    }
    for name, rows in files.items():
        with (folder / f"{name}.csv").open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\r\n")
            writer.writeheader()
            writer.writerows(rows)


def hour_row(hour: int) -> Complement:
    return Complement("facility_visits", ("day", DAY, "wifi_sensor", "all", "all", "all", "dejima", str(hour)))


def test_a_hidden_cell_pinned_at_k_or_more_is_exposed_and_the_cheapest_row_is_withheld(tmp_path):
    # the hidden 11 o'clock hour is the day minus the others: 20 entries and 17 visitors,
    # more than k, but pinned: withholding it protected nothing
    write_day(tmp_path, (100, 90), [(50, 45), (30, 28), None])
    report = audit(tmp_path, K)
    assert {(e.cell[1], e.low, e.high) for e in report.exposed} == {("entries", 20, 20), ("visitors", 17, 17)}
    # what the settlement chooses complements from: what the files say, read once
    assert report.published == relations(tmp_path)
    rows, unresolved = complements(relations(tmp_path), report)
    # the 10 o'clock hour: fewer people (28) than the 9 o'clock hour (45) or the day (90)
    assert (rows, unresolved) == ([hour_row(10)], [])
    write_day(tmp_path, (100, 90), [(50, 45), None, None])
    assert audit(tmp_path, K).ok


def test_a_published_count_below_k_is_withheld_itself(tmp_path):
    write_day(tmp_path, (100, 90), [(50, 45), (42, 40), (8, 5)])
    report = audit(tmp_path, K)
    rows, unresolved = complements(relations(tmp_path), report)
    assert hour_row(11) in rows and not unresolved


def test_a_cell_no_row_can_widen_is_reported_unresolved(tmp_path):
    # survey answers are protected by their own rule; no build withholds them here
    folder = tmp_path
    with (folder / "survey_satisfaction_daily.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        handle.write("service_date,segment,respondents,satisfied,is_suppressed\r\n")
        handle.write(f"{DAY},all,40,30,FALSE\r\n{DAY},domestic,,,TRUE\r\n{DAY},international,25,20,FALSE\r\n")
    report = audit(folder, K)
    assert not report.ok
    rows, unresolved = complements(relations(folder), report)
    assert not rows and unresolved


@pytest.mark.parametrize("circulation_file", [True, False], ids=["twin in the circulation file", "twin in the row itself"])
def test_a_withheld_cell_shown_again_in_another_file_takes_that_row_with_it(circulation_file):
    """A row is withheld for one of its numbers (here its paid admissions); its others are
    then hidden too, and one that another file repeats (a day's visitor-days are its
    circulation visitors) would be pinned to that twin: the next round of the build would
    send it back, and the twin's row is the only way to widen it. So the twin's row is
    withheld in the same round; a relation of more cells or a bound is not a twin. A twin
    that only the withheld row's own visitors column shows (no circulation file holds a
    day's segments) is hidden with it, and its circulation row stays (withholding that
    unpublished row would withhold its week)."""
    from flowlib.disclosure_audit import AuditReport, Exposure, Published, Relation

    def spending(measure: str, segment: str) -> tuple:
        return ("spending", measure, "day", DAY, "all", "residence" if segment != "all" else "all", segment, "all")

    def circulation(segment: str) -> tuple:
        kind = "residence" if segment != "all" else "all"
        return ("circulation", "visitors", "day", DAY, "entry_log", "all", kind, segment, "all", "")

    values = {
        spending("paid_admissions", "all"): 300.0,
        spending("paid_admissions", "domestic"): 280.0,
        spending("paid_admissions", "international"): None,  # pinned at 20 by the two above
        spending("visitor_days", "all"): 100.0,
        spending("visitor_days", "domestic"): 90.0,
        spending("visitor_days", "international"): 10.0,
        circulation("all"): 100.0,
        circulation("domestic"): 90.0,
        circulation("international"): 10.0,
    }
    relations_ = [
        Relation(
            spending("paid_admissions", "all"),
            tuple(spending("paid_admissions", s) for s in ("domestic", "international")),
            "exact",
        ),
        *(Relation(spending("visitor_days", s), (circulation(s),), "exact") for s in ("all", "domestic", "international")),
        # the circulation rows' other relations: not twins
        Relation(circulation("all"), (circulation("domestic"), circulation("international")), "distinct"),
        Relation(spending("visitor_days", "all"), (spending("visitor_days", "domestic"),), "at_most"),
    ]
    origin = {cell: f"{cell[0]}_by_period.csv line 2 {cell[1]}" for cell in values}
    if not circulation_file:
        origin[circulation("domestic")] = "spending_by_period.csv line 3 visitors"
    pub = Published(values=values, origin=origin, relations=relations_)
    exposed = Exposure(spending("paid_admissions", "international"), "spending_by_period.csv line 3 paid_admissions", 20.0, 20.0)
    rows, unresolved = complements(pub, AuditReport(k=K, exposed=[exposed]))
    # the domestic spending row (91 people's cost, against 101 for 'all') and its twin
    assert rows == [
        Complement("spending", spending("visitor_days", "domestic")[2:]),
        *([Complement("circulation", circulation("domestic")[2:])] if circulation_file else []),
    ]
    assert not unresolved


def test_the_same_files_give_the_same_complements_in_every_process(tmp_path):
    """A night's settlement runs in a new process, whose Python orders sets by another hash
    seed. Many rows cost the same (here every hour counts no visitor), so a program whose
    columns came in the order of a set chose other rows, equally cheap, in another process:
    a rerun of the same night published other files. The relations, and so the programs and
    the rows withheld, follow the files' line order."""
    import os
    import subprocess
    import sys

    from conftest import PROJECT_ROOT
    from test_audit_memory import world

    world(tmp_path, seed=4)
    script = (
        "import sys\nfrom pathlib import Path\n"
        "from flowlib.disclosure_audit import audit, complements, relations\n"
        "folder = Path(sys.argv[1])\n"
        "rows, unresolved = complements(relations(folder), audit(folder, 10))\n"
        "print(repr(relations(folder).relations))\nprint(repr(rows))\nprint(repr(unresolved))"
    )
    outputs = set()
    for seed in ("1", "2", "3"):
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path)],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
    relations_text, rows_text, _ = outputs.pop().splitlines()
    assert rows_text.count("Complement(") >= 20  # the world exposes cells, and rows are withheld


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for statement in split_statements((ROOT / "sql" / "warehouse" / "01_schemas.sql").read_text(encoding="utf-8")):
        con.execute(statement)
    for statement in split_statements((ROOT / "sql" / "warehouse" / "03_ops.sql").read_text(encoding="utf-8")):
        con.execute(statement)
    return con


SPEC = PrivacySpec.from_headers(
    {
        "keys": ["period_grain, period_start, facility_id, hour_of_day"],
        "counts": ["visitors"],
        "suppress": ["visitors"],
        "margin": ["hours | vary hour_of_day | parts hour_of_day is not null | total hour_of_day is null"],
    },
    "test",
)


def _stage(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        create or replace table stage as
        select row_number() over () as __rid, * from (values
            ('day', date '2026-11-02', 'dejima', null, 90, false, null::varchar),
            ('day', date '2026-11-02', 'dejima', 9, 45, false, null),
            ('day', date '2026-11-02', 'dejima', 10, 28, false, null),
            ('day', date '2026-11-02', 'dejima', 11, 17, false, null)
        ) as t(period_grain, period_start, facility_id, hour_of_day, visitors, is_suppressed, suppression)
    """)


def test_a_build_hides_the_withheld_rows_first_and_the_margins_follow():
    con = _warehouse()
    _stage(con)
    key = cell_key(["day", DAY, "dejima", "11"])
    con.execute(
        f"insert into {WITHHELD_TABLE} values ('marts.x', 'day', ?, ?, ?, 1)", [date(2026, 11, 2), date(2026, 11, 2), key]
    )
    counts = protect(con, "stage", SPEC, K, mart="marts.x")
    hidden = con.execute("select hour_of_day, suppression from stage where is_suppressed order by hour_of_day").fetchall()
    # 11 o'clock withheld; alone in the day's hours it would be given back, so 10 o'clock too
    assert hidden == [(10, "secondary"), (11, "complement")]
    assert counts["complement"] == 1
    # another mart's withheld rows do not touch this one
    _stage(con)
    assert protect(con, "stage", SPEC, K, mart="marts.y")["complement"] == 0


def test_a_build_of_a_day_forgets_the_rows_of_its_day_and_of_the_periods_containing_it():
    con = _warehouse()
    rows = [
        ("day", date(2026, 11, 2), date(2026, 11, 2)),
        ("day", date(2026, 11, 3), date(2026, 11, 3)),
        ("iso_week", date(2026, 11, 2), date(2026, 11, 8)),
        ("iso_week", date(2026, 11, 9), date(2026, 11, 15)),
        ("month", date(2026, 11, 1), date(2026, 11, 30)),
    ]
    for number, (grain, start, end) in enumerate(rows):
        con.execute(f"insert into {WITHHELD_TABLE} values ('marts.x', ?, ?, ?, ?, 1)", [grain, start, end, str(number)])
    assert forget_withheld(con, [date(2026, 11, 3)]) == 3
    left = con.execute(f"select period_grain, period_start from {WITHHELD_TABLE} order by all").fetchall()
    assert left == [("day", date(2026, 11, 2)), ("iso_week", date(2026, 11, 9))]


def test_settle_fails_in_one_sentence_when_no_row_can_protect_a_cell(tmp_path):
    con = _warehouse()

    def write(folder: Path, changed=None) -> None:  # type: ignore[no-untyped-def]
        with (folder / "survey_satisfaction_daily.csv").open("w", encoding="utf-8-sig", newline="") as handle:
            handle.write("service_date,segment,respondents,satisfied,is_suppressed\r\n")
            handle.write(f"{DAY},all,40,30,FALSE\r\n{DAY},domestic,,,TRUE\r\n{DAY},international,25,20,FALSE\r\n")

    with pytest.raises(DisclosureSettlementError, match="no published row can be withheld to protect survey"):
        settle(con, K, write=write, rebuild=lambda days, marts: None)


def test_settle_withholds_rebuilds_and_stops_when_the_audit_passes(tmp_path):
    """A stand-in build: the files are written from which hours the warehouse withholds."""
    con = _warehouse()
    rebuilt: list[tuple[list[date], list[str]]] = []

    def write(folder: Path, changed=None) -> None:  # type: ignore[no-untyped-def]
        withheld = {row[0] for row in con.execute(f"select cell_key from {WITHHELD_TABLE}").fetchall()}
        hours = [(50, 45), (30, 28), None]
        shown = [None if cell_key(hour_row(9 + i).key) in withheld else value for i, value in enumerate(hours)]
        write_day(folder, (100, 90), shown)

    result = settle(con, K, write=write, rebuild=lambda days, marts: rebuilt.append((days, marts)))
    assert (result["rounds"], result["withheld"]) == (1, 1)
    assert rebuilt == [([date(2026, 11, 2)], ["marts.facility_visits_by_period"])]
    assert con.execute(f"select mart, period_grain, cell_key from {WITHHELD_TABLE}").fetchall() == [
        ("marts.facility_visits_by_period", "day", cell_key(hour_row(10).key))
    ]


def test_the_audits_of_one_settlement_share_one_pool_of_workers(monkeypatch):
    """Every round's audit solves in the processes the settlement started once (spawning and
    warming a pool per audit cost 0.7-0.8 s a round), and withholds what one process would."""
    import concurrent.futures

    import flowlib.disclosure_audit as disclosure_audit

    pools: list[object] = []
    maps: list[object] = []

    class CountingPool(concurrent.futures.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            pools.append(self)
            super().__init__(*args, **kwargs)

        def map(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            maps.append(self)
            return super().map(*args, **kwargs)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", CountingPool)
    monkeypatch.setattr(disclosure_audit, "BUNDLE_CELLS", 1)  # one job per component: the pool is used

    alone = _settled_hours(workers=1)
    assert not pools
    assert _settled_hours(workers=2) == alone
    # two audits (the round that withheld, the one that passed), each of several jobs, one pool
    assert alone[0]["rounds"] == 1 and len(maps) == 2 and len(pools) == 1 and maps == pools * 2


def _settle_in_a_daemon(answer) -> None:  # type: ignore[no-untyped-def]
    """In a daemonic process, as a Celery worker's task runs: the settlement with two workers."""
    import flowlib.disclosure_audit as disclosure_audit

    disclosure_audit.BUNDLE_CELLS = 1  # several jobs: a pool would be wanted
    try:
        answer.put(_settled_hours(workers=2))
    except BaseException as exc:  # noqa: BLE001 - the test reads what went wrong
        answer.put(repr(exc))


def _settled_hours(workers: int) -> tuple[dict, list]:
    """A stand-in build settled: dejima's hours, a row withheld once, with ``workers``."""
    con = _warehouse()

    def write(scratch: Path, changed=None) -> None:  # type: ignore[no-untyped-def]
        withheld = {row[0] for row in con.execute(f"select cell_key from {WITHHELD_TABLE}").fetchall()}
        hours = [(50, 45), (30, 28), None]
        shown = [None if cell_key(hour_row(9 + i).key) in withheld else value for i, value in enumerate(hours)]
        write_day(scratch, (100, 90), shown)

    result = settle(con, K, write=write, rebuild=lambda days, marts: [], workers=workers)
    result.pop("audit_seconds")
    return result, con.execute(f"select * from {WITHHELD_TABLE} order by all").fetchall()


def test_a_settlement_in_a_daemonic_process_solves_in_that_process():
    """Under the CeleryExecutor the task's process is a daemon, which may not start processes
    ("daemonic processes are not allowed to have children" failed build_marts on the Celery
    stack): the audit solves in the task's own process there, to the same rows."""
    from multiprocessing import get_context

    # spawned, not forked: a fork of the test's threaded process could hang in it; what the
    # audit sees is the same, a process whose daemon flag is set
    context = get_context("spawn")
    answer = context.Queue()
    daemon = context.Process(target=_settle_in_a_daemon, args=(answer,), daemon=True)
    daemon.start()
    got = answer.get(timeout=120)
    daemon.join(30)
    assert got == _settled_hours(workers=1)


def test_a_twin_that_only_a_spending_row_shows_is_hidden_by_withholding_that_row():
    """The twin of a withheld cell (here a facility-week's entries pinned to its one day) may
    be shown by no visit file, only by the spending row of that facility-day: withholding the
    facility-day's own row would hide nothing, so the spending row is withheld."""
    from flowlib.disclosure_audit import AuditReport, Exposure, Published, Relation

    def visits(measure: str, grain: str, facility: str) -> tuple:
        return ("facility_visits", measure, grain, DAY, "entry_log", "all", "all", "all", facility, "")

    total = ("circulation", "visitors", "iso_week", DAY, "entry_log", "all", "all", "all", "all", "")
    values = {
        total: 100.0,
        visits("visitors", "iso_week", "dejima"): 90.0,
        visits("entries", "iso_week", "dejima"): 95.0,
        visits("visitors", "iso_week", "glover_garden"): None,  # pinned at 10
        visits("entries", "day", "dejima"): 95.0,
        ("spending", "visitor_days", "day", DAY, "all", "all", "all", "dejima"): 93.0,  # the row showing it
    }
    origin = {cell: f"{cell[0]}_by_period.csv line 2 {cell[1]}" for cell in values}
    origin[visits("entries", "day", "dejima")] = "spending_by_period.csv line 5 admissions"
    relations_ = [
        Relation(total, (visits("visitors", "iso_week", "dejima"), visits("visitors", "iso_week", "glover_garden")), "exact"),
        Relation(visits("entries", "iso_week", "dejima"), (visits("entries", "day", "dejima"),), "exact"),
    ]
    pub = Published(values=values, origin=origin, relations=relations_)
    exposed = Exposure(
        visits("visitors", "iso_week", "glover_garden"), "facility_visits_by_period.csv line 3 visitors", 10.0, 10.0
    )
    rows, unresolved = complements(pub, AuditReport(k=K, exposed=[exposed]))
    assert rows == [
        Complement("facility_visits", visits("visitors", "iso_week", "dejima")[2:]),
        Complement("spending", ("day", DAY, "all", "all", "all", "dejima")),
    ]
    assert not unresolved
