"""The disclosure audit (flowlib.disclosure_audit) on hand-made published files: what it
must find, and a property test against an independent count of what subtraction gives."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowlib.disclosure_audit import audit

K = 10
DAY = "2026-11-02"


def write(folder: Path, name: str, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{name}.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def facility_day(folder: Path, total: int | None, hours: list[int | None]) -> None:
    """One sensor facility's day (entries) and its hours; None = hidden."""

    def cell(value: int | None) -> str:
        return "" if value is None else str(value)

    write(
        folder,
        "facility_daily",
        [
            {
                "service_date": DAY,
                "source_kind": "wifi_sensor",
                "facility_id": "dejima",
                "entries": cell(total),
                "visitors": "",
                "is_suppressed": "TRUE" if total is None else "FALSE",
                "day_type": "weekday",
            }
        ],
    )
    write(
        folder,
        "facility_entries_hourly",
        [
            {
                "service_date": DAY,
                "source_kind": "wifi_sensor",
                "facility_id": "dejima",
                "hour_of_day": str(9 + i),
                "entries": cell(value),
                "visitors": "",
                "is_suppressed": "TRUE" if value is None else "FALSE",
            }
            for i, value in enumerate(hours)
        ],
    )


def test_a_day_minus_its_published_hours_pins_the_hidden_hour(tmp_path):
    facility_day(tmp_path, 100, [50, 45, None])
    report = audit(tmp_path, K)
    assert not report.ok
    [exposed] = report.exposed
    assert exposed.cell == ("facility_visits", "entries", "day", DAY, "wifi_sensor", "all", "all", "all", "dejima", "11")
    assert (exposed.low, exposed.high) == (5, 5)
    assert exposed.where == "facility_entries_hourly.csv line 4 entries"
    assert "EXPOSED" in report.summary() and "line 4" in report.summary()


def test_two_hidden_hours_holding_k_together_pass(tmp_path):
    facility_day(tmp_path, 100, [50, 30, None, None])
    report = audit(tmp_path, K)
    assert report.ok and report.hidden == 2 + 5  # two hours, and every visitors cell


def test_satisfied_of_published_respondents_below_k_is_exposed(tmp_path):
    write(
        tmp_path,
        "survey_satisfaction_daily",
        [
            {"service_date": DAY, "segment": "all", "respondents": "", "satisfied": "", "is_suppressed": "TRUE"},
            {"service_date": DAY, "segment": "domestic", "respondents": "13", "satisfied": "9", "is_suppressed": "FALSE"},
        ],
    )
    report = audit(tmp_path, K)
    described = [e.describe() for e in report.exposed]
    assert any("survey.satisfied" in d for d in described)  # 9 published
    assert any("survey.not_satisfied" in d and "[4, 4]" in d for d in described)  # 13 - 9


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=2, max_size=6), st.booleans(), st.integers(0, 10_000))
def test_random_tables_fail_the_audit_exactly_when_subtraction_narrows_a_cell(tmp_path_factory, parts, total_hidden, salt):
    """Hours of one day with random hidden cells. Independently of the solver: with the day
    published, the hidden hours together hold r = day - published hours, each between 0
    and r (one hidden hour is pinned at r); with the day hidden, the day is pinned at the
    hours' sum when none is hidden. The audit fails exactly when a hidden cell is pinned or
    narrowed to less than k, whatever it holds (a withheld 388 pinned is exposed too)."""
    folder = tmp_path_factory.mktemp(f"table{salt}")
    # published hours are at least k (a published count below k is a finding of its own)
    values = [value + (K if not hidden else 0) for value, hidden in parts]
    hours = [None if hidden else value for value, (_, hidden) in zip(values, parts)]
    total = sum(values)
    facility_day(folder, None if total_hidden else total, hours)
    hidden_hours = [v for v, h in zip(values, hours) if h is None]
    if not total_hidden:
        rest = total - sum(h for h in hours if h is not None)
        exposed = len(hidden_hours) == 1 or len(hidden_hours) > 1 and rest < K
    else:
        exposed = not hidden_hours
    assert audit(folder, K).ok is not exposed


