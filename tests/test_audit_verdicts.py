"""A passed disclosure audit is found again for the same CSV bytes, k and audit code, and
for nothing else (flowlib.audit_verdicts). The solver is replaced by a counter: what is
tested is when the audit runs, not what it finds (tests/test_disclosure_audit.py)."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from flowlib import audit_verdicts, disclosure_audit
from flowlib.audit_verdicts import KEPT, audit_once
from flowlib.disclosure_audit import AuditReport, Exposure

K = 10


@pytest.fixture
def solver(monkeypatch):
    """Counts the audits that solve; each returns ``solver.report`` (a pass unless a test
    gives it exposures)."""

    class Solver:
        calls: list[tuple] = []
        report = AuditReport(k=K, cells=120, hidden=30, latent=4, components=7, solved=6, relaxed_components=1, cell_programs=12)

        def __call__(self, folder, k, workers=1, memory=None, pool=None):
            self.calls.append((folder, k))
            return AuditReport(**{**asdict(self.report), "k": k, "seconds": 3.5})

    fake = Solver()
    fake.calls = []
    monkeypatch.setattr(disclosure_audit, "audit", fake)
    return fake


@pytest.fixture
def published(tmp_path):
    folder = tmp_path / "opendata"
    folder.mkdir()
    (folder / "facility_daily.csv").write_text("service_date,facility_id,visitors\n2026-11-01,dejima,42\n", encoding="utf-8")
    (folder / "routes_daily.csv").write_text("service_date,route,visitors\n2026-11-01,a > b,\n", encoding="utf-8")
    (folder / "catalogue.json").write_text('{"generated_at": "2026-12-05T00:00:00+00:00"}', encoding="utf-8")
    return folder


def test_a_passed_audit_is_not_solved_again_for_the_same_files(solver, published, tmp_path):
    verdicts = tmp_path / "verdicts"
    first = audit_once(published, K, 1, verdicts)
    again = audit_once(published, K, 1, verdicts)
    assert len(solver.calls) == 1
    assert first.ok and not first.reused
    assert again.ok and again.reused
    # the recorded verdict gives back every figure of the report it stands for
    kept = {name: value for name, value in asdict(first).items() if name not in ("seconds", "reused")}
    assert {name: value for name, value in asdict(again).items() if name not in ("seconds", "reused")} == kept
    assert "passed before on the same files, not solved again" in again.summary()


def test_another_byte_k_or_audit_code_is_solved_again(solver, published, tmp_path, monkeypatch):
    verdicts = tmp_path / "verdicts"
    audit_once(published, K, 1, verdicts)
    routes = published / "routes_daily.csv"
    routes.write_text(routes.read_text(encoding="utf-8").replace("a > b,", "a > b,9"), encoding="utf-8")
    assert not audit_once(published, K, 1, verdicts).reused
    assert not audit_once(published, K + 1, 1, verdicts).reused
    with monkeypatch.context() as patched:
        patched.setattr(audit_verdicts, "_audit_code", lambda: "another version of the audit")
        assert not audit_once(published, K, 1, verdicts).reused
    # a renamed file is another publication even with the same bytes
    routes.rename(published / "routes_by_period.csv")
    assert not audit_once(published, K, 1, verdicts).reused
    assert len(solver.calls) == 5


def test_the_time_in_the_catalogue_does_not_count(solver, published, tmp_path):
    """The audit reads the CSV files only; the catalogue and index say when they were written."""
    verdicts = tmp_path / "verdicts"
    audit_once(published, K, 1, verdicts)
    (published / "catalogue.json").write_text('{"generated_at": "2026-12-06T00:00:00+00:00"}', encoding="utf-8")
    (published / "index.html").write_text("<p>updated 2026-12-06</p>", encoding="utf-8")
    assert audit_once(published, K, 1, verdicts).reused
    assert len(solver.calls) == 1


def test_a_published_file_the_audit_does_not_read_does_not_count(solver, published, tmp_path):
    """The night's forecast is written after the settlement's audit: the publication's audit
    of the same counts is the settlement's pass."""
    verdicts = tmp_path / "verdicts"
    (published / "forecast_daily.csv").write_text("forecast_date,expected\n2026-11-16,120\n", encoding="utf-8")
    audit_once(published, K, 1, verdicts)
    (published / "forecast_daily.csv").write_text("forecast_date,expected\n2026-11-17,135\n", encoding="utf-8")
    (published / "measure_effects.csv").write_text("measure,effect\nx,0.1\n", encoding="utf-8")
    assert audit_once(published, K, 1, verdicts).reused
    assert len(solver.calls) == 1


def test_the_audit_reads_no_file_outside_the_digested_ones(tmp_path):
    """``relations`` opens files through ``_rows`` only, which refuses a name the digest would
    leave out; every file it opens on a real publication is one of them."""
    from flowlib.disclosure_audit import AUDITED_FILES, _rows

    with pytest.raises(ValueError, match="add it to AUDITED_FILES"):
        _rows(tmp_path, "forecast_daily")
    assert {"facility_daily", "spending_by_period", "opportunity_pairs", "info_satisfaction_drivers"} <= AUDITED_FILES


def test_a_failed_audit_is_solved_every_time_and_never_recorded(solver, published, tmp_path):
    verdicts = tmp_path / "verdicts"
    solver.report = AuditReport(k=K, exposed=[Exposure(("routes", "visitors", "2026-11-01", "a > b"), "routes_daily", 3, 3)])
    for _ in range(2):
        report = audit_once(published, K, 1, verdicts)
        assert not report.ok and not report.reused
    assert len(solver.calls) == 2
    assert not verdicts.exists() or not list(verdicts.glob("*.json"))


def test_without_a_verdicts_folder_every_audit_solves(solver, published):
    audit_once(published, K, 1, None)
    audit_once(published, K, 1, None)
    assert len(solver.calls) == 2


def test_only_the_newest_verdicts_are_kept(solver, published, tmp_path):
    verdicts = tmp_path / "verdicts"
    for number in range(KEPT + 5):
        (published / "facility_daily.csv").write_text(f"visitors\n{number + 10}\n", encoding="utf-8")
        audit_once(published, K, 1, verdicts)
    recorded = list(verdicts.glob("*.json"))
    assert len(recorded) == KEPT
    assert all(json.loads(path.read_text(encoding="utf-8"))["k"] == K for path in recorded)
    # the newest is among them: the same bytes are not solved again
    assert audit_once(published, K, 1, verdicts).reused


def test_an_unreadable_verdict_is_solved_again(solver, published, tmp_path):
    """A verdict file cut short (a full disk) or emptied is no pass: the folder is solved."""
    verdicts = tmp_path / "verdicts"
    audit_once(published, K, 1, verdicts)
    (recorded,) = verdicts.glob("*.json")
    for damaged in ('{"k": 10, "cells": 1', "", "[]"):
        recorded.write_text(damaged, encoding="utf-8")
        assert not audit_once(published, K, 1, verdicts).reused
    assert len(solver.calls) == 4
