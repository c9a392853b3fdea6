"""The source registry: declarations load, and bad declarations fail with a clear message."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from flowlib.sources import SourceDeclarationError, load_registry, parse_declaration

VALID = """
name: pos_c
kind: entry_log
owner: {name: desk, email: desk@example.org}
landing: "entry_log/pos_c/{service_date:%Y%m%d}_*.csv"
format: csv
encoding: utf-8
columns:
  facility_id: 施設
  entered_at: {header: 日時, format: "%Y-%m-%d %H:%M:%S"}
  card_id: カード
"""


def test_bundled_registry_declares_the_demo_feeds(settings):
    registry = load_registry(settings)
    assert set(registry) >= {"entry_pos_a", "entry_pos_b", "wifi_vendor_a", "survey_web"}
    assert registry["entry_pos_a"].encoding == "cp932"
    assert registry["entry_pos_b"].encoding == "utf-8-sig"
    assert registry["entry_pos_b"].producer_headers[:3] == ["施設コード", "入場日", "入場時刻"]


def test_landing_pattern_renders_the_service_date(tmp_path: Path):
    spec = parse_declaration(tmp_path / "pos_c.yaml", VALID)
    assert spec.glob_for(date(2026, 11, 3)) == "entry_log/pos_c/20261103_*.csv"
    folder = tmp_path / "landing" / "entry_log" / "pos_c"
    folder.mkdir(parents=True)
    (folder / "20261103_dejima.csv").write_text("x")
    (folder / "20261104_dejima.csv").write_text("x")
    assert [p.name for p in spec.files_for(tmp_path / "landing", date(2026, 11, 3))] == ["20261103_dejima.csv"]


def assert_refused(tmp_path: Path, declaration: str, message: str) -> None:
    """parse_declaration refuses ``declaration`` naming the file and ``message``: what every bad
    declaration must get, however it is bad."""
    with pytest.raises(SourceDeclarationError) as error:
        parse_declaration(tmp_path / "bad.yaml", declaration)
    assert "bad.yaml" in str(error.value) and message in str(error.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("kind: entry_log", "kind: bus_card"), "kind 'bus_card' is unknown"),
        (("name: pos_c", "name: pos-c; drop table x"), "lower-case letters"),
        (("encoding: utf-8", "encoding: latin-1"), "encoding 'latin-1'"),
        (("  card_id: カード\n", ""), "requires columns ['card_id']"),
        (("  facility_id: 施設", "  facility: 施設"), "'facility' is not a canonical column"),
        (('format: "%Y-%m-%d %H:%M:%S"', "foo: 1"), "unknown keys"),
        (('landing: "entry_log', 'landing: "../../etc'), "must be relative"),
        (("owner: {name: desk, email: desk@example.org}", "owner: desk"), "owner must give"),
        (("  card_id: カード", "  card_id: {from: random}"), "'from' supports only"),
    ],
)
def test_invalid_declarations_fail_with_the_file_and_problem(tmp_path: Path, change, message):
    old, new = change
    assert_refused(tmp_path, VALID.replace(old, new), message)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("duplicates: ignore", "duplicates must be quarantine or collapse"),
        ("expectation_suite: entry_logs", "expectation_suite 'entry_logs' does not check"),
        ("expectation_suite: wifi_sensor", "use 'entry_log'"),
    ],
)
def test_invalid_options_fail_with_the_file_and_problem(tmp_path: Path, option: str, message: str):
    """An optional key the valid declaration leaves out, added (after ``format``) with a value it cannot take."""
    assert_refused(tmp_path, VALID.replace("format: csv", f"format: csv\n{option}"), message)


def test_duplicate_source_names_are_refused(tmp_path: Path, settings):
    (tmp_path / "a.yaml").write_text(VALID, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(VALID, encoding="utf-8")
    with pytest.raises(SourceDeclarationError, match="already declared"):
        load_registry(settings, tmp_path)
