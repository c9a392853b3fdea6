"""The hostile input corpus (tests/hostile/cases.yaml): every file loads with exactly its
asserted outcome — rows loaded, lines quarantined with their reason, or the delivery
rejected with a message naming the file, the line and the problem and nothing written.

Each case is delivered alone into a fresh copy of one prepared warehouse and loaded
through the real ingest path (flowlib.ingest.ingest_partition, Great Expectations
included). The 100 MB single line, the 10,000 columns and the symlinks are generated at
test time (tests/reliability/corpus.py); nothing big is committed.
"""

from __future__ import annotations

import shutil

import pytest

from bench.reliability.corpus import check, good_rows_lost, load_cases, prepare_template, rows_counted_twice, run_case

DAY, CASES = load_cases()


def test_the_corpus_is_big_and_broad_enough():
    kinds = {case.source for case in CASES}
    assert len(CASES) >= 30
    assert {"entry_pos_a", "entry_pos_b", "wifi_vendor_a", "survey_web", "test_sensor_jsonl", "declaration"} <= kinds
    threats = {case.threat for case in CASES}
    for needed in (
        "encoding",
        "NUL bytes",
        "size",
        "CSV injection",
        "HTML/JS injection",
        "path traversal",
        "SQL injection",
        "BOM in the wrong place",
        "line endings",
        "CSV structure",
        "deep nesting",
        "duplicate keys",
        "numbers",
        "timestamps",
        "empty delivery",
        "duplicate delivery",
        "partial upload",
        "shrinking re-delivery",
        "conflicting duplicates",
        "file names",
        "wrong types",
        "log forging",
    ):
        assert any(needed in threat for threat in threats), needed


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return prepare_template(tmp_path_factory.mktemp("corpus-template"))


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            case, id=case.id, marks=[pytest.mark.xfail(strict=True, reason=f"BUG {case.known_bug}")] if case.known_bug else []
        )
        for case in CASES
    ],
)
def test_case_has_its_asserted_outcome(case, template, tmp_path):
    try:
        outcome = run_case(case, DAY, tmp_path, template)
    finally:
        shutil.rmtree(tmp_path / case.id, ignore_errors=True)  # the 100 MB file must not linger
    problems = check(case, outcome)
    assert problems == [], f"{case.id} ({case.file or case.generate}): " + "; ".join(problems)
    assert good_rows_lost(case, outcome) == 0
    assert rows_counted_twice(case, outcome) == 0