def _exposed_independently(cells, relations, values, k):
    """Each unknown cell's min and max by its own dense linprog: the definition, unshortened."""
    import numpy as np
    from scipy.optimize import linprog

    unknown = [c for c in cells if values.get(c) is None]
    index = {c: i for i, c in enumerate(unknown)}
    rows, rhs = [], []
    for total, parts in relations:
        row, constant = np.zeros(len(unknown)), 0.0
        for cell, sign in ((total, -1.0), *((p, 1.0) for p in parts)):
            if values.get(cell) is None:
                row[index[cell]] += sign
            else:
                constant -= sign * values[cell]
        rows.append(row)
        rhs.append(constant)
    found = set()
    for cell in unknown:
        objective = np.zeros(len(unknown))
        objective[index[cell]] = 1.0
        low = linprog(objective, A_eq=np.array(rows), b_eq=rhs, bounds=(0, None), method="highs")
        high = linprog(-objective, A_eq=np.array(rows), b_eq=rhs, bounds=(0, None), method="highs")
        top = np.inf if high.status == 3 else high.x[index[cell]]
        if top - low.x[index[cell]] < k - 1e-6:  # a withheld cell narrower than k, whatever it holds
            found.add(cell)
    return found


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 100_000))
def test_the_shortcuts_decide_each_cell_as_its_own_programs_would(seed):
    """Random additive tables (totals over random subsets, values 0 to 14, random cells
    published): the cells the solver's shortcuts (forced zeros, kept solutions, minimum
    first) leave exposed are exactly those that two programs per cell find exposed."""
    import numpy as np

    from flowlib.disclosure_audit import AuditReport, Relation, _Block, _forced_zero, _program, _solve_blocks

    rng = np.random.default_rng(seed)
    n_base = int(rng.integers(3, 9))
    truth = {("t", "c", i): float(rng.choice([0, 0, 1, 3, 6, 9, 14])) for i in range(n_base)}
    relations = []
    for j in range(int(rng.integers(1, 5))):
        parts = tuple(("t", "c", int(i)) for i in rng.choice(n_base, size=int(rng.integers(2, n_base + 1)), replace=False))
        total = ("t", "s", j)
        truth[total] = sum(truth[p] for p in parts)
        relations.append((total, parts))
    values = {cell: (value if rng.random() < 0.4 else None) for cell, value in truth.items()}
    k = 5
    expected = _exposed_independently(list(truth), relations, values, k)
    block = _Block(
        sorted((c for c in truth if values[c] is None), key=repr), [Relation(total, parts, "exact") for total, parts in relations]
    )
    if not block.cells:
        return
    bounds = _solve_blocks([block], values, AuditReport(k=k), k)
    found = {cell for cell, (low, high) in bounds.items() if high - low < k - 1e-6}
    assert found == expected
    # forced zeros are exactly the cells whose largest value is 0
    block.build(values, relaxed=False)
    zero = _forced_zero(_program([block]), len(block.cells))
    from scipy.optimize import linprog

    for i, cell in enumerate(block.cells):
        objective = np.zeros(len(block.cells))
        objective[i] = -1.0
        program = _program([block])
        top = linprog(
            objective, A_ub=program[0], b_ub=program[1], A_eq=program[2], b_eq=program[3], bounds=(0, None), method="highs"
        )
        assert bool(zero[i]) == (top.status == 0 and -top.fun <= 1e-6), cell


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 100_000))
def test_a_components_intervals_do_not_depend_on_its_bundle(seed):
    """Random components solved each in a bundle of its own and all in one bundle: the same
    cells narrower than k with the same ends (the audit may pack them as it likes: the
    bundle size is tuned for speed, docs/privacy.md)."""
    import numpy as np

    from flowlib import disclosure_audit
    from flowlib.disclosure_audit import AuditReport, Relation, _Block, _solve_blocks

    rng = np.random.default_rng(seed)
    blocks, values = [], {}
    for b in range(int(rng.integers(2, 7))):
        n_base = int(rng.integers(3, 8))
        truth = {("t", "c", b, i): float(rng.choice([0, 1, 3, 6, 9, 14])) for i in range(n_base)}
        relations = []
        for j in range(int(rng.integers(1, 4))):
            chosen = rng.choice(n_base, size=int(rng.integers(2, n_base + 1)), replace=False)
            parts = tuple(("t", "c", b, int(i)) for i in chosen)
            truth[("t", "s", b, j)] = sum(truth[p] for p in parts)
            relations.append(Relation(("t", "s", b, j), parts, "exact"))
        shown = {cell: (value if rng.random() < 0.4 else None) for cell, value in truth.items()}
        # every component needs a hidden cell and a published one to be solved at all
        first, last = sorted(truth)[0], sorted(truth)[-1]
        shown[first], shown[last] = None, truth[last]
        values.update(shown)
        blocks.append(_Block(sorted((c for c in truth if shown[c] is None), key=repr), relations))

    def narrow(bundle_cells: int) -> dict:
        original = disclosure_audit.BUNDLE_CELLS
        disclosure_audit.BUNDLE_CELLS = bundle_cells
        try:
            fresh = [_Block(list(block.cells), list(block.relations)) for block in blocks]
            bounds = _solve_blocks(fresh, values, AuditReport(k=5), 5)
        finally:
            disclosure_audit.BUNDLE_CELLS = original
        return {cell: (round(low, 6), round(high, 6)) for cell, (low, high) in bounds.items() if high - low < 5 - 1e-6}

    assert narrow(1) == narrow(10**9)


