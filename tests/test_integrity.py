"""Integrity at the door (issue 13): deliveries that cannot double-count, vanish or mix keys.

One test group per class of docs/reliability.md "Integrity at the door": repeated files and
rows, file-name acceptance, shrinking re-deliveries, conflicting rows, keys, bad records,
bounded input and one sentence per user-caused failure. Each builds its own small files and
asserts the mechanism's outcome, so breaking the mechanism fails the test.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import logging
import shutil
import tracemalloc
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_ingest import DAY, POS_B_HEADER, pos_a_row, pos_b_row, write_pos_a, write_pos_b

from flowlib import ingest
from flowlib.config import DEMO_HMAC_KEY, ConfigError, get_settings
from flowlib.ingest import IngestError, ShrinkRefused, ingest_partition
from flowlib.parsing import FileRejected, iter_csv_chunks, printable, read_csv_file
from flowlib.pipeline import ingest_source, prepare_warehouse, report_unclaimed_files
from flowlib.pseudonym import key_fingerprint
from flowlib.sources import UnknownSource, load_registry, lookup, parse_declaration

POS_A_HEADER = "利用日時,カードID,券種,金額,発行国"
KEY_A = "a" * 40
KEY_B = "b" * 40


@pytest.fixture
def landing(settings) -> Path:
    prepare_warehouse(settings)
    return settings.landing_dir


def in_chunks(settings, rows_per_chunk: int):
    """The settings with records converted (plain CSV files' too) and staged rows validated
    ``rows_per_chunk`` at a time."""
    return dataclasses.replace(
        settings,
        ingest_chunk_rows=rows_per_chunk,
        ingest_arrow_chunk_rows=rows_per_chunk,
        validation_chunk_rows=rows_per_chunk,
    )


def rows(settings, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def load(settings, source: str = "entry_pos_b", **kwargs):
    return ingest_partition(load_registry(settings)[source], DAY, settings, **kwargs)


def pos_b(n: int, start: int = 0) -> list[str]:
    return [POS_B_HEADER] + [pos_b_row(i) for i in range(start, start + n)]


def pos_a_bytes(n: int, start: int = 0, newline: str = "\r\n") -> bytes:
    return newline.join([POS_A_HEADER] + [pos_a_row(i) for i in range(start, start + n)]).encode("cp932") + b"\r\n"


def with_declaration(settings, tmp_path: Path, source: str, **changes) -> object:
    """Settings whose sources folder holds a copy of the declarations, one of them changed."""
    import yaml

    folder = tmp_path / "sources"
    folder.mkdir(exist_ok=True)
    for path in (settings.project_root / "sources").glob("*.yaml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if doc["name"] == source:
            doc.update(changes)
        (folder / path.name).write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return dataclasses.replace(settings, sources_dir=folder)


# ------------------------------------------------------------------ 1. repeated files and rows


def test_a_renamed_copy_is_loaded_once_and_named(settings, landing, caplog):
    write_pos_b(landing, pos_b(30), name="dejima.csv")
    write_pos_b(landing, pos_b(30), name="dejima - コピー.csv")
    with caplog.at_level(logging.ERROR, logger="flowlib.alerts"):
        summary = ingest_source("entry_pos_b", [DAY.isoformat()], settings)
    assert summary[0]["rows_loaded"] == 30 and summary[0]["duplicate_files"] == 1
    assert rows(settings, "select count(*) from raw.entry_log") == [(30,)]
    logged = rows(settings, "select file_name, outcome, message from ops.load_log order by file_name")
    assert [(name, outcome) for name, outcome, _ in logged] == [
        ("entry_log/pos_b/2026-11-03/dejima - コピー.csv", "duplicate"),
        ("entry_log/pos_b/2026-11-03/dejima.csv", "loaded"),
    ]
    assert "same content" in logged[0][2] and "dejima.csv" in logged[0][2]
    alert = [r.getMessage() for r in caplog.records if "files_not_loaded" in r.getMessage()]
    assert alert and "dejima - コピー.csv" in alert[0]


def test_a_copy_of_a_file_named_facility_is_caught_by_content(settings, landing):
    """POS A takes the facility from the file name: a renamed copy would be another facility."""
    write_pos_a(landing, pos_a_bytes(20), name="glover_garden.csv")
    write_pos_a(landing, pos_a_bytes(20), name="dejima.csv")
    result = load(settings, "entry_pos_a")
    assert result.rows_loaded == 20 and [d.file_name.rsplit("/", 1)[1] for d in result.duplicates] == ["glover_garden.csv"]


@pytest.mark.parametrize("variant", ["line endings", "no bom", "partial upload", "reordered"])
def test_a_copy_with_other_bytes_is_caught_by_its_rows(settings, landing, variant):
    write_pos_b(landing, pos_b(30), name="dejima.csv")
    lines = pos_b(30)
    if variant == "line endings":
        path = write_pos_b(landing, lines, name="dejima_2.csv")
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    elif variant == "no bom":
        write_pos_b(landing, lines, name="dejima_2.csv", bom=False)
    elif variant == "partial upload":
        write_pos_b(landing, lines[:12], name="dejima_2.csv")
    else:
        write_pos_b(landing, [lines[0]] + lines[:0:-1], name="dejima_2.csv")
    result = load(settings)
    assert result.rows_loaded == 30 and result.rows_quarantined == 0
    assert [d.file_name.endswith("dejima_2.csv") for d in result.duplicates] == [True]
    assert "already delivered in entry_log/pos_b/2026-11-03/dejima.csv" in result.duplicates[0].notes[0]


def test_rows_repeated_across_files_are_loaded_once(settings, landing):
    write_pos_b(landing, pos_b(30), name="dejima.csv")
    write_pos_b(landing, [POS_B_HEADER] + [pos_b_row(i) for i in range(25, 40)], name="dejima_late.csv")
    result = load(settings)
    assert result.rows_loaded == 40 and not result.duplicates
    reasons = rows(settings, "select file_name, line_number, reason from ops.quarantine order by line_number")
    assert [(f.rsplit("/", 1)[1], line) for f, line, _ in reasons] == [("dejima_late.csv", n) for n in range(2, 7)]
    assert all("duplicate of line" in r and "dejima.csv" in r for _, _, r in reasons)


def test_an_unchanged_day_with_a_copy_stays_unchanged(settings, landing):
    write_pos_b(landing, pos_b(30))
    write_pos_b(landing, pos_b(30), name="copy.csv")
    assert load(settings).outcome == "loaded"
    assert load(settings).outcome == "unchanged"


# ------------------------------------------------------------------ 1b. which file names are read


def test_file_acceptance_is_explicit(settings, landing, tmp_path):
    write_pos_b(landing, pos_b(10), name="DEJIMA.CSV")
    write_pos_b(landing, pos_b(5, 100), name=".dejima.csv")
    write_pos_b(landing, pos_b(5, 200), name="oura.csv.part")
    write_pos_b(landing, pos_b(5, 300), name="oura.csv.crdownload")
    write_pos_b(landing, pos_b(5, 400), name="~$oura.csv")
    write_pos_b(landing, pos_b(5, 500), name="oura.csv~")
    write_pos_b(landing, pos_b(5, 600), name="oura.xlsx")
    result = load(settings)
    assert result.rows_loaded == 10
    assert sorted((name.rsplit("/", 1)[1], why) for name, why in result.skipped) == [
        (".dejima.csv", "hidden"),
        ("oura.csv.crdownload", "temporary"),
        ("oura.csv.part", "temporary"),
        ("oura.csv~", "temporary"),
        ("oura.xlsx", "unmatched"),
        ("~$oura.csv", "temporary"),
    ]
    assert rows(settings, "select count(*) from ops.load_log where outcome = 'skipped'") == [(6,)]
    exact = with_declaration(settings, tmp_path, "entry_pos_b", accept={"extension_case": "exact"})
    scan = load_registry(exact)["entry_pos_b"].scan(exact.landing_dir, DAY)
    assert scan.accepted == [] and ("DEJIMA.CSV", "unmatched") in [(p.name, why) for p, why in scan.skipped]


def test_files_no_declaration_claims_are_reported(settings, landing, caplog):
    write_pos_b(landing, pos_b(3))
    stray = [
        landing / "entry_log" / "pos_c" / "2026-11-03" / "x.csv",
        landing / "wifi" / "vendor_a" / "2026-11-03 (1).json",
        landing / "notes.txt",
    ]
    for path in stray:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    (landing / "wifi" / "vendor_a" / "2026-11-02.json").write_text("{}")
    with caplog.at_level(logging.ERROR, logger="flowlib.alerts"):
        found = report_unclaimed_files(settings)
    assert found == sorted(p.relative_to(landing).as_posix() for p in stray)
    assert any("unclaimed_files" in r.getMessage() and "notes.txt" in r.getMessage() for r in caplog.records)


def test_a_declaration_rejects_unknown_acceptance_settings(tmp_path):
    path = Path(__file__).parent.parent / "sources" / "entry_pos_b.yaml"
    text = path.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="extension_case must be any or exact"):
        parse_declaration(tmp_path / "x.yaml", text + "accept: {extension_case: sometimes}\n")
    with pytest.raises(ValueError, match="conflicts must be reject_conflict or keep_last"):
        parse_declaration(tmp_path / "x.yaml", text + "conflicts: sum\n")


# ------------------------------------------------------------------ 2. shrinking re-deliveries


@pytest.mark.parametrize("redelivery", ["header only", "truncated to a third"])
def test_a_shrinking_redelivery_is_refused_unless_allowed(settings, landing, redelivery):
    write_pos_b(landing, pos_b(30))
    load(settings)
    before = rows(settings, "select * from raw.entry_log order by all")
    write_pos_b(landing, pos_b(0) if redelivery == "header only" else pos_b(10))
    with pytest.raises(ShrinkRefused, match=r"would replace 30 loaded rows by (0|10).*--allow-shrink") as refused:
        load(settings)
    assert isinstance(refused.value, IngestError) and "\n" not in str(refused.value)
    assert rows(settings, "select * from raw.entry_log order by all") == before
    assert rows(settings, "select outcome from ops.load_log order by loaded_at") == [("loaded",), ("refused",)]
    result = load(settings, allow_shrink=True)
    assert result.outcome == "reloaded" and result.rows_loaded == (0 if redelivery == "header only" else 10)


def test_the_shrink_threshold_is_a_setting(settings, landing, monkeypatch):
    write_pos_b(landing, pos_b(30))
    load(settings)
    write_pos_b(landing, pos_b(20))
    assert load(settings).rows_loaded == 20  # 2/3 of the day stays: above the default half
    write_pos_b(landing, pos_b(30))
    load(settings)
    write_pos_b(landing, pos_b(20))
    with pytest.raises(ShrinkRefused):
        load(dataclasses.replace(settings, min_reload_share=0.9))
    monkeypatch.setenv("FLOW_MIN_RELOAD_SHARE", "2")
    with pytest.raises(ConfigError, match="FLOW_MIN_RELOAD_SHARE"):
        get_settings()


# ------------------------------------------------------------------ 5. conflicting rows


def wifi_export(records: list[dict]) -> str:
    return json.dumps({"records": records})


def write_wifi(landing: Path, records: list[dict]) -> None:
    path = landing / "wifi" / "vendor_a" / f"{DAY.isoformat()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(wifi_export(records), encoding="utf-8")


AP = "AP-ST-dejima_chinatown-1"


def wifi_records(n: int = 12) -> list[dict]:
    return [
        {
            "ap_id": AP,
            "bin_start": f"2026-11-03T{10 + i // 6:02d}:{i % 6 * 10:02d}:00+09:00",
            "connections": 5 + i,
            "unique_devices": 3,
        }
        for i in range(n)
    ]


@pytest.fixture
def ap_ids(settings, landing) -> set[str]:
    return {r[0] for r in rows(settings, "select ap_id from ref.wifi_access_points")}


@pytest.mark.parametrize("rule", ["reject_conflict", "keep_last"])
def test_same_access_point_and_bin_twice_follows_the_declared_rule(settings, landing, ap_ids, tmp_path, rule):
    records = wifi_records()
    assert AP in ap_ids
    clash = dict(records[3], connections=99)
    write_wifi(landing, records + [clash])
    chosen = with_declaration(settings, tmp_path, "wifi_vendor_a", conflicts=rule)
    result = load(chosen, "wifi_vendor_a")
    counts = rows(settings, "select connections from raw.wifi_ap_count where bin_start = '2026-11-03 10:30:00'")
    total = rows(settings, "select sum(connections) from raw.wifi_ap_count")[0][0]
    reasons = dict(rows(settings, "select line_number, reason from ops.quarantine"))
    if rule == "reject_conflict":
        assert counts == [] and sorted(reasons) == [4, 13] and result.rows_loaded == 11
        assert all("conflicting rows for the same ap_id, bin_start" in r for r in reasons.values())
    else:
        assert counts == [(99,)] and sorted(reasons) == [4] and "superseded by line 13" in reasons[4]
    assert total == sum(r["connections"] for r in records) - records[3]["connections"] + (99 if rule == "keep_last" else 0)


def test_same_card_and_second_with_other_values_is_a_conflict(settings, landing):
    lines = pos_b(10)
    write_pos_b(landing, lines + [lines[5].replace(",一般,", ",学生,")])
    result = load(settings)
    assert result.rows_loaded == 9
    assert sorted(r[0] for r in rows(settings, "select line_number from ops.quarantine")) == [6, 12]


# ------------------------------------------------------------------ 3. keys


@pytest.mark.parametrize("key", [None, "", "   ", "x", "k" * 31, DEMO_HMAC_KEY, f" {DEMO_HMAC_KEY} "])
def test_unsafe_keys_are_refused_outside_demo_mode(settings, key):
    production = dataclasses.replace(settings, demo_mode=False, hmac_key_env=key)
    with pytest.raises(ConfigError, match="FLOW_HMAC_KEY"):
        _ = production.hmac_key
    assert dataclasses.replace(production, demo_mode=True).hmac_key  # the demo accepts what it is given


def test_a_32_byte_key_is_accepted_and_the_load_records_its_fingerprint_not_the_key(settings, landing):
    production = dataclasses.replace(settings, demo_mode=False, hmac_key_env=KEY_A)
    assert production.hmac_key == KEY_A.encode()
    write_pos_b(landing, pos_b(5))
    load(production)
    fingerprints = rows(settings, "select distinct key_fingerprint from ops.load_log")
    assert fingerprints == [(key_fingerprint(KEY_A.encode()),)]
    assert KEY_A not in fingerprints[0][0] and key_fingerprint(KEY_B.encode()) != fingerprints[0][0]
    # a keyed fingerprint: not a plain hash of the key that a guess could be checked against
    assert fingerprints[0][0] not in hashlib.sha256(KEY_A.encode()).hexdigest()


def test_marts_refuse_days_loaded_under_different_keys_and_name_them(settings, landing):
    from flowlib.keys import MixedKeys
    from flowlib.pipeline import build_marts

    under_a = dataclasses.replace(settings, demo_mode=False, hmac_key_env=KEY_A)
    under_b = dataclasses.replace(settings, demo_mode=False, hmac_key_env=KEY_B)
    write_pos_b(landing, pos_b(20))
    write_pos_a(landing, pos_a_bytes(20))
    load(under_a, "entry_pos_b")
    load(under_a, "entry_pos_a")
    write_pos_a(landing, pos_a_bytes(21))
    load(under_b, "entry_pos_a")  # one feed of the day reloaded under a new key
    with pytest.raises(MixedKeys, match=r"entry_pos_b 2026-11-03\b") as mixed:
        build_marts([DAY.isoformat()], under_b)
    assert "entry_pos_a" not in str(mixed.value) and "--force" in str(mixed.value)
    with pytest.raises(MixedKeys, match=r"entry_pos_a 2026-11-03\b"):
        build_marts([DAY.isoformat()], under_a)
    # the same files under the new key are not "unchanged": they are reloaded
    assert load(under_b, "entry_pos_b").outcome == "reloaded"
    build_marts([DAY.isoformat()], under_b)


# ------------------------------------------------------------------ 4. one bad record never stops a day


def test_any_timestamp_form_or_type_costs_its_record_only(settings, landing, ap_ids):
    records = wifi_records(10)
    odd = [
        {"bin_start": "20261103T031000Z"},  # basic format, UTC: valid, loaded (12:10 JST)
        {"bin_start": "2026-11-03T03:20:00z"},  # lower-case z: valid, loaded (12:20 JST)
        {"bin_start": "2026-W45-2T13:00"},  # ISO week date: valid, loaded
        {"bin_start": 1762138200},  # epoch number: quarantined
        {"bin_start": {"utc": "2026-11-03T04:00:00Z"}},  # nested object
        {"bin_start": ["2026-11-03T13:30:00+09:00"]},  # list
        {"connections": True},  # wrong type
        {"connections": {"n": 5}},  # nested count
        {"bin_start": "2026-11-03T12:00:00 JST"},  # not ISO 8601
        {"bin_start": "2026-11-03T13:40:00+25:00"},  # impossible offset
    ]
    extra = [dict(wifi_records(1)[0], **change) for change in odd]
    for i, record in enumerate(extra):
        if "bin_start" not in odd[i]:
            record["bin_start"] = f"2026-11-03T16:{(i - 6) * 10:02d}:00+09:00"
    write_wifi(landing, records + extra)
    result = load(settings, "wifi_vendor_a")
    assert result.rows_loaded == 13
    reasons = dict(rows(settings, "select line_number, reason from ops.quarantine"))
    assert sorted(reasons) == list(range(14, 21))
    assert "nested JSON" in reasons[15] and "nested JSON" in reasons[16] and "nested JSON" in reasons[18]
    assert "not a number" in reasons[17] and "unparseable bin_start" in reasons[14]
    assert rows(
        settings,
        "select strftime(bin_start, '%H:%M') from raw.wifi_ap_count where line_number in (11, 12, 13) order by line_number",
    ) == [("12:10",), ("12:20",), ("13:00",)]


def test_a_converter_that_raises_costs_the_offending_values_only():
    import pandas as pd

    from flowlib.ingest import _convert

    def fussy(values: pd.Series) -> pd.Series:
        if values.isin(["boom"]).any():
            raise OverflowError("no")
        return values.str.upper()

    result, errors = _convert(pd.Series(["a", "boom", "c"], dtype="object"), fussy, "ap_id")
    assert result[[0, 2]].tolist() == ["A", "C"] and pd.isna(result[1])
    assert errors.notna().tolist() == [False, True, False] and "ap_id 'boom' cannot be read" in errors[1]


# ------------------------------------------------------------------ 6. bounded input


def test_a_file_above_the_size_cap_is_refused_before_it_is_read(settings, landing, monkeypatch):
    write_pos_b(landing, pos_b(30000))
    capped = dataclasses.replace(settings, max_file_mb=1)
    with pytest.raises(IngestError, match=r"dejima\.csv: the file is 1\.\d MB, above the 1 MB cap"):
        load(capped)
    assert rows(settings, "select count(*) from raw.entry_log") == [(0,)]


def _partition_snapshot(settings, table: str = "raw.entry_log") -> tuple[list, list, list]:
    return (
        rows(settings, f"select * exclude (file_name) from {table} order by line_number"),
        rows(settings, "select line_number, reason, raw_values from ops.quarantine order by line_number"),
        rows(
            settings,
            "select rows_read, rows_loaded, rows_quarantined, message from ops.load_log "
            "where outcome in ('loaded', 'reloaded') order by loaded_at",
        ),
    )


def test_a_chunked_load_equals_the_one_shot_load(settings, landing):
    # 30 rows in chunks of 7: an unreadable time, a repeat of a first-chunk row and a row of
    # another day sit in later chunks; the repeat check and the quarantine span chunks
    lines = pos_b(30)
    lines[10] = pos_b_row(10, time="25:99:00")
    lines[12] = pos_b_row(1)
    lines[20] = pos_b_row(20, day=date(2026, 11, 5))
    write_pos_b(landing, lines)
    load(in_chunks(settings, 1_000))
    one_shot = _partition_snapshot(settings)
    load(in_chunks(settings, 7), force=True)
    chunked = _partition_snapshot(settings)
    assert chunked[0] == one_shot[0] and len(one_shot[0]) == 27
    assert chunked[1] == one_shot[1]
    assert [line for line, _, _ in chunked[1]] == [11, 13, 21]
    assert all(raw is not None for _, _, raw in chunked[1])  # raw values read again for later-found rows
    assert chunked[2][-1] == one_shot[2][0]


def test_a_plain_export_is_converted_in_chunks_of_its_own_size(settings, landing, monkeypatch):
    # a plain POS export is read by Arrow in FLOW_INGEST_ARROW_CHUNK_ROWS chunks, a file
    # with a quoted field in FLOW_INGEST_CHUNK_ROWS chunks; the rows loaded are the same
    import flowlib.ingest as ingest_module

    sizes: list[int] = []
    convert = ingest_module._prepare_chunk
    monkeypatch.setattr(
        ingest_module, "_prepare_chunk", lambda spec, raw, *rest: sizes.append(raw.record_count) or convert(spec, raw, *rest)
    )
    mixed = dataclasses.replace(settings, ingest_chunk_rows=4, ingest_arrow_chunk_rows=7)
    write_pos_a(landing, pos_a_bytes(30), name="dejima.csv")
    load(mixed, "entry_pos_a")
    assert sizes == [7, 7, 7, 7, 2]
    plain = _partition_snapshot(settings)[0]
    sizes.clear()
    quoted = pos_a_bytes(30).replace("大人".encode("cp932"), '"大人"'.encode("cp932"))
    write_pos_a(landing, quoted, name="dejima.csv")
    load(mixed, "entry_pos_a", force=True)
    assert sizes == [4] * 7 + [2]
    assert _partition_snapshot(settings)[0] == plain and len(plain) == 30


def test_a_file_refused_in_a_later_chunk_leaves_the_day_unchanged(settings, landing):
    write_pos_b(landing, pos_b(20))
    load(settings)
    before = _partition_snapshot(settings)[:2]
    lines = pos_b(30)
    lines[25] = pos_b_row(25, facility="x" * 1_100_000)
    write_pos_b(landing, lines)
    with pytest.raises(IngestError, match=r"dejima\.csv, line 26: line is 1,1\d\d,\d+ bytes long"):
        load(in_chunks(settings, 7))
    assert _partition_snapshot(settings)[:2] == before


def _survey_with_a_runaway_field(tmp_path, prose_lines: int):
    """20 good answers with, after the 10th (line 12), a quoted field left open for `prose_lines` lines."""
    header = "回答ID,回答日時,自由記述\n"
    good = [f"r{i},2026-11-03 10:00:00,ok\n" for i in range(20)]
    body = (
        'rX,2026-11-03 10:00:00,"text that never closes\n'
        + "".join(f"line {i} of prose, with a comma\n" for i in range(prose_lines))
        + 'end", x\n'
    )
    path = tmp_path / "survey.csv"
    path.write_text(header + "".join(good[:10]) + body + "".join(good[10:]), encoding="utf-8")
    return path


def test_a_runaway_quoted_field_is_one_bad_record_across_chunks(tmp_path):
    path = _survey_with_a_runaway_field(tmp_path, 5_000)
    chunks = list(iter_csv_chunks(path, "utf-8", "survey.csv", 3))
    assert len(chunks) > 3 and max(len(c.records) for c in chunks) == 3
    assert [r.line_number for c in chunks for r in c.records] == [
        r.line_number for r in read_csv_file(path, "utf-8", "survey.csv").records
    ]
    problems = [(p.line_number, "set aside as one record" in p.reason) for c in chunks for p in c.problems]
    assert problems == [(12, True)]


def test_a_runaway_quoted_field_is_one_bad_record(tmp_path):
    path = _survey_with_a_runaway_field(tmp_path, 50_000)
    raw = read_csv_file(path, "utf-8", "survey.csv")
    assert len(raw.records) == 20
    assert [(p.line_number, "set aside as one record" in p.reason) for p in raw.problems] == [(12, True)]


# ------------------------------------------------------------------ 7. one sentence per user-caused failure


def test_unknown_source_names_where_an_example_is_declared(settings):
    with pytest.raises(UnknownSource, match="sources/examples/hokuriku_stays.yaml.*FLOW_SOURCES_DIR="):
        lookup(load_registry(settings), "hokuriku_stays", settings)
    with pytest.raises(UnknownSource, match="unknown source 'nope'.*known: [^)]*entry_pos_a"):
        ingest_source("nope", [DAY.isoformat()], settings)
    examples = dataclasses.replace(settings, sources_dir=settings.project_root / "sources" / "examples")
    assert lookup(load_registry(examples), "hokuriku_stays", examples).name == "hokuriku_stays"


@pytest.mark.parametrize("value", ["4GB'; drop table raw.entry_log; --", "lots", "1 GB; x", "-1GB"])
def test_settings_that_would_be_sql_are_refused(monkeypatch, value):
    monkeypatch.setenv("FLOW_DUCKDB_MEMORY_LIMIT", value)
    with pytest.raises(ConfigError, match="FLOW_DUCKDB_MEMORY_LIMIT"):
        get_settings()
    monkeypatch.setenv("FLOW_DUCKDB_MEMORY_LIMIT", " 512 MiB ")
    assert get_settings().duckdb_memory_limit == " 512 MiB "
    monkeypatch.setenv("FLOW_DUCKDB_THREADS", "2; select 1")
    with pytest.raises(ConfigError, match="FLOW_DUCKDB_THREADS"):
        get_settings()
    monkeypatch.delenv("FLOW_DUCKDB_THREADS")
    for name in ("FLOW_INGEST_MEMORY_LIMIT", "FLOW_INGEST_WRITE_MEMORY_LIMIT"):
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError, match=name):
            get_settings()
        monkeypatch.delenv(name)


def test_settings_reach_duckdb_as_bound_values(settings, monkeypatch):
    from flowlib.warehouse import connect

    monkeypatch.setenv("FLOW_DUCKDB_MEMORY_LIMIT", "1GB")
    con = connect(get_settings())
    try:
        assert con.execute("select current_setting('memory_limit')").fetchone()[0].startswith("953")
    finally:
        con.close()


def test_a_delivery_is_staged_and_written_under_their_own_memory_limits(settings, landing, monkeypatch):
    import contextlib

    from flowlib import ingest

    seen: dict[str, str] = {}
    real_stage, real_transaction = ingest.stage, ingest.transaction

    def stage(con, *args):
        real_stage(con, *args)
        seen["staging"] = con.execute("select current_setting('memory_limit')").fetchone()[0]

    @contextlib.contextmanager
    def transaction(con):
        seen["writing"] = con.execute("select current_setting('memory_limit')").fetchone()[0]
        with real_transaction(con):
            yield

    monkeypatch.setattr(ingest, "stage", stage)
    monkeypatch.setattr(ingest, "transaction", transaction)
    write_pos_b(landing, pos_b(5))
    load(dataclasses.replace(settings, ingest_memory_limit="100MB", ingest_write_memory_limit="300MB"))
    assert seen == {"staging": "95.3 MiB", "writing": "286.1 MiB"}


def test_file_names_are_escaped_in_messages_and_alerts(caplog):
    from flowlib.alerts import notify

    name = "entry_log/pos_b/2026-11-03/x\nERROR forged line\r\u202e.csv"
    message = str(FileRejected(name, 3, "bad"))
    assert "\n" not in message and "\r" not in message and "\u202e" not in message and "\\n" in message
    with caplog.at_level(logging.ERROR, logger="flowlib.alerts"):
        notify("task_failed", f"failed: {name}", {"file": name})
    text = caplog.records[-1].getMessage()
    assert "\n" not in text and "\u202e" not in text and "x\\nERROR forged line" in text
    assert printable("普通の名前.csv") == "普通の名前.csv"


@pytest.mark.parametrize(
    "number, phrase", [(errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only"), (errno.EACCES, "permission denied")]
)
def test_file_system_failures_are_one_sentence(number, phrase):
    from flowlib.cli import explain_os_error

    sentence = explain_os_error(OSError(number, "x", "/data/warehouse.duckdb"))
    assert phrase in sentence and "/data/warehouse.duckdb" in sentence and "\n" not in sentence
    assert explain_os_error(ValueError("x")) is None


def test_disk_full_inside_duckdb_is_one_sentence():
    from flowlib.cli import explain_os_error

    assert "disk is full" in explain_os_error(duckdb.IOException("IO Error: Could not write file: No space left on device"))


def test_a_read_only_data_folder_is_one_sentence(tmp_path, monkeypatch, capsys):
    """A data folder that cannot be created (under a file) fails with one sentence, exit 2."""
    from flowlib.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("FLOW_DATA_DIR", str(blocker / "data"))
    assert main(["backup"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_a_corrupted_warehouse_is_detected_and_restored_from_the_nightly_backup(settings, landing, capsys):
    from flowlib.cli import main
    from flowlib.warehouse import WarehouseCorrupt, backup, connect, list_backups

    write_pos_b(landing, pos_b(30))
    load(settings)
    good = rows(settings, "select * from raw.entry_log order by all")
    made = backup(settings)
    assert list_backups(settings) == [made]
    damaged = bytearray(settings.warehouse_path.read_bytes())
    damaged[:4096] = b"\0" * 4096
    settings.warehouse_path.write_bytes(bytes(damaged))
    with pytest.raises(WarehouseCorrupt, match="is damaged.*flowlib restore"):
        connect(settings)
    assert main(["ingest", "entry_pos_b", "--first", DAY.isoformat()]) == 2
    assert "is damaged" in capsys.readouterr().err
    assert main(["restore"]) == 0
    assert rows(settings, "select * from raw.entry_log order by all") == good
    assert list(settings.warehouse_path.parent.glob("warehouse.duckdb.damaged-*"))


def test_backups_keep_the_newest_and_a_damaged_backup_is_not_restored(settings, landing):
    from flowlib.warehouse import WarehouseCorrupt, backup, list_backups, restore

    kept = dataclasses.replace(settings, backups_kept=2)
    made = [backup(kept, label=f"2026110{i}") for i in range(1, 4)]
    assert list_backups(kept) == [made[2], made[1]]
    broken = made[2].read_bytes()[: len(made[2].read_bytes()) // 3]
    made[2].write_bytes(broken)
    with pytest.raises(WarehouseCorrupt):
        restore(kept)
    restore(kept, made[1])
    shutil.rmtree(kept.backups_dir)
    with pytest.raises(FileNotFoundError, match="no backup"):
        restore(kept)


# ------------------------------------------------------------------ 8. reruns byte-identical


def test_mart_averages_add_whole_numbers_only():
    """A double sum depends on the order parallel threads add rows in, so a mean or an H3
    cell's coordinate could differ in the last digit on a rerun. Every avg() in the marts
    adds whole numbers: an integer column, or a value scaled and cast to bigint."""
    import re

    integer_columns = {"facilities_visited"}
    offenders = []
    for path in sorted((Path(__file__).parent.parent / "sql" / "marts").glob("*.sql")):
        text = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
        for match in re.finditer(r"\bavg\s*\(((?:[^()]|\([^()]*\))*)\)", text):
            argument = match.group(1).strip()
            if "::bigint" not in argument and argument.split(".")[-1] not in integer_columns:
                offenders.append(f"{path.name}: avg({argument})")
    assert offenders == []


def test_fixed_point_means_do_not_depend_on_row_order():
    values = [61 / 60, 1 / 3, 7 / 60, 1e6 / 7, 0.1, 0.2, 0.3] * 300
    con = duckdb.connect()
    results = set()
    for seed in range(5):
        import random

        shuffled = values[:]
        random.Random(seed).shuffle(shuffled)
        con.execute("create or replace table d as select unnest(?::double[]) as dwell_minutes", [shuffled])
        results.add(con.execute("select avg(round(dwell_minutes * 60000)::bigint) / 60000 from d").fetchone()[0])
    assert len(results) == 1


# ------------------------------------------------------------------ bounded memory, staged checks


def _timed_row(n: int, facility: str = "dejima", amount: int = 520, card: int | None = None) -> str:
    """Row n of a big POS B export: one entry a second from 04:00 (n < 72,000 stays in the day)."""
    moment = datetime(DAY.year, DAY.month, DAY.day, 4) + timedelta(seconds=n)
    return f"{facility},{DAY.isoformat()},{moment:%H:%M:%S},{card if card is not None else 4000000000000000 + n},一般,{amount},JP"


def _python_peak(settings, chunk_rows: int) -> int:
    """Peak Python allocation (tracemalloc: pandas and numpy buffers included) of one reload,
    plus the most Arrow held at once as a chunk was converted (a plain file's chunks and
    Arrow-held text columns are in Arrow's allocator, which tracemalloc does not see)."""
    import pyarrow as pa

    convert, arrow, before = ingest.to_canonical, [0], pa.total_allocated_bytes()

    def converting(*args, **kwargs):
        arrow[0] = max(arrow[0], pa.total_allocated_bytes() - before)
        return convert(*args, **kwargs)

    ingest.to_canonical = converting
    tracemalloc.start()
    try:
        load(in_chunks(settings, chunk_rows), force=True)
        return tracemalloc.get_traced_memory()[1] + arrow[0]
    finally:
        tracemalloc.stop()
        ingest.to_canonical = convert


@pytest.mark.parametrize("plain", [True, False], ids=["arrow", "python"])
def test_python_memory_is_one_chunk_not_the_file(settings, landing, plain, monkeypatch):
    # 15,000 rows: loaded whole, Python holds every row; in chunks of 2,000 the rows wait in
    # DuckDB's staging and Python peaks at one chunk. A plain file is read by Arrow (its
    # rows are then in Arrow's memory), one with a quoted field by the csv module. The
    # file (1 MB) is read 64 kB at a time, as a big export is read 4 MB at a time.
    from flowlib import parsing, validation

    monkeypatch.setattr(parsing, "READ_BLOCK_BYTES", 1 << 16)
    monkeypatch.setattr(parsing, "ARROW_BLOCK_BYTES", 1 << 16)

    validation._gx()  # GX's one-off start-up is not part of a load
    n = 15_000
    lines = [_timed_row(i) for i in range(n)]
    if not plain:
        lines[n // 2] = lines[n // 2].replace("一般", '"一般"')
    write_pos_b(landing, [POS_B_HEADER] + lines)
    load(settings)
    bound = 5_000_000
    chunked, whole = _python_peak(settings, 2_000), _python_peak(settings, n)
    assert chunked < bound < whole, (chunked, whole)
    assert rows(settings, "select count(*) from raw.entry_log") == [(n,)]


def test_a_plain_file_read_by_arrow_is_held_a_chunk_at_a_time(tmp_path, monkeypatch):
    # Arrow parses 64 kB at a time here (4 MB in a load): what it holds while the chunks of a
    # 10 MB file are read one after the other is a chunk and the blocks it reads ahead (about
    # 3 MB here, 36 MB at 4 MB blocks), not the file (about 27 MB read whole)
    import pyarrow as pa

    from flowlib import parsing

    monkeypatch.setattr(parsing, "ARROW_BLOCK_BYTES", 1 << 16)
    path = tmp_path / "pos.csv"
    path.write_bytes(pos_a_bytes(200_000))

    def most_held(chunk_records: int) -> int:
        base, most, records = pa.total_allocated_bytes(), 0, 0
        for chunk in iter_csv_chunks(path, "cp932", "pos.csv", chunk_records):
            assert chunk.arrow_columns() is not None
            records += chunk.record_count
            most = max(most, pa.total_allocated_bytes() - base)
            del chunk
        assert records == 200_000
        return most

    chunked, whole = most_held(2_000), most_held(0)
    assert chunked < path.stat().st_size / 2 < whole, (chunked, path.stat().st_size, whole)


def _warehouse_bytes(settings) -> tuple[list, list, list]:
    """Everything a load wrote, in the order it is stored (not sorted: byte-for-byte)."""
    return (
        rows(settings, "select * from raw.entry_log"),
        rows(settings, "select * exclude (quarantined_at) from ops.quarantine"),
        rows(settings, "select * exclude (loaded_at) from ops.load_log where outcome in ('loaded', 'reloaded')"),
    )


def test_staged_checks_span_chunks_and_files_and_equal_the_one_shot_load(settings, landing):
    # two files in chunks of 7: a repeat 37 lines after its original, a conflict (same card
    # and second, another amount) across chunks, a repeat across files, a negative amount
    # (a GX row rule) and an unknown facility (a GX tolerance) in later chunks
    dejima = [POS_B_HEADER] + [_timed_row(i) for i in range(50)]
    dejima[41] = _timed_row(3)
    dejima[46] = _timed_row(5, amount=999)
    dejima[31] = _timed_row(30, amount=-5)
    dejima[21] = _timed_row(20, facility="atlantis")
    glover = [POS_B_HEADER] + [_timed_row(i, facility="glover_garden") for i in range(1000, 1040)]
    glover[11] = _timed_row(7)
    write_pos_b(landing, dejima, name="dejima.csv")
    write_pos_b(landing, glover, name="glover.csv")
    load(in_chunks(settings, 1_000_000))
    one_shot = _warehouse_bytes(settings)
    load(in_chunks(settings, 7), force=True)
    chunked = _warehouse_bytes(settings)
    assert chunked[0] == one_shot[0] and chunked[1] == one_shot[1]
    # the load log alike but for the outcome (loaded, then reloaded)
    assert [row[:8] + row[9:] for row in chunked[2][-2:]] == [row[:8] + row[9:] for row in one_shot[2]]
    reasons = {(name, line): reason for _, _, name, line, reason, *_ in chunked[1]}
    assert reasons[("entry_log/pos_b/2026-11-03/dejima.csv", 42)] == "duplicate of an earlier row in the same file (line 5)"
    assert reasons[("entry_log/pos_b/2026-11-03/glover.csv", 12)].startswith("duplicate of line 9 of entry_log/pos_b")
    assert "none is loaded (conflicts: reject_conflict)" in reasons[("entry_log/pos_b/2026-11-03/dejima.csv", 7)]
    assert "none is loaded (conflicts: reject_conflict)" in reasons[("entry_log/pos_b/2026-11-03/dejima.csv", 47)]
    assert "expect_column_values_to_be_between(amount_jpy)" in reasons[("entry_log/pos_b/2026-11-03/dejima.csv", 32)]
    assert "expect_column_values_to_be_in_set(facility_id)" in reasons[("entry_log/pos_b/2026-11-03/dejima.csv", 22)]
    assert len(reasons) == 6 and len(chunked[0]) == 90 - 6


def test_rows_are_stored_in_delivery_order_across_chunks_and_files(settings, landing):
    # three files in chunks of 4 (each chunk staged on the stager's thread while the next is
    # converted), rows set aside here and there: the raw table, read without an order, holds
    # the files in turn and each file's lines in order, with each row's own file name
    for name, base in (("a_dejima.csv", 0), ("b_glover.csv", 1000), ("c_oura.csv", 2000)):
        lines = [POS_B_HEADER] + [_timed_row(base + i) for i in range(23)]
        lines[9] = _timed_row(base + 8, amount=-5)  # a GX row failure
        write_pos_b(landing, lines, name=name)
    load(in_chunks(settings, 4))
    stored = rows(settings, "select file_name, line_number, card_key from raw.entry_log")
    assert [(f, n) for f, n, _ in stored] == sorted((f, n) for f, n, _ in stored)
    assert len(stored) == 3 * 22 and len({f for f, _, _ in stored}) == 3
    # each row keeps its own file: the cards of a file are that file's (base + line - 2)
    by_key = dict(rows(settings, "select card_key, card_id from raw.entry_log"))
    assert len(by_key) == len(stored) and all(by_key.values())


def test_a_chunk_that_fails_to_stage_stops_the_file_and_later_chunks_are_not_staged():
    from flowlib.ingest import _ChunkStager

    con = duckdb.connect()
    con.execute("create table staged (n integer)")
    good = [pd.DataFrame({"n": [3 * i, 3 * i + 1, 3 * i + 2]}) for i in range(40)]
    with _ChunkStager(con, "insert into staged select n from ingest_chunk") as stager:
        for chunk in good:
            stager.stage(chunk)
    assert [n for (n,) in con.execute("select n from staged").fetchall()] == list(range(120))

    con.execute("delete from staged")
    broken = good[:3] + [pd.DataFrame({"n": ["not a number"]})] + good[3:6]
    with pytest.raises(duckdb.ConversionException), _ChunkStager(con, "insert into staged select n from ingest_chunk") as stager:
        for chunk in broken:
            stager.stage(chunk)
    # the failure surfaced at the next chunk: nothing after the broken one was handed over
    assert con.execute("select count(*) from staged").fetchone() == (9,)
    # the last chunk's failure surfaces when the block is left
    with pytest.raises(duckdb.ConversionException), _ChunkStager(con, "insert into staged select n from ingest_chunk") as stager:
        stager.stage(broken[3])
    # an error on the converting side (a file refused) is the one raised, whatever the chunk
    # being staged meanwhile did; the connection is free again afterwards
    with (
        pytest.raises(RuntimeError, match="refused"),
        _ChunkStager(con, "insert into staged select n from ingest_chunk") as stager,
    ):
        stager.stage(broken[3])
        raise RuntimeError("refused")
    assert con.execute("select count(*) from staged").fetchone() == (9,)


def test_a_tolerance_is_judged_on_the_whole_delivery_not_on_a_chunk(settings, landing):
    # 100 rows in chunks of 10, unknown facility ids all in the last chunk: 4 of 100 is under
    # the 5 % tolerance (the rows are quarantined, the file loads) although the last chunk
    # alone is 40 % unknown; 8 of 100 is over it: the file is rejected, nothing written
    chunked = in_chunks(settings, 10)
    lines = [POS_B_HEADER] + [_timed_row(i, facility="atlantis" if i >= 96 else "dejima") for i in range(100)]
    write_pos_b(landing, lines)
    result = load(chunked)
    assert (result.rows_loaded, result.rows_quarantined) == (96, 4)
    before = _warehouse_bytes(settings)
    lines = [POS_B_HEADER] + [_timed_row(i, facility="atlantis" if i >= 92 else "dejima") for i in range(100)]
    write_pos_b(landing, lines)
    with pytest.raises(IngestError, match=r"dejima\.csv: 8 % of rows have an unknown facility_id \(threshold 5 %\)"):
        load(chunked)
    assert _warehouse_bytes(settings) == before


# ------------------------------------------------------------------ a JSON export in chunks


def _wifi_export(landing: Path, records: list, suffix: str = "") -> Path:
    """Vendor A's export of ``records`` (dicts, or raw JSON text spliced in as it is), with
    ``suffix`` after the list, inside the document."""
    path = landing / "wifi" / "vendor_a" / f"{DAY.isoformat()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = ", ".join(r if isinstance(r, str) else json.dumps(r) for r in records)
    path.write_text('{"vendor": "a", "records": [' + body + "]" + suffix + "}", encoding="utf-8")
    return path


def _wifi_records() -> list[dict]:
    """The 40 good records of a hostile-corpus export (their access points are known)."""
    source = Path(__file__).parent / "hostile" / "wifi_vendor_a" / "duplicate_keys_in_record.json"
    return json.loads(source.read_text(encoding="utf-8"))["records"][:40]


def test_a_json_export_loaded_in_chunks_equals_the_one_shot_load(settings, landing):
    # a column first met in the third chunk, a record that is no object, one with a key twice
    records = _wifi_records()
    for record in records[:15]:
        del record["unique_devices"]
    records[20] = "7"
    records[27] = json.dumps(records[27])[:-1] + ', "connections": 9}'
    _wifi_export(landing, records)
    load(settings, "wifi_vendor_a")
    one_shot = _partition_snapshot(settings, "raw.wifi_ap_count")
    load(in_chunks(settings, 7), "wifi_vendor_a", force=True)
    assert _partition_snapshot(settings, "raw.wifi_ap_count")[:2] == one_shot[:2]
    assert _partition_snapshot(settings, "raw.wifi_ap_count")[2][-1] == one_shot[2][-1]
    quarantined = dict((line, reason) for line, reason, _ in one_shot[1])
    assert "not a JSON object" in quarantined[21] and "duplicate key 'connections'" in quarantined[28]
    assert len(one_shot[0]) == 38  # the 15 without unique_devices load (the column may be empty)


def test_a_json_export_refused_after_its_first_chunks_leaves_the_day_unchanged(settings, landing):
    _wifi_export(landing, _wifi_records()[:20])
    load(settings, "wifi_vendor_a")
    before = _partition_snapshot(settings, "raw.wifi_ap_count")[:2]
    path = _wifi_export(landing, _wifi_records())
    path.write_bytes(path.read_bytes()[:-3])  # cut short in the last record
    with pytest.raises(IngestError, match=r"2026-11-03\.json, line 1: not valid JSON"):
        load(in_chunks(settings, 7), "wifi_vendor_a")
    assert _partition_snapshot(settings, "raw.wifi_ap_count")[:2] == before
    _wifi_export(landing, _wifi_records(), suffix=', "records": []')  # a second list, met at the end
    with pytest.raises(IngestError, match=r"duplicate key 'records'"):
        load(in_chunks(settings, 7), "wifi_vendor_a")
    assert _partition_snapshot(settings, "raw.wifi_ap_count")[:2] == before


def test_a_json_column_is_missing_when_no_record_of_the_file_has_it(settings, landing):
    records = _wifi_records()
    for record in records:
        del record["connections"]
    _wifi_export(landing, records)
    for chunk_rows in (7, 1_000):
        with pytest.raises(IngestError, match=r"missing column\(s\) connections \(found: ap_id, bin_start, unique_devices\)"):
            load(in_chunks(settings, chunk_rows), "wifi_vendor_a")
    assert rows(settings, "select count(*) from raw.wifi_ap_count") == [(0,)]
