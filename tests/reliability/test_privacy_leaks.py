"""No raw card, device or response id (nor its unkeyed SHA-256) survives ingest.

Known ids are planted in the inputs (tests/reliability/harness.py: card ids in both POS
feeds, device ids in a JSON Lines sensor feed, answer ids in the survey), some on good
rows and some on rows that are quarantined. Two runs are scanned: the real CLI (the crash
chain: killed three times, then rerun; its stdout and stderr included) and an in-process
run whose every Python log record was captured. Places: the DuckDB file and its WAL (as
bytes, and every text value read back through DuckDB, because the file is compressed),
the run files under data/ (GX results, temp), the pages, Data Docs and CSV exports. The
Airflow side (task logs, XComs) is covered by tests/test_e2e_nightly.py.
"""

from __future__ import annotations

import pytest

from bench.reliability.harness import (
    PLANTED_CARD_IDS,
    PLANTED_DEVICE_IDS,
    PLANTED_RESPONSE_IDS,
    build_exports,
    demo_card_ids,
    needles_for,
    planted_ids,
    run_outputs,
    scan_files,
    scan_text,
    scan_warehouse,
)
from flowlib.pseudonym import pseudonymise

DEMO_KEY = b"nagasaki-tourism-flow-demo-key-not-for-production"


@pytest.fixture(scope="module")
def ids(reference) -> set[str]:
    return planted_ids() | demo_card_ids(reference.root)


def test_the_scanner_finds_what_it_looks_for(reference, ids):
    """Positive control: the ids are in the landing files, and their keyed hashes made it
    into the warehouse (loaded rows and quarantined rows), so a leak had every chance."""
    landing = [p for p in (reference.root / "data" / "landing").rglob("*") if p.is_file()]
    found = scan_files(landing, needles_for(planted_ids()))
    assert {hit.split(": ", 1)[1] for hit in found} >= {f"raw id {i}" for i in planted_ids()}
    import duckdb

    con = duckdb.connect(str(reference.root / "data" / "warehouse.duckdb"), read_only=True)
    try:
        keys = {r[0] for r in con.execute("select card_key from raw.entry_log").fetchall()}
        devices = {r[0] for r in con.execute("select device_key from raw.wifi_sensor").fetchall()}
        answers = {r[0] for r in con.execute("select response_key from raw.survey_response").fetchall()}
        quarantine = " ".join(r[0] or "" for r in con.execute("select raw_values from ops.quarantine").fetchall())
    finally:
        con.close()
    c1, c2, c3, c4 = PLANTED_CARD_IDS
    assert {pseudonymise(c1, DEMO_KEY), pseudonymise(c3, DEMO_KEY)} <= keys
    assert {pseudonymise(d, DEMO_KEY) for d in PLANTED_DEVICE_IDS[:2]} <= devices
    assert {pseudonymise(r, DEMO_KEY) for r in PLANTED_RESPONSE_IDS[:2]} <= answers
    for quarantined in (c2, c4, PLANTED_DEVICE_IDS[2], PLANTED_RESPONSE_IDS[2]):
        assert "hmac:" + pseudonymise(quarantined, DEMO_KEY) in quarantine, quarantined
    # the read-back scan finds what is there (a facility id stands in for a leaked id)
    assert scan_warehouse(reference.root / "data" / "warehouse.duckdb", {"glover_garden"})


def test_no_id_in_the_warehouse_read_back_through_duckdb(reference, cli_chain, ids):
    for root in (reference.root, cli_chain.root):
        assert scan_warehouse(root / "data" / "warehouse.duckdb", ids) == []


def test_no_id_in_any_file_of_the_cli_run(cli_chain, ids):
    build_exports(cli_chain.root)
    files = run_outputs(cli_chain.root)
    names = {p.relative_to(cli_chain.root).parts[0:2] for p in files}
    assert ("data", "warehouse.duckdb") in names and ("dashboards", "data-docs") in names
    assert any("validation_results" in p.parts for p in files)
    # the open data: dashboards/exports links to the audited version in dashboards/.opendata/
    assert any(p.suffix == ".csv" and (".opendata" in p.parts or "exports" in p.parts) for p in files)
    assert scan_files(files, needles_for(ids)) == []


def test_no_id_in_the_cli_output_of_any_run(cli_chain, ids):
    needles = needles_for(ids)
    assert sum(len(run.lines) for run in cli_chain.runs) > 20, "the CLI logged nothing: the scan would be empty"
    assert cli_chain.final.stdout.strip(), "the final run printed nothing"
    for number, run in enumerate(cli_chain.runs, start=1):
        assert scan_text(f"run {number} stderr", run.log, needles) == []
        assert scan_text(f"run {number} stdout", run.stdout, needles) == []


def test_no_id_in_any_file_or_log_record_of_the_in_process_run(reference, ids):
    needles = needles_for(ids)
    assert reference.log_text.count("\n") > 10
    assert scan_text("python logging", reference.log_text, needles) == []
    assert scan_files(run_outputs(reference.root), needles) == []