def test_the_audit_holds_the_cycle_collector_off_and_gives_it_back(tmp_path, monkeypatch):
    """The audit, its complements and the audit of a folder run with Python's cyclic garbage
    collector off (their cells form no cycles; a full collection in a night's process took
    0.24-0.47 s each), and leave it as they found it: on, off, or after an error."""
    import gc

    from flowlib import audit_verdicts, disclosure_audit

    facility_day(tmp_path / "files", 30, [25, None, None])  # two hours hold 5 together
    seen = []
    union_find, choosing = disclosure_audit._UnionFind, disclosure_audit._Complements

    class WatchedUnionFind(union_find):  # built once by each audit
        def __init__(self) -> None:
            seen.append(("audit", gc.isenabled()))
            super().__init__()

    class WatchedComplements(choosing):
        def __init__(self, *args) -> None:
            seen.append(("complements", gc.isenabled()))
            super().__init__(*args)

    monkeypatch.setattr(disclosure_audit, "_UnionFind", WatchedUnionFind)
    monkeypatch.setattr(disclosure_audit, "_Complements", WatchedComplements)
    assert gc.isenabled()
    report = audit(tmp_path / "files", K)
    assert not report.ok and gc.isenabled()
    disclosure_audit.complements(report.published, report)
    assert gc.isenabled()
    audit_verdicts.audit_once(tmp_path / "files", K, 1, tmp_path / "verdicts")
    assert seen == [("audit", False), ("complements", False), ("audit", False)] and gc.isenabled()
    gc.disable()
    try:
        audit(tmp_path / "files", K)
        assert not gc.isenabled()  # an outer pause is kept
    finally:
        gc.enable()

    def failing(folder):
        assert not gc.isenabled()
        raise OSError("unreadable")

    monkeypatch.setattr(disclosure_audit, "relations", disclosure_audit.paused_cycle_collection()(failing))
    with pytest.raises(OSError):
        audit(tmp_path / "files", K)
    assert gc.isenabled()


# ------------------------------------------------------------------ the derived files


def hidden_card_day(folder: Path) -> tuple:
    """dejima's card payers of DAY, hidden in facility_daily; returns their cell."""
    write(
        folder,
        "facility_daily",
        [
            {
                "service_date": DAY,
                "source_kind": "entry_log",
                "facility_id": "dejima",
                "entries": "",
                "visitors": "",
                "domestic_visitors": "",
                "international_visitors": "",
                "unknown_visitors": "",
                "is_suppressed": "TRUE",
                "day_type": "weekday",
            }
        ],
    )
    return ("facility_visits", "visitors", "day", DAY, "entry_log", "all", "all", "all", "dejima", "")


