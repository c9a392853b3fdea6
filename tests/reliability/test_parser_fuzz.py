"""Property-based fuzzing of every parser: CSV, JSON export, JSON Lines and ``to_canonical``.

tests/test_parsing.py already throws arbitrary bytes at the readers (they must never crash);
these properties go further and say what must come out:

- a well-formed CSV written by Python's csv module reads back field for field, each record
  numbered by the physical line it starts on (whatever quotes, commas, CR/LF it carries);
- one hostile line among good rows costs that line only: every good row is still read;
- a JSON export reads back record for record, duplicate keys and non-objects are set aside;
- every non-blank JSON Lines line is exactly one record or one problem, with its line;
- ``to_canonical`` never raises for any text in any declared column, and every row it
  does not flag fits the canonical table (required values present, whole numbers finite
  and within INTEGER, timestamps naive JST), while flagged rows carry ids only as HMACs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bench.reliability.harness import declared_sources, make_settings
from flowlib.ingest import MAX_WHOLE_NUMBER, to_canonical
from flowlib.parsing import FileRejected, RawFile, RawRecord, read_csv_file, read_json_file

FUZZ = hsettings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
LINE_BREAK = re.compile(r"\r\n|\r|\n")
POS_B_HEADER = ["施設コード", "入場日", "入場時刻", "カード番号", "チケット種別", "料金(円)", "カード発行国"]

# Text a producer's cell may hold: separators, quotes, line breaks, Japanese, emoji, tabs.
# Left out on purpose: NUL (a NUL line is set aside, see the corpus) and U+FEFF at a line
# start (a stray byte-order mark is dropped, see the corpus).
cell_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(",\";\r\n\t =+-@'`<>{}$\\")),
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufeff"),
    ),
    max_size=12,
)


def rfc4180_line(cells: list[str], terminator: str) -> str:
    """One CSV record as RFC 4180 says (Python's csv.writer leaves a lone CR unquoted)."""
    quoted = ['"' + c.replace('"', '""') + '"' if any(ch in c for ch in ',"\r\n') else c for c in cells]
    return ",".join(quoted) + terminator


def _write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


@FUZZ
@given(
    headers=st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), min_size=2, max_size=5, unique=True),
    rows=st.lists(st.lists(cell_text, min_size=5, max_size=5), max_size=12),
    terminator=st.sampled_from(["\r\n", "\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig"]),
)
def test_well_formed_csv_reads_back_field_for_field(tmp_path_factory, headers, rows, terminator, encoding):
    rows = [row[: len(headers)] for row in rows]
    for row in rows:
        assume([c.strip() for c in row] != headers)  # a repeated header is set aside by design
    text = rfc4180_line(headers, terminator)
    starts = []
    for row in rows:
        starts.append(len(LINE_BREAK.findall(text)) + 1)
        text += rfc4180_line(row, terminator)
    data = text.encode(encoding)
    path = _write(tmp_path_factory.mktemp("csv"), "f.csv", data)
    raw = read_csv_file(path, encoding, "f.csv")
    assert raw.problems == []
    assert raw.headers == headers
    assert [r.line_number for r in raw.records] == starts
    assert [[r.fields[h] for h in headers] for r in raw.records] == rows


hostile_line = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=40),
    st.builds(lambda a, b: f'{a}"{b}', st.text(alphabet=',"xy ', max_size=10), st.text(alphabet=',"xy ', max_size=30)),
    st.sampled_from(
        [
            '"never closed',
            'dejima,"2026-11-03,09:00:00',
            "," * 6 + '"',
            "\ufeff" + ",".join(POS_B_HEADER),
            ",".join(POS_B_HEADER),
            "x" * 300,
            '"a""b',
            '""',
            "=CMD()|' /C calc'!A0",
        ]
    ),
)


@FUZZ
@given(n_good=st.integers(2, 25), position=st.integers(0, 25), bad=hostile_line, extra_bytes=st.binary(max_size=6))
def test_one_hostile_line_costs_that_line_only(tmp_path_factory, n_good, position, bad, extra_bytes):
    good = [f"dejima,2026-11-03,09:{i:02d}:00,{4000000000000000 + i},一般,520,JP" for i in range(n_good)]
    position = min(position, n_good)
    encoded_bad = bad.encode("utf-8") + extra_bytes.replace(b"\n", b"").replace(b"\r", b"")
    lines = (
        [",".join(POS_B_HEADER).encode()]
        + [g.encode() for g in good[:position]]
        + [encoded_bad]
        + [g.encode() for g in good[position:]]
    )
    path = _write(tmp_path_factory.mktemp("csv"), "f.csv", b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    try:
        raw = read_csv_file(path, "utf-8-sig", "f.csv")
    except FileRejected as exc:  # e.g. the hostile line carries NUL bytes and the file is tiny
        assert "f.csv" in str(exc)
        return
    bad_line = position + 2
    expected = {(i + 2 if i < position else i + 3): g for i, g in enumerate(good)}
    got = {r.line_number: ",".join(r.fields[h] for h in POS_B_HEADER) for r in raw.records}
    # Every good row survives, on its own line; at most the hostile line is added or set aside.
    assert {n: t for n, t in got.items() if n != bad_line} == expected
    assert {p.line_number for p in raw.problems} <= {bad_line}


json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8,
)


