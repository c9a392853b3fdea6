"""Reading delivered bytes: encodings, BOMs, truncation and junk, line by line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from flowlib.parsing import FileRejected, read_csv_file, read_json_file

HEADER = "利用日時,カードID,券種,金額,発行国"
ROW = "2026/11/03 10:00:00,4111111111111111,大人,620,JP"


def _write(tmp_path: Path, data: bytes, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_cp932_file_reads_with_line_numbers(tmp_path):
    path = _write(tmp_path, (HEADER + "\r\n" + ROW + "\r\n" + ROW.replace("10:00", "11:00") + "\r\n").encode("cp932"))
    raw = read_csv_file(path, "cp932", "f.csv")
    assert raw.headers == HEADER.split(",")
    assert [r.line_number for r in raw.records] == [2, 3]
    assert raw.records[0].fields["券種"] == "大人"
    assert raw.problems == []


def test_bom_is_stripped_from_the_first_header(tmp_path):
    path = _write(tmp_path, b"\xef\xbb\xbf" + (HEADER + "\n" + ROW + "\n").encode("utf-8"))
    assert read_csv_file(path, "utf-8-sig", "f.csv").headers[0] == "利用日時"
    assert read_csv_file(path, "utf-8", "f.csv").headers[0] == "利用日時"


def test_utf8_bom_in_a_cp932_feed_rejects_the_file(tmp_path):
    path = _write(tmp_path, b"\xef\xbb\xbf" + (HEADER + "\n").encode("utf-8"))
    with pytest.raises(FileRejected, match="byte-order mark .* declares cp932"):
        read_csv_file(path, "cp932", "f.csv")


def test_a_stray_non_utf8_line_is_quarantined_not_fatal(tmp_path):
    lines = [HEADER] + [ROW] * 9
    data = "\n".join(lines).encode("utf-8") + b"\n" + "2026/11/03 10:00:00,4111111111111111,大人,620,JP".encode("cp932") + b"\n"
    raw = read_csv_file(_write(tmp_path, data), "utf-8", "f.csv")
    assert len(raw.records) == 9
    assert [(p.line_number, "not valid utf-8" in p.reason) for p in raw.problems] == [(11, True)]


def test_a_whole_file_in_the_wrong_encoding_is_rejected_with_its_line(tmp_path):
    data = ("\n".join([HEADER] + [ROW] * 5) + "\n").encode("cp932")
    with pytest.raises(FileRejected) as error:
        read_csv_file(_write(tmp_path, data), "utf-8", "f.csv")
    assert error.value.line == 1


def test_truncated_last_line_is_quarantined_with_the_reason(tmp_path):
    data = (HEADER + "\n" + ROW + "\n" + "2026/11/03 12:00:00,41111").encode("utf-8")
    raw = read_csv_file(_write(tmp_path, data), "utf-8", "f.csv")
    assert len(raw.records) == 1
    assert raw.problems[0].line_number == 3
    assert "truncated" in raw.problems[0].reason


def test_empty_file_is_an_empty_delivery(tmp_path):
    with pytest.raises(FileRejected, match="empty"):
        read_csv_file(_write(tmp_path, b""), "utf-8", "f.csv")


def test_nul_bytes_reject_the_file(tmp_path):
    with pytest.raises(FileRejected, match="NUL"):
        read_csv_file(_write(tmp_path, b"a,b\n\x00\x00\x00\n\x00\n"), "utf-8", "f.csv")


def test_a_giant_single_line_is_refused_without_parsing(tmp_path):
    with pytest.raises(FileRejected, match="bytes long"):
        read_csv_file(_write(tmp_path, b"a,b\n" + b"x" * 1_100_000 + b"\n"), "utf-8", "f.csv")


def test_json_export_records_are_numbered_and_non_objects_set_aside(tmp_path):
    path = _write(tmp_path, b'{"records": [{"ap_id": "A", "connections": 3}, 7, {"ap_id": "B"}]}', "x.json")
    raw = read_json_file(path, "utf-8", "x.json", "records", lines=False)
    assert [r.line_number for r in raw.records] == [1, 3]
    assert raw.records[1].fields == {"ap_id": "B"}
    assert raw.problems[0].line_number == 2
    assert raw.lines_read == 3


def test_truncated_json_export_rejects_the_file(tmp_path):
    path = _write(tmp_path, b'{"records": [{"ap_id": "A", "conn', "x.json")
    with pytest.raises(FileRejected, match="not valid JSON"):
        read_json_file(path, "utf-8", "x.json", "records", lines=False)


def test_json_lines_bad_line_is_quarantined(tmp_path):
    path = _write(tmp_path, b'{"a": 1}\n{"a": \n{"a": 3}\n', "x.jsonl")
    raw = read_json_file(path, "utf-8", "x.jsonl", None, lines=True)
    assert [r.line_number for r in raw.records] == [1, 3]
    assert raw.problems[0].line_number == 2


@hsettings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_csv_reader_never_crashes_on_arbitrary_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "f.csv"
    path.write_bytes(data)
    for encoding in ("utf-8", "utf-8-sig", "cp932"):
        try:
            raw = read_csv_file(path, encoding, "f.csv")
        except FileRejected as exc:
            assert "f.csv" in str(exc)
            continue
        lines = {r.line_number for r in raw.records} | {p.line_number for p in raw.problems}
        assert len(lines) == len(raw.records) + len(raw.problems)


@hsettings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_json_reader_never_crashes_on_arbitrary_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "f.json"
    path.write_bytes(data)
    for lines in (True, False):
        try:
            read_json_file(path, "utf-8", "f.json", "records", lines=lines)
        except FileRejected as exc:
            assert "f.json" in str(exc)
