"""Components solved before are not solved again (flowlib.disclosure_audit.BlockMemory).

The audit splits what the files say into components that share no cell; a component whose
program is the same (its cells, relations, the values they name, k and the audit's code) has
the same verdict. An audit that remembers must report exactly what an audit that solves
everything reports, for files that changed anywhere, and solve only what changed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_disclosure_audit import write

from flowlib import audit_verdicts
from flowlib.audit_verdicts import audit_once, block_memory
from flowlib.disclosure_audit import AuditReport, BlockMemory, audit

K = 10
DAY = "2026-11-02"
FACILITIES = [f"facility_{i:02d}" for i in range(14)]


def world(folder, seed: int, changed: dict[str, int] | None = None) -> set[tuple[str, str]]:
    """Each facility's day and its eight hours, a few hours hidden: some hidden hours can be
    told apart by subtraction (exposed), some cannot. ``changed``: facility -> an hour whose
    value is raised by 3 (a correction in one component). Returns what subtraction exposes,
    worked out by hand: (facility, hour) or (facility, "day")."""
    rng = np.random.default_rng(seed)
    days, hours = [], []
    exposed: set[tuple[str, str]] = set()
    for facility in FACILITIES:
        values = rng.integers(0, 30, 8)
        if changed and facility in changed:
            values[changed[facility]] += 3
        hidden = set(rng.choice(8, size=int(rng.integers(1, 4)), replace=False).tolist())
        day_hidden = rng.random() < 0.2
        # published below k; a hidden hour pinned by the day minus the others (alone), or
        # hidden hours whose sum, known from the day, is below k (each lies in 0..sum)
        exposed |= {(facility, str(9 + h)) for h, v in enumerate(values) if h not in hidden and 0 < v < K}
        exposed |= {(facility, "day")} if not day_hidden and 0 < values.sum() < K else set()
        if not day_hidden and (len(hidden) == 1 or sum(values[h] for h in hidden) < K):
            exposed |= {(facility, str(9 + h)) for h in hidden}
        days.append(
            {
                "service_date": DAY,
                "source_kind": "wifi_sensor",
                "facility_id": facility,
                "entries": "" if day_hidden else str(int(values.sum())),
                "visitors": "",
                "is_suppressed": "TRUE" if day_hidden else "FALSE",
                "day_type": "weekday",
            }
        )
        hours += [
            {
                "service_date": DAY,
                "source_kind": "wifi_sensor",
                "facility_id": facility,
                "hour_of_day": str(9 + hour),
                "entries": "" if hour in hidden else str(int(value)),
                "visitors": "",
                "is_suppressed": "TRUE" if hour in hidden else "FALSE",
            }
            for hour, value in enumerate(values)
        ]
    write(folder, "facility_daily", days)
    write(folder, "facility_entries_hourly", hours)
    return exposed


def _by_hand(report: AuditReport) -> set[tuple[str, str]]:
    """(facility, hour or "day") of each exposed cell (an hour's cell ends with facility, hour)."""
    return {(e.cell[-2], e.cell[-1]) if e.cell[-1].isdigit() else (e.cell[-1], "day") for e in report.exposed}


def _verdict(report: AuditReport) -> tuple:
    return (
        report.exposed,
        report.relaxed_components,
        report.relaxed_cells,
        report.inconsistent_components,
        report.components,
        report.solved,
        report.narrowed_large,
    )


def test_a_remembered_audit_reports_what_solving_everything_reports(tmp_path):
    folder = tmp_path / "a"
    expected = world(folder, seed=1)
    fresh = audit(folder, K)
    assert fresh.exposed and fresh.solved >= 10, "the world must hold exposed and safe components"
    memory = BlockMemory("code")
    first = audit(folder, K, 1, memory)
    assert first.components_remembered == 0 and len(memory.used) == first.solved
    again = audit(folder, K, 1, memory)
    assert again.components_remembered == again.solved and again.cell_programs == 0
    assert _verdict(first) == _verdict(again) == _verdict(fresh)
    assert _by_hand(again) == expected


@pytest.mark.parametrize("seed", [2, 3, 4, 5])
def test_a_change_in_one_component_solves_that_component_again_and_nothing_else(tmp_path, seed):
    before, after = tmp_path / "before", tmp_path / "after"
    world(before, seed=seed)
    memory = BlockMemory("code")
    audit(before, K, 1, memory)
    # the same world with one hour of one facility corrected (published or hidden, it moves
    # the day total: the component's program is another)
    expected = world(after, seed=seed, changed={FACILITIES[seed]: 0})
    remembered = audit(after, K, 1, memory)
    fresh = audit(after, K)
    assert remembered.solved - remembered.components_remembered == 1
    assert _verdict(remembered) == _verdict(fresh)
    assert _by_hand(remembered) == expected


def test_another_k_or_code_remembers_nothing(tmp_path):
    folder = tmp_path / "a"
    world(folder, seed=6)
    memory = BlockMemory("code")
    audit(folder, K, 1, memory)
    assert audit(folder, K + 1, 1, memory).components_remembered == 0
    other = BlockMemory("another version", known=dict(memory.known))
    assert audit(folder, K, 1, other).components_remembered == 0


def test_component_verdicts_are_kept_on_disk_between_audits(tmp_path):
    verdicts = tmp_path / "verdicts"
    before, after = tmp_path / "before", tmp_path / "after"
    world(before, seed=7)
    first = audit_once(before, K, 1, verdicts)
    files = list((verdicts / "blocks").glob("*.json"))
    assert len(files) == 1 and first.components_remembered == 0
    world(after, seed=7, changed={FACILITIES[3]: 5})
    second = audit_once(after, K, 1, verdicts)
    assert second.solved - second.components_remembered == 1
    assert _verdict(second) == _verdict(audit(after, K))
    # a damaged file is left out: its components are solved again, never trusted
    for path in (verdicts / "blocks").glob("*.json"):
        path.write_text(json.dumps({"0" * 64: {"narrow": "not a list of cells"}}), encoding="utf-8")
    assert block_memory(verdicts).known == {}
    third = audit_once(after, K, 1, verdicts)
    assert third.components_remembered == 0 and _verdict(third) == _verdict(second)


def test_only_the_newest_component_files_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(audit_verdicts, "BLOCK_FILES_KEPT", 2)
    verdicts = tmp_path / "verdicts"
    for seed in range(4):
        folder = tmp_path / f"w{seed}"
        world(folder, seed=10 + seed)
        audit_once(folder, K, 1, verdicts)
    assert len(list((verdicts / "blocks").glob("*.json"))) == 2


def test_a_verdict_is_found_again_by_another_process(tmp_path):
    """Each night's audits run in new processes, whose Python orders sets by another hash
    seed: a component must have the same digest there, or no verdict is ever found again."""
    import os
    import subprocess
    import sys

    from conftest import PROJECT_ROOT

    before, after = tmp_path / "before", tmp_path / "after"
    world(before, seed=8)
    world(after, seed=8, changed={FACILITIES[3]: 0})
    verdicts = tmp_path / "verdicts"
    script = (
        "import json, sys\nfrom pathlib import Path\nfrom flowlib.audit_verdicts import audit_once\n"
        "r = audit_once(Path(sys.argv[1]), 10, 1, Path(sys.argv[2]))\n"
        "print(json.dumps([r.solved, r.components_remembered]))"
    )
    found = []
    for folder, seed in ((before, "1"), (after, "2")):
        done = subprocess.run(
            [sys.executable, "-c", script, str(folder), str(verdicts)],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        )
        found.append(json.loads(done.stdout.strip().splitlines()[-1]))
    (solved, remembered), (solved_after, remembered_after) = found
    assert solved >= 10 and remembered == 0
    assert solved_after == solved and remembered_after == solved - 1  # only the changed component
