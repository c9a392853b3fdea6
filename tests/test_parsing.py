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


# ------------------------------------------------------------------ JSON read in chunks


def _lines_and_problems(data: bytes) -> tuple[list[str], dict[int, str]]:
    """A UTF-8 file's physical lines as one list, as the readers took them before they
    streamed: the file decoded whole, else line by line; an unreadable line (bytes not valid,
    NUL bytes) as its line ending alone and its problem; a file with more than a fifth of its
    lines unreadable refused; later lines without a leading byte-order mark."""
    import re

    while data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    pieces = [m.group(0) for m in re.finditer(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", data)]
    total, bad, lines = max(len(pieces), 1), {}, []
    nul = [number for number, piece in enumerate(pieces, start=1) if b"\x00" in piece]
    if len(nul) > max(1, 0.2 * total):
        raise FileRejected("f.json", min(nul), "the file contains NUL bytes: it is binary or corrupt, not a CSV export.")
    for number, piece in enumerate(pieces, start=1):
        try:
            lines.append(piece.decode("utf-8"))
        except UnicodeDecodeError as exc:
            bad[number] = f"bytes not valid utf-8 at byte {exc.start} of the line"
            lines.append(piece[len(piece.rstrip(b"\r\n")) :].decode())
    if len(bad) > max(1, 0.2 * total):
        raise FileRejected(
            "f.json", min(bad), f"{len(bad)} of {total} lines are not valid utf-8: the file is in another encoding than declared."
        )
    for number in nul:
        bad.setdefault(number, "NUL bytes in the line (binary or corrupt data)")
        lines[number - 1] = lines[number - 1][len(lines[number - 1].rstrip("\r\n")) :]
    return lines[:1] + [line.lstrip("\ufeff") for line in lines[1:]], bad


def _whole_document(path: Path, records_path: str | None, lines: bool) -> tuple:
    """What a JSON file reads as by the definition: the whole text parsed by ``json.loads``
    (records numbered in their list, or by line), the records' and lines' problems, the keys
    in the order met, or the refusal. The reader before it streamed, in brief."""
    import json

    from flowlib.parsing import _DEEP_JSON, _object_pairs, _stringify

    data = path.read_bytes()
    try:
        if not data.strip():
            raise FileRejected("f.json", None, "the file is empty: an empty delivery.")
        text_lines, bad = _lines_and_problems(data)
        problems, items = [], []
        if lines:
            for number, line in enumerate(text_lines, start=1):
                if number in bad:
                    problems.append((number, bad[number]))
                elif line.strip():
                    try:
                        items.append((number, json.loads(line, object_pairs_hook=_object_pairs)))
                    except json.JSONDecodeError as exc:
                        problems.append((number, f"not valid JSON: {exc.msg}"))
                    except RecursionError:
                        problems.append((number, f"the line is {_DEEP_JSON}"))
        else:
            if bad:
                raise FileRejected("f.json", min(bad), bad[min(bad)])
            try:
                records = json.loads("".join(text_lines), object_pairs_hook=_object_pairs)
            except json.JSONDecodeError as exc:
                raise FileRejected(
                    "f.json", exc.lineno, f"not valid JSON ({exc.msg}); the export is truncated or corrupt."
                ) from None
            except RecursionError:
                raise FileRejected("f.json", None, f"the JSON is {_DEEP_JSON}.") from None
            for key in [k for k in (records_path or "").split(".") if k]:
                if not isinstance(records, dict) or key not in records:
                    raise FileRejected("f.json", None, f"no '{records_path}' list in the JSON export.")
                if key in getattr(records, "duplicates", ()):
                    raise FileRejected(
                        "f.json",
                        None,
                        f"duplicate key '{key}' in the JSON export: which '{records_path}' list is meant is ambiguous.",
                    )
                records = records[key]
            if not isinstance(records, list):
                raise FileRejected("f.json", None, f"'{records_path}' is not a list of records.")
            items = list(enumerate(records, start=1))
        read, headers, line_problems = [], [], len(problems)
        for number, item in items:
            if not isinstance(item, dict):
                problems.append((number, "record is not a JSON object"))
            elif getattr(item, "duplicates", ()):
                problems.append((number, "duplicate key"))
            else:
                fields = {str(k): _stringify(v) for k, v in item.items()}
                headers += [k for k in fields if k not in headers]
                read.append((number, fields))
        return ("read", headers, read, sorted(problems), len(items) + line_problems)
    except FileRejected as exc:
        return ("refused", str(exc))


def _chunked(path: Path, records_path: str | None, lines: bool, chunk_records: int) -> tuple:
    from flowlib.parsing import iter_json_chunks

    try:
        chunks = list(iter_json_chunks(path, "utf-8", "f.json", records_path, lines, chunk_records))
    except FileRejected as exc:
        return ("refused", str(exc))
    assert all(c.lines_read <= chunk_records for c in chunks) or not chunk_records
    problems = sorted(
        (p.line_number, "duplicate key" if p.reason.startswith("duplicate key") else p.reason) for c in chunks for p in c.problems
    )
    records = [(r.line_number, r.fields) for c in chunks for r in c.records]
    return ("read", chunks[-1].headers, records, problems, sum(c.lines_read for c in chunks))


def _random_json_value(rng, depth: int = 0):
    if depth > 2 or rng.random() < 0.5:
        return rng.choice([1, -3, 2.5, 1e30, "x", "é\u3042", None, True, False, 10**25, float("nan"), "\ud800", ""])
    if rng.random() < 0.5:
        return {rng.choice("abcde"): _random_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return [_random_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def _random_json_document(rng) -> str:
    """An export (records under "records", "data.records", a top-level list, a second
    records list, none, a records object...), often broken: cut short, a character added or
    taken away, trailing text, a byte-order mark."""
    import json

    records = []
    for _ in range(rng.randint(0, 12)):
        if rng.random() < 0.1:
            records.append(_random_json_value(rng, 3))
        else:
            keys = rng.sample(["ap_id", "bin_start", "connections", "extra", "a"], rng.randint(0, 5))
            records.append({key: _random_json_value(rng, 1) for key in keys})
    body = json.dumps(records, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1, 2]))
    if rng.random() < 0.15:
        body = body.replace('{"', '{"a": 1, "a": 2, "', 1)
    meta = json.dumps({"n": 1, "m": [1, 2]}, indent=rng.choice([None, 1]))
    shapes = [
        '{"meta": META, "records": BODY}',
        '{"records": BODY, "meta": META}',
        '{ "records" : BODY }',
        '{"records": BODY, "records": []}',
        '{"data": {"records": BODY}, "data": 1}',
        '{"data": {"records": BODY}}',
        "BODY",
        '{"records": {"a": 1}}',
        '{"other": BODY}',
    ]
    doc = rng.choice(shapes).replace("META", meta).replace("BODY", body)
    if rng.random() < 0.3 and doc:
        at = rng.randrange(len(doc))
        doc = rng.choice(
            [
                doc[:at],
                doc[:at]
                + rng.choice([",", "]", "}", "x", " ", "\n", '"', ":", "\ufeff", "\n\ufeff", "\t", "\r\ufeff", "\r"])
                + doc[at:],
                doc[:at] + doc[at + 1 :],
            ]
        )
    if rng.random() < 0.05:
        doc += rng.choice([" x", "\n\n", "]"])
    if rng.random() < 0.05:
        doc = "\ufeff" + doc
    return doc


def test_json_read_in_chunks_gives_what_the_whole_document_parsed_at_once_gives(tmp_path):
    # 600 generated documents, valid and broken, as exports (three records paths) and as
    # JSON Lines, whole and in chunks of 1 to 4 records: the same records and numbers, the
    # same problems, the same keys, and the same refusal, line and message
    import random

    rng = random.Random(17)
    path = tmp_path / "f.json"
    refusals = reads = 0
    worked = [  # a byte-order mark between CR and LF ends a line of its own; marks after joins
        b'{"a": 1}\r\xef\xbb\xbf\n{"a": 2}\n\xef\xbb\xbf{"a": 3}',
        b'\xef\xbb\xbf\xef\xbb\xbf{"records": [{"a": 1},\r\xef\xbb\xbf\n{"a": 2}]}',
        b'{"records": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
        b'{"a": 1}\n[' + b"[" * 100_000 + b"]" * 100_000 + b"]\n",
        b'{"records": [1, 2]} {"records": []}',
        b'{"records": [1, 2]}\n\xff',
        b" \n ",
    ]
    for number in range(600 + len(worked)):
        data = worked[number - 600] if number >= 600 else _random_json_document(rng).encode("utf-8", "surrogatepass")
        data += b"\xff" if rng.random() < 0.03 else b""
        if rng.random() < 0.05 and data:  # a NUL or an invalid byte inside a line
            at = rng.randrange(len(data))
            data = data[:at] + rng.choice([b"\x00", b"\xff", b"\xc3", b"\x00\x00"]) + data[at:]
        path.write_bytes(data)
        doc = data.decode("utf-8", "replace")
        records_path = rng.choice(["records", "data.records", None])
        for lines in (False, True):
            expected = _whole_document(path, records_path, lines)
            for chunk_records in (0, rng.randint(1, 4)):
                assert _chunked(path, records_path, lines, chunk_records) == expected, (doc[:200], records_path, lines)
            refusals += expected[0] == "refused"
            reads += expected[0] == "read" and bool(expected[2])
    assert refusals > 200 and reads > 200  # both ways well covered


def test_a_json_export_is_held_as_its_text_and_one_chunk_not_as_its_records(tmp_path):
    # 20,000 records (2.3 MB): parsed at once they are 20,000 dicts and their values
    # (tens of MB); in chunks of 1,000 the reader holds the text and one chunk
    import json
    import tracemalloc

    from flowlib.parsing import iter_json_chunks

    records = [
        {"ap_id": f"AP-{i}", "bin_start": "2026-11-03T10:00:00+09:00", "connections": i % 50, "unique_devices": i % 30}
        for i in range(20_000)
    ]
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"vendor": "x", "records": records}), encoding="utf-8")
    del records

    def peak(chunk_records: int) -> int:
        tracemalloc.start()
        try:
            count = 0
            for chunk in iter_json_chunks(path, "utf-8", "f.json", "records", False, chunk_records):
                count += len(chunk.records)
                del chunk
            assert count == 20_000
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    chunked, whole = peak(1_000), peak(0)
    assert chunked < 8_000_000 < whole, (chunked, whole)
