"""Reliability and security figures, measured with the machinery the tests of
tests/reliability/ assert with (bench/reliability/; this script imports no test module).

Prints (and writes to bench/results/reliability-<time>.json):

- faults injected and survived: SIGKILLs of the real CLI during ingest, a mart rebuild and
  dashboard writing (plus, with --fractions, at 20/45/70/95 % of a measured run), and lock
  contention between concurrent writers; "survived" = no torn partition or page after the
  fault, and the rerun equals an uninterrupted run (or, for contention, every writer
  succeeded with no lock error shown);
- bad inputs tried and their outcomes: every case of tests/hostile/cases.yaml;
- good rows lost (must be 0): rows the corpus marks as good that did not reach raw.*;
- leaks found (must be 0): planted raw card, device and answer ids, or their unkeyed
  SHA-256, anywhere in the warehouse, run files, pages, Data Docs, exports, CLI output or
  Python log records; plus reruns that were not byte-identical and hidden cells recovered
  by differencing the published marts.

    .venv/bin/python bench/reliability_report.py               # about 4-6 minutes on 2 cores
    .venv/bin/python bench/reliability_report.py --fractions   # + 4 time-based kills
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from bench.reliability import corpus as corpus_mod  # noqa: E402
from bench.reliability import crash as crash_mod  # noqa: E402
from bench.reliability import harness as h  # noqa: E402


def _reference(root: Path) -> dict:
    handler, detach = h.capture_logging()
    try:
        h.run_in_process(root)
        warehouse = root / "data" / "warehouse.duckdb"
        ref = {
            "tables": h.snapshot(warehouse),
            "partitions": h.partitions(warehouse),
            "marts_csv": h.export_marts_csv(warehouse, root / "marts_csv"),
        }
        ref["exports"] = {p.name: p.read_bytes() for p in h.build_exports(root)}
    finally:
        detach()
    ref["pages"] = {n: h.normalise_folium_ids(t) for n, t in h.daily_pages(root).items()}
    ref["raw_pages"] = h.daily_pages(root)
    ref["log_text"] = handler.text
    return ref


def _same_as_reference(root: Path, ref: dict) -> list[str]:
    warehouse = root / "data" / "warehouse.duckdb"
    problems = []
    got = h.snapshot(warehouse)
    problems += [f"{t} differs" for t in ref["tables"] if got.get(t) != ref["tables"][t]]
    if h.export_marts_csv(warehouse, root / "marts_csv_check") != ref["marts_csv"]:
        problems.append("marts CSV differ")
    if {n: h.normalise_folium_ids(t) for n, t in h.daily_pages(root).items()} != ref["pages"]:
        problems.append("daily pages differ (after normalising folium ids)")
    if {p.name: p.read_bytes() for p in h.build_exports(root)} != ref["exports"]:
        problems.append("CSV exports differ")
    return problems


def _crash_row(crash, fault: str, problems: list[str], survivable_codes: tuple[int, ...]) -> dict:
    """One killed run as a report row: survived when it ended as expected (killed, or finished
    before the kill), left no torn partition or incomplete page, and the rerun matched."""
    return {
        "fault": fault,
        "marker": crash.marker,
        "after_s": round(crash.seconds or 0, 1),
        "wal_on_disk": crash.wal_on_disk,
        "torn_partitions": crash.torn_partitions,
        "incomplete_pages": crash.incomplete_pages,
        "temp_files_left": crash.temp_files,
        "rerun_problems": problems,
        "survived": crash.returncode in survivable_codes
        and not crash.torn_partitions
        and not crash.incomplete_pages
        and not problems,
    }


def measure_crashes(dataset: Path, work: Path, ref: dict, fractions: bool) -> tuple[list[dict], crash_mod.Chain]:
    faults = []
    chain = crash_mod.run_chain(h.clone(dataset, work / "crash"), ref["partitions"])
    final_problems = [] if chain.final.returncode == 0 else [f"final rerun exit code {chain.final.returncode}"]
    final_problems += _same_as_reference(chain.root, ref) if chain.final.returncode == 0 else []
    for crash in chain.crashes:
        faults.append(_crash_row(crash, f"SIGKILL {crash.point} ({crash.command})", final_problems, (-9,)))
    if fractions:
        measured = h.clone(dataset, work / "measured")
        started = time.monotonic()
        run = h.KillableRun(measured, ("run", *crash_mod.RANGE)).run()
        duration = time.monotonic() - started
        root = h.clone(dataset, work / "fractions")
        crashes = []
        for fraction in (0.2, 0.45, 0.7, 0.95):
            crashes.append(
                crash_mod.kill_and_inspect(
                    root,
                    f"at {fraction:.0%} of a {duration:.0f} s run",
                    ("run", *crash_mod.RANGE),
                    h.after_seconds(fraction * duration, f"after {fraction:.0%}"),
                    ref["partitions"],
                )
            )
        final = h.KillableRun(root, ("run", *crash_mod.RANGE)).run()
        problems = ([] if run.returncode == 0 else ["uninterrupted CLI run failed"]) + (
            [] if final.returncode == 0 else [f"final rerun exit code {final.returncode}"]
        )
        problems += _same_as_reference(root, ref) if final.returncode == 0 else []
        faults.extend(_crash_row(crash, f"SIGKILL {crash.point}", problems, (-9, 0)) for crash in crashes)
    return faults, chain


def measure_contention(dataset: Path, work: Path, ref: dict) -> list[dict]:
    result = h.run_contention(h.clone(dataset, work / "contention"))
    got = h.partitions(result["root"] / "data" / "warehouse.duckdb")
    day = h.DEMO_DATES[0]
    complete = all(
        got.get(k) == ref["partitions"].get(k)
        for k in [("raw.entry_log", "entry_pos_a", day), ("raw.survey_response", "survey_web", day)]
    )
    shown = [m for name in ("entry_pos_a", "survey_web") for m in h.LOCK_ERRORS if m in result["logs"][name]]
    impatient = result["logs"]["impatient"]
    return [
        {
            "fault": "two CLI ingests of different sources start while the warehouse is locked",
            "survived": result["both_waited"]
            and result["codes"]["entry_pos_a"] == 0
            and result["codes"]["survey_web"] == 0
            and complete
            and not shown,
            "lock_errors_shown": shown,
            "both_waited": result["both_waited"],
            "loads_complete": complete,
        },
        {
            "fault": "a writer whose lock wait (1 s) runs out",
            "survived": result["codes"]["impatient"] == 2
            and "stayed locked" in impatient
            and not any(m in impatient for m in h.LOCK_ERRORS),
            "exit_code": result["codes"]["impatient"],
        },
    ]


def measure_privacy(ref_root: Path, ref: dict, chain: crash_mod.Chain) -> dict:
    ids = h.planted_ids() | h.demo_card_ids(ref_root)
    needles = h.needles_for(ids)
    h.build_exports(chain.root)
    hits = []
    for root in (ref_root, chain.root):
        hits += h.scan_warehouse(root / "data" / "warehouse.duckdb", ids)
        hits += h.scan_files(h.run_outputs(root), needles)
    hits += h.scan_text("python logging (in-process run)", ref["log_text"], needles)
    for number, run in enumerate(chain.runs, start=1):
        hits += h.scan_text(f"CLI run {number} stderr", run.log, needles)
        hits += h.scan_text(f"CLI run {number} stdout", run.stdout, needles)
    files = len(h.run_outputs(ref_root)) + len(h.run_outputs(chain.root))
    return {
        "ids_planted_or_sampled": len(ids),
        "files_scanned": files,
        "cli_runs_scanned": len(chain.runs),
        "log_records_scanned": ref["log_text"].count("\n") + 1,
        "leaks": hits,
    }


def measure_idempotency(root: Path, ref: dict) -> list[dict]:
    out = []
    for label, dates in (("rerun day 1", h.DEMO_DATES[:1]), ("rerun the whole range", h.DEMO_DATES)):
        h.run_in_process(root, dates)
        problems = _same_as_reference(root, ref)
        raw_same = h.daily_pages(root) == ref["raw_pages"]
        out.append(
            {
                "rerun": label,
                "identical": not problems,
                "problems": problems,
                "daily_pages_byte_identical_without_normalising": raw_same,
            }
        )
    return out


def measure_differencing(ref_root: Path) -> dict:
    import shutil
    from dataclasses import replace

    import duckdb

    from bench.reliability import differencing as attack
    from flowlib.pipeline import build_marts

    truth_root = Path(tempfile.mkdtemp(prefix="flow-truth-"))
    try:
        (truth_root / "data").mkdir()
        shutil.copy2(ref_root / "data" / "warehouse.duckdb", truth_root / "data" / "warehouse.duckdb")
        build_marts(h.DEMO_DATES, replace(h.make_settings(truth_root), min_cell_count=1))
        marts = {"k": h.make_settings(ref_root).min_cell_count, "published": {}, "truth": {}}
        for side, path in (("published", ref_root), ("truth", truth_root)):
            con = duckdb.connect(str(path / "data" / "warehouse.duckdb"), read_only=True)
            try:
                for table in attack.COUNTS:
                    marts[side][table] = attack.rows(con, table)
            finally:
                con.close()
        found = {name: fn(marts) for name, fn in sorted(attack.ATTACKS.items())}
        # the outsider's attacks of issue 12 on the published open-data files
        from bench.reliability import open_data_attacks as outsider
        from flowlib.opendata import write_files
        from flowlib.warehouse import reader

        truth_settings = replace(h.make_settings(truth_root), min_cell_count=1)
        truth_files = truth_settings.dashboards_dir / "exports"
        truth_files.mkdir(parents=True)
        with reader(truth_settings) as con:
            write_files(con, truth_settings, truth_files)
        published = ref_root / "dashboards" / "exports"
        for name, items in outsider.every_attack(
            published, truth_files, ref_root / "data" / "warehouse.duckdb", marts["k"]
        ).items():
            found[f"open data: {name}"] = items
    finally:
        shutil.rmtree(truth_root, ignore_errors=True)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", action="store_true", help="also kill at fractions of a measured run")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for handler in logging.getLogger().handlers:  # the captured run logs at DEBUG: keep the console quiet
        handler.setLevel(logging.WARNING)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="flow-reliability-") as tmp:
        work = Path(tmp)
        from flowlib.demo import generate

        generate(work / "demo", h.DEMO_FIRST, h.DEMO_LAST, seed=h.DEMO_SEED, scale=h.DEMO_SCALE)
        dataset = h.build_dataset(work / "dataset", work / "demo")
        print("[reliability] corpus ...", flush=True)
        corpus_results = corpus_mod.run_corpus(work / "corpus")
        print("[reliability] reference run ...", flush=True)
        ref_root = h.clone(dataset, work / "reference")
        ref = _reference(ref_root)
        print("[reliability] SIGKILL chain ...", flush=True)
        faults, chain = measure_crashes(dataset, work, ref, args.fractions)
        print("[reliability] lock contention ...", flush=True)
        faults += measure_contention(dataset, work, ref)
        print("[reliability] privacy scans ...", flush=True)
        privacy = measure_privacy(ref_root, ref, chain)
        print("[reliability] differencing attacks ...", flush=True)
        differencing = measure_differencing(ref_root)
        print("[reliability] idempotency reruns ...", flush=True)
        idempotency = measure_idempotency(ref_root, ref)

    table = corpus_mod.as_table(corpus_results)
    lost = sum(corpus_mod.good_rows_lost(c, o) for c, o, _ in corpus_results)
    doubled = sum(corpus_mod.rows_counted_twice(c, o) for c, o, _ in corpus_results)
    outcomes = {"loaded": 0, "rejected": 0, "accepted": 0, "crashed": 0}
    for _, outcome, _ in corpus_results:
        outcomes[outcome.status] = outcomes.get(outcome.status, 0) + 1
    quarantined_lines = sum(len(o.quarantined) for _, o, _ in corpus_results)
    figures = {
        "measured_at": datetime.now().isoformat(timespec="seconds"),
        "data": {"days": h.DEMO_DATES, "scale": h.DEMO_SCALE, "seed": h.DEMO_SEED},
        "faults_injected": len(faults),
        "faults_survived": sum(1 for f in faults if f["survived"]),
        "bad_inputs_tried": len(table),
        "bad_inputs_as_asserted": sum(1 for r in table if r["verdict"] == "as asserted"),
        "bad_inputs_known_bugs": [r["case"] for r in table if r["verdict"] == "known bug"],
        "bad_inputs_mismatched": [r["case"] for r in table if r["verdict"] == "MISMATCH"],
        "bad_input_outcomes": outcomes,
        "quarantined_lines": quarantined_lines,
        "good_rows_lost": lost,
        "rows_counted_twice": doubled,
        "leaks_found": len(privacy["leaks"]),
        "reruns_not_identical": sum(1 for r in idempotency if not r["identical"]),
        "differencing_disclosures": {k: len(v) for k, v in differencing.items()},
        "seconds": round(time.monotonic() - started, 1),
        "faults": faults,
        "contention_and_privacy": privacy,
        "idempotency": idempotency,
        "differencing_examples": {k: v[:3] for k, v in differencing.items()},
        "corpus": table,
    }
    print()
    print(f"{'case':36} {'source':18} {'outcome':60} verdict")
    for row in table:
        print(f"{row['case']:36} {row['source']:18} {row['observed'][:60]:60} {row['verdict']}")
    print()
    for fault in faults:
        print(
            f"fault: {fault['fault'][:70]:70} {'survived' if fault['survived'] else 'NOT SURVIVED'}"
            + (
                f"  [{fault.get('marker')}, {fault.get('after_s')} s, WAL on disk: {fault.get('wal_on_disk')}]"
                if "marker" in fault
                else ""
            )
        )
    print()
    print(f"faults injected / survived : {figures['faults_injected']} / {figures['faults_survived']}")
    print(
        f"bad inputs tried           : {figures['bad_inputs_tried']} ({outcomes.get('loaded', 0)} loaded with "
        f"{quarantined_lines} lines quarantined, {outcomes.get('rejected', 0)} rejected, "
        f"{outcomes.get('accepted', 0)} declarations accepted, {outcomes.get('crashed', 0)} crashed); "
        f"as asserted {figures['bad_inputs_as_asserted']}, known bugs {len(figures['bad_inputs_known_bugs'])}, "
        f"mismatches {len(figures['bad_inputs_mismatched'])}"
    )
    print(f"good rows lost             : {lost}")
    print(f"rows counted twice         : {doubled}")
    print(
        f"leaks found                : {figures['leaks_found']} ({privacy['ids_planted_or_sampled']} ids, "
        f"{privacy['files_scanned']} files, {privacy['cli_runs_scanned']} CLI runs, "
        f"{privacy['log_records_scanned']} log records)"
    )
    print(f"reruns not byte-identical  : {figures['reruns_not_identical']}")
    print(f"differencing disclosures   : {figures['differencing_disclosures']}")
    print(f"seconds                    : {figures['seconds']}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"reliability-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    print(f"written to {path}")
    return 0 if lost == 0 and doubled == 0 and not privacy["leaks"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