def all_visitors_day(folder: Path, **published: str) -> None:
    row = {
        "service_date": DAY,
        "facility_id": "dejima",
        "cashless_visitors": "",
        "reported_admissions": "",
        "cashless_share": "",
        "share_basis": "same_day",
        "all_visitors_estimate": "",
        "is_estimate": "FALSE",
        "is_suppressed": "TRUE",
    }
    write(folder, "all_visitors_facility_daily", [row | published])


def exposed_cells(folder: Path) -> dict[tuple, tuple[float, float]]:
    return {e.cell: (e.low, e.high) for e in audit(folder, K).exposed}


def exposed_once_published(
    folder: Path, name: str, row: dict[str, str], published: dict[str, str]
) -> dict[tuple, tuple[float, float]]:
    """The cells exposed once ``published`` fills in ``row`` of the file ``name``, after checking that
    the row withheld gives nothing away: every derived file's test is this before and after."""
    write(folder, name, [row])
    assert audit(folder, K).ok
    write(folder, name, [row | published])
    return exposed_cells(folder)


# The counts of spending_by_period, in the file's column order
SPENDING_COUNTS = (
    "visitors",
    "visitor_days",
    "admissions",
    "paid_admissions",
    "revenue_jpy",
    "revenue_per_visitor_day",
    "revenue_per_paid_admission",
)


def spending_day(facility: str, suppressed: bool, **counts: str) -> dict[str, str]:
    """A spending_by_period row of DAY for all visitors with its counts withheld (empty) unless
    given: the spending tests differ only in the facility and the counts they publish."""
    assert set(counts) <= set(SPENDING_COUNTS), counts
    return {
        "period_grain": "day",
        "period_start": DAY,
        "period_end": DAY,
        "day_type": "all",
        "segment_kind": "all",
        "segment": "all",
        "facility_id": facility,
        **{column: counts.get(column, "") for column in SPENDING_COUNTS},
        "is_suppressed": "TRUE" if suppressed else "FALSE",
    }


def withheld_pair(**key: str) -> dict[str, str]:
    """dejima -> glover_garden in a transitions file, every count withheld: the hidden pair that
    the derived files must not give back. ``key`` holds the file's own key columns, placed first."""
    return key | {
        "from_facility_id": "dejima",
        "to_facility_id": "glover_garden",
        "transitions": "",
        "visitors": "",
        "next_probability": "",
        "is_suppressed": "TRUE",
    }


def test_cashless_share_times_reported_admissions_pins_a_hidden_card_count(tmp_path):
    cell = hidden_card_day(tmp_path)
    all_visitors_day(tmp_path)
    assert audit(tmp_path, K).ok  # the hidden row alone tells nothing
    all_visitors_day(tmp_path, reported_admissions="20", cashless_share="0.35")
    low, high = exposed_cells(tmp_path)[cell]
    assert 6.99 < low <= high < 7.01  # 0.35 x 20 = 7 card payers


def test_an_estimate_divided_back_by_its_share_narrows_a_hidden_card_count(tmp_path):
    cell = hidden_card_day(tmp_path)
    all_visitors_day(tmp_path, all_visitors_estimate="20", cashless_share="0.35", share_basis="other_days", is_estimate="TRUE")
    low, high = exposed_cells(tmp_path)[cell]
    assert 6.8 < low <= 7 <= high < 7.2  # 20 x 0.35, within the roundings


def test_revenue_over_revenue_per_visitor_day_gives_back_hidden_visitors(tmp_path):
    cell = hidden_card_day(tmp_path)
    revenue = {"revenue_jpy": "3500", "revenue_per_visitor_day": "500.0"}
    exposed = exposed_once_published(tmp_path, "spending_by_period", spending_day("dejima", suppressed=True), revenue)
    low, high = exposed[cell]
    assert 6.99 < low <= high < 7.01