@FUZZ
@given(
    records=st.lists(st.one_of(st.dictionaries(st.text(max_size=8), json_value, max_size=5), json_scalar), max_size=10),
    duplicate_at=st.one_of(st.none(), st.integers(0, 9)),
)
def test_json_export_reads_back_record_for_record(tmp_path_factory, records, duplicate_at):
    body = [json.dumps(r, ensure_ascii=False) for r in records]
    duplicated = None
    if duplicate_at is not None and duplicate_at < len(records) and isinstance(records[duplicate_at], dict):
        duplicated = duplicate_at
        inner = body[duplicate_at][1:-1]
        body[duplicate_at] = '{"k": 1, ' + (inner + ", " if inner else "") + '"k": 2}'
    text = '{"vendor": "fuzz", "records": [' + ", ".join(body) + "]}"
    path = _write(tmp_path_factory.mktemp("json"), "f.json", text.encode("utf-8"))
    raw = read_json_file(path, "utf-8", "f.json", "records", lines=False)
    numbers = {r.line_number for r in raw.records} | {p.line_number for p in raw.problems}
    assert numbers == set(range(1, len(records) + 1))
    assert raw.lines_read == len(records)
    for record in raw.records:
        original = records[record.line_number - 1]
        assert isinstance(original, dict) and record.line_number - 1 != duplicated
        assert set(record.fields) == {str(k) for k in original}
    for problem in raw.problems:
        index = problem.line_number - 1
        assert not isinstance(records[index], dict) or index == duplicated
        if index == duplicated:
            assert "duplicate key 'k'" in problem.reason


@FUZZ
@given(
    items=st.lists(
        st.one_of(
            json_value.map(lambda v: json.dumps(v, ensure_ascii=False)),
            st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00\ufeff"), max_size=15),
            st.just(""),
            st.just("[" * 3000 + "]" * 3000),
        ),
        max_size=12,
    ),
    crlf=st.booleans(),
)
def test_json_lines_every_line_is_a_record_or_a_problem(tmp_path_factory, items, crlf):
    assume(any(i.strip() for i in items))
    data = (("\r\n" if crlf else "\n").join(items) + "\n").encode("utf-8")
    path = _write(tmp_path_factory.mktemp("jsonl"), "f.jsonl", data)
    raw = read_json_file(path, "utf-8", "f.jsonl", None, lines=True)
    non_blank = {n for n, item in enumerate(items, start=1) if item.strip()}
    records = {r.line_number for r in raw.records}
    problems = {p.line_number for p in raw.problems}
    assert records | problems == non_blank and not records & problems
    for record in raw.records:
        assert isinstance(json.loads(items[record.line_number - 1]), dict)


# --------------------------------------------------------------------------- to_canonical


SPECS = declared_sources()

hostile_value = st.one_of(
    cell_text,
    st.sampled_from(
        [
            "",
            " ",
            "NaN",
            "nan",
            "inf",
            "-Infinity",
            "1e400",
            "99999999999999999999999",
            "3000000000",
            "-1",
            "0",
            "5",
            "4.5",
            "1e3",
            "0x10",
            "9",
            "２",
            "2026-11-03 10:00:00",
            "2026/11/03 10:00:00",
            "2026-11-03T10:00:00+09:00",
            "2026-11-03T01:00:00Z",
            "2026-11-03T10:00:00",
            "2026-11-03 23:59:60",
            "2026-11-03T24:00:00+09:00",
            "10:00:00",
            "2026-11-03",
            "大人",
            "一般",
            "dejima",
            "JP",
            "ja",
            "4111111111111111",
            "=CMD()",
            "<script>alert(1)</script>",
            "とても満足",
            "1",
            "true",
        ]
    ),
)


@pytest.mark.parametrize("source", sorted(SPECS))
def test_to_canonical_never_raises_and_unflagged_rows_fit_the_table(source, tmp_path):
    spec = SPECS[source]
    settings = make_settings(tmp_path)
    id_headers = {h for rule in spec.columns if rule.target in spec.kind.personal_ids for h in rule.headers}

    @hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.fixed_dictionaries({h: hostile_value for h in spec.producer_headers}), min_size=1, max_size=8))
    def check(rows):
        raw = RawFile(headers=list(spec.producer_headers), records=[RawRecord(i + 2, row) for i, row in enumerate(rows)])
        out, problems = to_canonical(spec, raw, "f.csv", "dejima", settings)
        assert len(out) == len(rows)
        assert set(spec.kind.columns) <= set(out.columns)
        flagged = {p.line_number for p in problems}
        assert flagged <= {r.line_number for r in raw.records}
        for problem in problems:
            for header in id_headers & set(problem.raw):
                value = rows[problem.line_number - 2][header]
                # the id's own field is its keyed hash (which may hold a short id as text:
                # "hmac" in "hmac:...", "7a5c" in its hex), never the id itself
                assert problem.raw[header] == "" or re.fullmatch(r"hmac:[0-9a-f]{64}", problem.raw[header])
                others = [v for h, v in rows[problem.line_number - 2].items() if h != header]
                if len(value.strip()) >= 4 and not any(value in other for other in others):
                    # nor in the other quarantined values, the column names aside (an id may equal one)
                    kept = [v for h, v in problem.raw.items() if h != header]
                    assert value not in json.dumps(kept, ensure_ascii=False)
        clean = out[~out["line_number"].isin(list(flagged))]
        for column in spec.kind.required:
            assert clean[column].notna().all(), column
        for column, kind in spec.kind.columns.items():
            values = clean[column].dropna()
            if kind == "integer":
                assert all(abs(int(v)) <= MAX_WHOLE_NUMBER for v in values), column
            elif kind == "double":
                assert all(pd.notna(v) and abs(float(v)) != float("inf") for v in values), column
            elif kind == "timestamp":
                assert all(isinstance(v, pd.Timestamp) and v.tzinfo is None for v in values), column

    check()