def test_spending_admissions_of_every_facility_minus_the_others_give_back_hidden_entries(tmp_path):
    """'all' admissions minus the published facilities' entries pins the hidden one."""
    rows = [
        spending_day(facility, suppressed=not admissions, visitors=visitors, visitor_days=visitors, admissions=admissions)
        for facility, admissions, visitors in (("all", "60", "55"), ("dejima", "", ""), ("glover_garden", "54", "50"))
    ]
    write(tmp_path, "spending_by_period", rows)
    entries = ("facility_visits", "entries", "day", DAY, "entry_log", "all", "all", "all", "dejima", "")
    low, high = exposed_cells(tmp_path)[entries]
    assert (low, high) == (6, 6)


def test_observed_moves_of_a_pair_hidden_in_the_period_file_are_exposed(tmp_path):
    week = {
        "period_grain": "iso_week",
        "period_start": DAY,
        "period_end": "2026-11-08",
        "source_kind": "entry_log",
        "day_type": "all",
        "segment_kind": "all",
        "segment": "all",
    }
    write(tmp_path, "transitions_by_period", [withheld_pair(**week)])
    opportunity = {
        "period_grain": "iso_week",
        "period_start": DAY,
        "source_kind": "entry_log",
        "segment": "all",
        "from_facility_id": "dejima",
        "to_facility_id": "glover_garden",
        "observed_moves": "",
        "is_suppressed": "TRUE",
    }
    exposed = exposed_once_published(
        tmp_path, "opportunity_pairs", opportunity, {"observed_moves": "6", "is_suppressed": "FALSE"}
    )
    moves = ("transitions", "transitions", "iso_week", DAY, "entry_log", "all", "all", "all", "dejima", "glover_garden")
    assert exposed[moves] == (6, 6)


def test_an_all_visitor_flow_estimate_narrows_a_hidden_pair(tmp_path):
    write(tmp_path, "transitions_daily", [withheld_pair(service_date=DAY, source_kind="entry_log") | {"day_type": "weekday"}])
    flow = {
        "service_date": DAY,
        "measure": "transition",
        "from_facility_id": "dejima",
        "to_facility_id": "glover_garden",
        "route": "",
        "cashless_visitors": "",
        "share_used": "",
        "all_visitors_estimate": "",
        "is_estimate": "FALSE",
        "is_suppressed": "TRUE",
    }
    estimate = {"share_used": "0.35", "all_visitors_estimate": "20", "is_estimate": "TRUE"}
    exposed = exposed_once_published(tmp_path, "all_visitors_flows_daily", flow, estimate)
    visitors = ("transitions", "visitors", "day", DAY, "entry_log", "all", "all", "all", "dejima", "glover_garden")
    low, high = exposed[visitors]
    assert 6.8 < low <= 7 <= high < 7.2


def test_an_audit_worker_exits_when_the_night_that_started_it_is_killed(tmp_path):
    """SIGKILL of the audit's process (a stopped task) must not leave its workers solving on."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "night.py"
    script.write_text(
        "import os, sys, time\n"
        "from flowlib.disclosure_audit import solver_pool\n"
        "if __name__ == '__main__':\n"
        "    with solver_pool(2) as pool:\n"
        "        print(pool.submit(os.getpid).result(), flush=True)\n"
        "        pool.submit(time.sleep, 120)\n"
        "        time.sleep(120)\n",
        encoding="utf-8",
    )
    night = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(night.stdout.readline())
    os.kill(night.pid, signal.SIGKILL)
    night.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        # a zombie is gone for practical purposes: it takes no CPU
        status = Path(f"/proc/{worker}/status")
        if status.exists() and "zombie" in status.read_text():
            break
        time.sleep(0.2)
    else:
        os.kill(worker, signal.SIGKILL)
        raise AssertionError(f"the audit worker {worker} outlived its killed parent by 15 s")
