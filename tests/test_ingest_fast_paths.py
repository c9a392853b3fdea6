"""The fast paths of reading and mapping a delivery give exactly what the careful paths give.

flowlib.parsing reads a CSV file two ways: the careful path (one csv reader call and every
check per record) is the definition; the bulk path (``_PlainRuns``) takes runs of lines
that the careful path would read as one record each with nothing to report. The reader
property below throws mixed input at both (``bulk=False`` forces the careful path alone)
and wants the same chunks: records, fields, line numbers, problems, lines read and chunk
boundaries, with chunks so small that their boundaries fall inside bulk runs.

A plain file (no quote anywhere, every line one record of the header's width, nothing to
report: ``FileLines.plain_width``) is read by Arrow's CSV reader instead; the plain-file
property wants the careful path's chunks from it too, and near-plain files (a quote, a
field too many, the header again, a byte-order mark, a blank or damaged line) left to the
Python paths.

flowlib.ingest.to_canonical builds its frame column-wise from the CSV reader and replaces
per-value lambdas by vectorised helpers; each helper is checked here against the plain
per-value computation it replaces, written out in the test, and to_canonical itself
against the same records held as RawRecord objects, for every declared source (a CSV
file's columns convert each distinct cell once, the records' row by row).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bench.reliability.harness import declared_sources, make_settings
from flowlib import ingest, parsing
from flowlib.parsing import FileRejected, NestedValue, RawFile, RawRecord, iter_csv_chunks, read_csv_file

PROPERTY = hsettings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

# ----------------------------------------------------------------------------- the reader

HEADER_NAMES = ["id", "when", "amount", "大人", "note"]
# cells without quotes, commas or line breaks: what a clean export holds (with spaces,
# header names and an ideographic space, so that trimmed cells can equal a header)
plain_cell = st.lists(st.sampled_from(["a", "b", " ", "\t", "大", "\u3000", "id", " id ", "when", "1"]), max_size=3).map("".join)
# anything a producer's cell may hold, quotes and line breaks included
any_cell = st.lists(
    st.sampled_from(["a", " ", ",", '"', "\r", "\n", "\r\n", ";", "大", "\x0b", "\x85", "\u2028", "\ufeff", "id"]), max_size=6
).map("".join)


def _quoted(cells: list[str], quote_all: list[bool]) -> str:
    return ",".join(
        '"' + c.replace('"', '""') + '"' if q or any(ch in c for ch in ',"\r\n') else c for c, q in zip(cells, quote_all)
    )


@st.composite
def csv_files(draw) -> tuple[bytes, str]:
    """A header and up to 60 lines of every sort, in one encoding, with mixed line endings."""
    width = draw(st.integers(1, 4))
    headers = draw(st.lists(st.sampled_from(HEADER_NAMES), min_size=width, max_size=width))  # names may repeat
    lines: list[str | bytes] = [",".join(headers)]
    for _ in range(draw(st.integers(0, 60))):
        kind = draw(st.sampled_from(["plain"] * 6 + ["quoted", "quoted_any", "any", "count", "special", "bad", "nul"]))
        if kind == "plain":
            lines.append(",".join(draw(st.lists(plain_cell, min_size=width, max_size=width))))
        elif kind in ("quoted", "quoted_any"):  # well-formed quoting, line breaks inside quotes too
            cells = draw(st.lists(plain_cell if kind == "quoted" else any_cell, min_size=width, max_size=width))
            lines.append(_quoted(cells, draw(st.lists(st.booleans(), min_size=width, max_size=width))))
        elif kind == "any":  # stray quotes, unclosed quotes, line breaks
            lines.append(",".join(draw(st.lists(any_cell, max_size=width + 1))))
        elif kind == "count":  # a field too many or too few
            lines.append(",".join(draw(st.lists(plain_cell, max_size=width + 2))))
        elif kind == "special":
            lines.append(
                draw(
                    st.sampled_from(
                        [
                            "",
                            "  ",
                            ",".join(headers),
                            ",".join(f" {h} " for h in headers),
                            "\ufeff" + ",".join(headers),
                            '"',
                            '"a\nb"' + "," * (width - 1),
                            '"x"y' + ",z" * (width - 1),
                            "x" * 40,
                        ]
                    )
                )
            )
        elif kind == "bad":
            lines.append(b"x\xff\xfe," + b"y" * draw(st.integers(0, 3)))
        else:
            lines.append(b"a\x00,b")
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp932"]))
    endings = draw(st.lists(st.sampled_from(["\r\n", "\n", "\r"]), min_size=len(lines), max_size=len(lines)))
    if draw(st.booleans()):
        endings = [endings[0]] * len(lines)  # one ending throughout, as most exports
    if draw(st.booleans()):
        endings[-1] = ""  # the last line without an ending
    data = b""
    for line, ending in zip(lines, endings):
        if isinstance(line, str):
            try:
                line = line.encode(encoding)
            except UnicodeEncodeError:
                line = line.encode("utf-8")  # not valid in cp932: a damaged line there
        data += line + ending.encode()
    return data, encoding


def _chunks(path: Path, encoding: str, chunk_records: int, *, bulk: bool) -> list | str:
    try:
        chunks = list(iter_csv_chunks(path, encoding, "f.csv", chunk_records, bulk=bulk))
    except FileRejected as exc:
        return f"rejected: {exc}"
    return [
        (
            c.headers,
            [(r.line_number, r.fields) for r in c.records],
            [(p.line_number, p.reason, p.raw) for p in c.problems],
            c.lines_read,
        )
        for c in chunks
    ]


@PROPERTY
@given(
    file=csv_files(),
    chunk_records=st.integers(0, 5),
    field_limit=st.sampled_from([None, 3, 8]),
    quoted_batch=st.sampled_from([1, 2, 512]),
)
def test_the_bulk_reader_gives_what_the_careful_reader_gives(tmp_path_factory, file, chunk_records, field_limit, quoted_batch):
    data, encoding = file
    path = tmp_path_factory.mktemp("csv") / "f.csv"
    path.write_bytes(data)
    saved_limit, saved_batch = csv.field_size_limit(), parsing._PlainRuns.QUOTED_BATCH
    try:
        if field_limit is not None:  # so that fields over the csv module's limit occur
            csv.field_size_limit(field_limit)
        parsing._PlainRuns.QUOTED_BATCH = quoted_batch  # so that a run's batches end inside it
        bulk = _chunks(path, encoding, chunk_records, bulk=True)
        careful = _chunks(path, encoding, chunk_records, bulk=False)
    finally:
        csv.field_size_limit(saved_limit)
        parsing._PlainRuns.QUOTED_BATCH = saved_batch
    assert bulk == careful


# cells of a plain file: no quote, comma or line break; spaces at the ends, characters
# that end a line for str.splitlines but not for CSV, and the header's names
plain_file_cell = st.lists(
    st.sampled_from(["a", "b", " ", "\t", "大", "\u3000", "\x0b", "\x1c", "\x85", "\u2028", "when", "1", "ID"]), max_size=3
).map("".join)
# what makes a line or a file not plain, each on one line
NOT_PLAIN = ['"a"', "x,y,z,w,v", "", "id", " id ", "\ufeffz", "a\x00b", "a\udcff"]


@st.composite
def plain_files(draw) -> tuple[bytes, str, bool]:
    """A plain file of 0-40 records (or, one time in three, one line of it made not plain),
    its encoding, and whether it is still plain."""
    width = draw(st.integers(1, 4))
    headers = draw(st.lists(st.sampled_from(["id", "when", "amount", "大人", "note", " id"]), min_size=width, max_size=width))
    lines = [",".join(headers)] + [
        ",".join(draw(st.lists(plain_file_cell, min_size=width, max_size=width))) for _ in range(draw(st.integers(0, 40)))
    ]
    spoilt = draw(st.integers(0, 2)) == 0 and len(lines) > 1
    if spoilt:  # a line not plain, or the header again (with spaces around a name perhaps)
        again = ",".join(f" {h}" if draw(st.booleans()) else h for h in headers)
        lines[draw(st.integers(1, len(lines) - 1))] = draw(st.sampled_from([*NOT_PLAIN, again]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp932"]))
    ending = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    text = ending.join(lines) + draw(st.sampled_from(["", ending, ending * 2]))
    data = text.encode(encoding, errors="surrogateescape" if encoding != "cp932" else "replace")
    if encoding == "utf-8-sig" and draw(st.booleans()):
        data = parsing.UTF8_BOM + data
    return data, encoding, not spoilt


@PROPERTY
@given(file=plain_files(), chunk_records=st.integers(0, 5))
def test_a_plain_file_is_read_by_arrow_as_the_careful_reader_reads_it(tmp_path_factory, file, chunk_records):
    data, encoding, _ = file
    path = tmp_path_factory.mktemp("csv") / "f.csv"
    path.write_bytes(data)
    try:
        lines = parsing.FileLines(path, encoding, "f.csv")
    except FileRejected:
        plain = None
    else:
        plain = lines.plain_width
        lines.close()
    try:
        chunks = list(iter_csv_chunks(path, encoding, "f.csv", chunk_records))
    except FileRejected:
        chunks = []
    # Arrow reads exactly the plain files, and gives the careful path's chunks
    assert bool(chunks) and all(c.arrow_columns() is not None for c in chunks) == (plain is not None)
    assert _chunks(path, encoding, chunk_records, bulk=True) == _chunks(path, encoding, chunk_records, bulk=False)


@pytest.mark.parametrize(("encoding", "ending"), [("cp932", "\r\n"), ("utf-8", "\n"), ("utf-8-sig", "\r")])
def test_a_clean_export_is_read_by_arrow(tmp_path, encoding, ending):
    # a POS export as delivered: every chunk held by Arrow, the records those of the careful path
    path = tmp_path / "f.csv"
    rows = [f"2026/11/03 10:{i % 60:02d}:00,{4_000_000 + i},大人,620,JP " for i in range(2_500)]
    path.write_bytes(ending.join(["利用日時,カードID,券種,金額,発行国", *rows, ""]).encode(encoding))
    chunks = list(iter_csv_chunks(path, encoding, "f.csv", 1000))
    assert [c.record_count for c in chunks] == [1000, 1000, 500]
    assert all(c.arrow_columns() is not None for c in chunks)
    assert chunks[2].fields_of_lines({2501, 2502, 2503}) == {
        2501: {"利用日時": "2026/11/03 10:39:00", "カードID": "4002499", "券種": "大人", "金額": "620", "発行国": "JP "}
    }
    assert _chunks(path, encoding, 1000, bulk=True) == _chunks(path, encoding, 1000, bulk=False)


def test_a_plain_file_takes_its_own_chunk_size(tmp_path):
    # Arrow's chunks hold no Python object per record: a plain file is read in chunks of
    # plain_chunk_records, any other file in chunks of chunk_records, with the same records
    rows = [f"2026/11/03 10:{i % 60:02d}:00,{4_000_000 + i},大人,620,JP" for i in range(25)]
    plain, quoted = tmp_path / "plain.csv", tmp_path / "quoted.csv"
    plain.write_bytes("\r\n".join(["利用日時,カードID,券種,金額,発行国", *rows, ""]).encode("cp932"))
    quoted.write_bytes(
        "\r\n".join(["利用日時,カードID,券種,金額,発行国", *rows, '2026/11/03 11:00:00,1,"大人",620,JP', ""]).encode("cp932")
    )
    plain_chunks = list(iter_csv_chunks(plain, "cp932", "plain.csv", 3, plain_chunk_records=10))
    assert [c.record_count for c in plain_chunks] == [10, 10, 5]
    assert all(c.arrow_columns() is not None for c in plain_chunks)
    quoted_chunks = list(iter_csv_chunks(quoted, "cp932", "quoted.csv", 3, plain_chunk_records=10))
    assert [c.record_count for c in quoted_chunks] == [3] * 8 + [2]
    assert [c.record_count for c in iter_csv_chunks(plain, "cp932", "plain.csv", 3)] == [3] * 8 + [1]
    records = [r for c in plain_chunks for r in c.records]
    assert records == [r for c in iter_csv_chunks(plain, "cp932", "plain.csv", 3) for r in c.records]


def test_an_arrow_held_file_reads_as_its_records():
    raw = RawFile.from_arrow(["a", "b"], 2, [pa.array(["1", "3", ""]), pa.array(["2", "4", "x"])])
    expected = [RawRecord(2, {"a": "1", "b": "2"}), RawRecord(3, {"a": "3", "b": "4"}), RawRecord(4, {"a": "", "b": "x"})]
    assert raw.record_count == raw.lines_read == 3 and raw.line_numbers() == [2, 3, 4]
    assert raw.fields_at(1) == {"a": "3", "b": "4"} and raw.fields_at_rows([2, 0]) == [expected[2].fields, expected[0].fields]
    assert raw.fields_of_lines({4, 1, 2, 9}) == {2: expected[0].fields, 4: expected[2].fields}
    assert raw == RawFile(["a", "b"], records=list(expected), lines_read=3)
    raw.extend(RawFile.from_arrow(["a", "b"], 5, [pa.array(["5"]), pa.array(["6"])]))  # the next line: still Arrow
    assert raw.arrow_columns() is not None and raw.fields_of_lines({5}) == {5: {"a": "5", "b": "6"}}
    later = RawFile.columnar(["a", "b"])
    later.add_record(9, ["7", "8"])
    raw.extend(later)  # not the next line: column-wise from here on
    assert raw.arrow_columns() is None and raw.line_numbers() == [2, 3, 4, 5, 9]
    raw.add_record(10, ["9", "0"])
    assert raw.records[-2:] == [RawRecord(9, {"a": "7", "b": "8"}), RawRecord(10, {"a": "9", "b": "0"})]


def _mixed_export(n: int) -> str:
    """A big file: long clean runs, quoted runs, and now and then a line of every other sort."""
    out = ["id,when,amount,note\r\n"]
    for i in range(n):
        if i % 997 == 5:
            out.append('"runs over,\r\nlines",2026-11-03,1,x\r\n')
        elif i % 1009 == 7:
            out.append("id,when,amount,note\r\n")
        elif i % 1013 == 9:
            out.append("too,few\r\n")
        elif i % 3000 < 700:
            out.append(f'{i},2026-11-03 10:00:00,{i % 7},"free text, with a comma"\r\n')
        else:
            out.append(f"{i},2026-11-03 10:00:00,{i % 7},plain\r\n")
    return "".join(out)


@pytest.mark.parametrize("chunk_records", [0, 7, 1000, 4096])
def test_a_big_mixed_file_reads_the_same_both_ways_and_mostly_in_bulk(tmp_path, monkeypatch, chunk_records):
    path = tmp_path / "f.csv"
    path.write_text(_mixed_export(20_000), encoding="utf-8")
    taken = []
    original = parsing._PlainRuns.take
    monkeypatch.setattr(parsing._PlainRuns, "take", lambda self, *a: taken.append(original(self, *a)) or taken[-1])
    bulk = _chunks(path, "utf-8", chunk_records, bulk=True)
    assert bulk == _chunks(path, "utf-8", chunk_records, bulk=False)
    records = sum(len(chunk[1]) for chunk in bulk)
    assert records > 19_900 and sum(taken) > 0.99 * records  # the bulk path is no dead code
    if chunk_records:
        assert [len(chunk[1]) for chunk in bulk[:-1]] == [chunk_records] * (len(bulk) - 1)


def test_a_file_of_records_over_several_lines_costs_few_bulk_tries(tmp_path, monkeypatch):
    # every record runs over two lines: the bulk path takes nothing, and soon stops trying
    path = tmp_path / "f.csv"
    path.write_text("id,note\n" + "".join(f'{i},"line\nbreak"\n' for i in range(5_000)), encoding="utf-8")
    tries = []
    original = parsing._PlainRuns._quoted_run
    monkeypatch.setattr(parsing._PlainRuns, "_quoted_run", lambda self, block: tries.append(1) or original(self, block))
    raw = read_csv_file(path, "utf-8", "f.csv")
    assert [r.line_number for r in raw.records] == list(range(2, 10_002, 2))
    assert len(tries) < 50


@PROPERTY
@given(st.one_of(st.from_regex(ingest._LEAP_SECOND), st.text(alphabet="0123456789:6 -T", max_size=20)))
def test_a_leap_second_holds_the_needle_it_is_looked_for_by(text):
    if ingest._LEAP_SECOND.search(text):
        assert ingest._LEAP_SECOND_NEEDLE in text


def test_line_ends_are_where_the_line_end_pattern_finds_them():
    @PROPERTY
    @given(st.binary(max_size=40).map(lambda b: b.replace(b"\x01", b"\r").replace(b"\x02", b"\n")))
    def check(data):
        ends = [m.end() for m in parsing._LINE_END_BYTES.finditer(data)]
        if not ends or ends[-1] != len(data):
            ends.append(len(data))
        assert parsing._line_ends(data).tolist() == ends

    check()


def test_a_column_wise_file_reads_as_its_records():
    raw = RawFile.columnar(["a", "b", "a"])
    raw.add_record(2, ["1", "2", "3"])
    raw.add_columns(4, [["4", "7"], ["5", "8"], ["6", "9"]])
    expected = [RawRecord(2, {"a": "3", "b": "2"}), RawRecord(4, {"a": "6", "b": "5"}), RawRecord(5, {"a": "9", "b": "8"})]
    assert raw.record_count == 3 and raw.line_numbers() == [2, 4, 5]
    assert [raw.fields_at(i) for i in range(3)] == [r.fields for r in expected]
    assert raw.fields_of_lines({4, 3, 5}) == {4: {"a": "6", "b": "5"}, 5: {"a": "9", "b": "8"}}
    assert raw == RawFile(["a", "b", "a"], records=list(expected))
    more = RawFile.columnar(["a", "b", "a"])
    more.add_record(9, ["x", "y", "z"])
    raw.extend(more)
    assert raw.records == expected + [RawRecord(9, {"a": "z", "b": "y"})]  # held as RawRecords from here on
    raw.records.append(RawRecord(10, {"a": "", "b": ""}))
    assert raw.record_count == 5 and raw.columns() is None


# ------------------------------------------------------------------------ the mapping


SPECS = declared_sources()
VALUE_MAPS = [rule.value_map for spec in SPECS.values() for rule in spec.columns if rule.value_map] + [
    {"a": 1, "b": None},
    {"a": 1, "b": 2.5},
    {"a": True, "b": None},
    {"a": "x", "b": 2},
    {"a": None},
    {"a": 2**70},
]
# values a producer's cell may hold, and the forms the declarations know
cell = st.one_of(
    st.lists(st.sampled_from(["a", "b", " ", "\t", "\u3000", ",", ";", "\n", "1", "9", ":6", ":"]), max_size=5).map("".join),
    st.sampled_from(
        sorted({str(k) for m in VALUE_MAPS for k in m})
        + ["", " ", "2026-11-03 10:00:00", "2026/11/03 10:00:60", "2026-11-03T10:00:61+09:00", "10:6", "1", "true", "0"]
    ),
)
nested = st.builds(lambda v: NestedValue(json.dumps(v)), st.lists(st.integers(), max_size=2))
text_column = st.lists(st.one_of(cell, cell, cell, st.none(), nested), max_size=12).map(
    lambda v: pd.Series(v, index=range(3, 3 + len(v)), dtype="object", name="c")
)


def _same_series(got: pd.Series, want: pd.Series) -> None:
    pd.testing.assert_series_equal(got, want, check_dtype=True, check_index_type=True, check_exact=True)
    assert got.name == want.name
    assert [type(v) for v in got.tolist()] == [type(v) for v in want.tolist()]


def _same_result(got, want) -> None:
    """The two calls give the same series, or fail the same way."""
    try:
        expected = want()
    except Exception as exc:  # noqa: BLE001 - whatever the per-value way raises, the fast way must too
        with pytest.raises(type(exc)):
            got()
        return
    _same_series(got(), expected)


@PROPERTY
@given(data=st.data(), value_map=st.sampled_from(VALUE_MAPS), stripped=st.booleans(), known_only=st.booleans())
def test_value_maps_match_mapping_value_by_value(data, value_map, stripped, known_only):
    if known_only:  # every value in the map: the results alone decide the dtype (str, int64, float64, ...)
        known = st.lists(st.one_of(st.sampled_from(sorted(value_map)), st.none()), max_size=12)
        values = pd.Series(data.draw(known), dtype="object", name="c")
    else:
        values = data.draw(text_column)
    if stripped:  # what to_canonical maps: trimmed text, None for the empty
        trimmed = [(v.strip() or None) if isinstance(v, str) else v for v in values.tolist()]
        values = pd.Series(trimmed, index=values.index, dtype="object", name=values.name)

    def lookup(v):
        return None if v is None else value_map.get(str(v), ingest._UNMAPPED)

    mapped = ingest._map_distinct(values, lookup)
    _same_series(mapped, values.map(lookup))
    unknown = ingest._is_unmapped(mapped)
    _same_series(unknown, values.map(lookup).map(lambda v: v is ingest._UNMAPPED))
    reasons = ingest._reasons(values, unknown, lambda v: f"unknown value {v!r}")
    assert reasons.to_dict() == {i: f"unknown value {v!r}" for i, v in values.items() if unknown[i]}


@PROPERTY
@given(values=text_column, other=st.sampled_from([None, 1, 2.5]))
def test_trimming_emptiness_leap_seconds_and_nested_cells_match_value_by_value(values, other):
    with_other = pd.concat([values, pd.Series([other], dtype="object", name="c")]) if other is not None else values
    for series in (values, with_other):
        _same_result(lambda s=series: ingest._stripped(s), lambda s=series: s.str.strip())
        _same_series(ingest._empty_to_none(series), series.where(series.astype(str) != "", None))
        for pattern, needle in ((ingest._LEAP_SECOND, ingest._LEAP_SECOND_NEEDLE), (re.compile("a"), "")):
            want = series.map(lambda v, p=pattern: isinstance(v, str) and p.search(v) is not None).astype(bool)
            _same_series(ingest._matches(series, pattern, needle), want)
    frame = pd.DataFrame({"c": values, "d": values.iloc[::-1].set_axis(values.index)})
    rule = next(r for s in SPECS.values() for r in s.columns if len(r.headers) == 1)
    rule = type(rule)(target=rule.target, headers=("c", "d", "missing"))
    want = pd.Series(False, index=frame.index)
    for header in ("c", "d"):
        want |= frame[header].map(lambda v: isinstance(v, NestedValue)).astype(bool)
    _same_series(ingest._nested_cells(rule, frame), want)


number_cell = st.one_of(
    st.integers(0, 10**20).map(str),  # up to 21 digits: beyond int64 the pandas way decides
    st.lists(st.sampled_from(["0", "1", "9", " ", "-", "+", ".", "e", "\uff11", "\u0661", "\u00b2", "x"]), max_size=5).map(
        "".join
    ),
)
number_column = st.lists(st.one_of(number_cell, number_cell, number_cell, st.none(), nested), max_size=12).map(
    lambda v: pd.Series(v, index=range(3, 3 + len(v)), dtype="object", name="c")
)


@PROPERTY
@given(
    values=st.one_of(
        number_column,
        number_column.map(lambda s: s[s.notna()]),
        text_column,
        # whole numbers only, some beyond int64
        st.lists(st.one_of(st.integers(0, 999), st.integers(10**16, 10**21)).map(str), min_size=1, max_size=4).map(
            lambda v: pd.Series(v, dtype="object", name="c")
        ),
        # digits only, some of them not ASCII: int() reads them, pandas does not
        st.lists(st.text(alphabet="019\uff11\u0661\u00b2", min_size=1, max_size=4), min_size=1, max_size=6).map(
            lambda v: pd.Series(v, dtype="object", name="c")
        ),
    )
)
def test_numbers_match_to_numeric(values):
    """Whole ASCII numbers read by int(), anything else (signs, decimals, full-width or
    Arabic-Indic digits, superscripts, too long, missing) as pandas reads it."""
    _same_result(lambda: ingest._numbers(values), lambda: pd.to_numeric(values, errors="coerce"))


def _list_rules() -> list:
    return [
        (name, rule) for name, spec in sorted(SPECS.items()) for rule in spec.columns if spec.kind.columns[rule.target] == "list"
    ]


@pytest.mark.parametrize(("source", "rule"), _list_rules(), ids=[f"{s}.{r.target}" for s, r in _list_rules()])
def test_list_answers_match_splitting_row_by_row(source, rule):
    headers = list(rule.producer_headers)

    def expected(row: dict[str, str]) -> list[str]:
        if rule.flags:
            items = [code for header, code in rule.flags.items() if row[header].strip() in ("1", "1.0", "true", "TRUE")]
        else:
            items = []
            for header in rule.headers:
                text = row[header].strip()
                parts = (text.split(rule.split) if rule.split else [text]) if text else []
                items += [part.strip() for part in parts if part.strip()]
        return [rule.value_map.get(i, i) for i in items] if rule.value_map else items

    answer = st.one_of(cell, st.sampled_from(sorted(rule.value_map or {"x": 0})), st.just(" 1 "))

    @PROPERTY
    @given(st.lists(st.fixed_dictionaries({h: answer for h in headers}), max_size=10))
    def check(rows):
        frame = pd.DataFrame(rows, columns=headers, dtype="object").fillna("")
        got = ingest._list_values(rule, frame, "stem")
        assert got.dtype == object and list(got.index) == list(frame.index)
        assert got.tolist() == [expected(row) for row in rows]
        assert len({id(items) for items in got}) == len(got)  # each row its own list

    check()


@pytest.mark.parametrize("source", sorted(SPECS))
def test_to_canonical_of_a_column_wise_file_equals_that_of_its_records(source, tmp_path):
    # the CSV reader's column-wise chunk and the same records as RawRecord objects (the
    # frame built from dicts, every nested-value check run) map onto the same rows
    spec = SPECS[source]
    settings = make_settings(tmp_path)
    headers = list(spec.producer_headers)

    @hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.fixed_dictionaries({h: cell for h in headers}), max_size=10), st.sampled_from([0, 1, 2]))
    def check(rows, named_twice):
        # a header named twice (the record's last field of that name counts): one no rule
        # reads, or one a rule reads (the mapping then fails, the same way both times)
        names = headers + [["extra", "extra"], headers[:1]][named_twice - 1] if named_twice else headers
        values = [[row[h] for h in headers] + [row[headers[0]] + "!"] * (len(names) - len(headers)) for row in rows]
        columnar = RawFile.columnar(names)
        for number, row in enumerate(values, start=2):
            columnar.add_record(number, row)
        by_records = RawFile(names, records=[RawRecord(n, dict(zip(names, row))) for n, row in enumerate(values, start=2)])
        frames = ingest._text_frame(columnar), ingest._text_frame(by_records)
        pd.testing.assert_frame_equal(frames[0][0], frames[1][0], check_dtype=True, check_exact=True)
        pd.testing.assert_series_equal(frames[0][1], frames[1][1])
        try:
            want, want_problems = ingest.to_canonical(spec, by_records, "f.csv", "dejima", settings)
        except Exception as exc:  # noqa: BLE001 - a rule reading a header named twice
            with pytest.raises(type(exc)):
                ingest.to_canonical(spec, columnar, "f.csv", "dejima", settings)
            return
        got, got_problems = ingest.to_canonical(spec, columnar, "f.csv", "dejima", settings)
        pd.testing.assert_frame_equal(got, want, check_dtype=True, check_exact=True)
        for column in got.columns:
            assert [type(v) for v in got[column].tolist()] == [type(v) for v in want[column].tolist()], column
        assert [(p.line_number, p.reason, p.raw) for p in got_problems] == [
            (p.line_number, p.reason, p.raw) for p in want_problems
        ]
        if len(set(names)) == len(names) and values:  # the same records held by Arrow (a plain file's)
            arrow = RawFile.from_arrow(names, 2, [pa.array(list(column), pa.string()) for column in zip(*values)])
            got, got_problems = ingest.to_canonical(spec, arrow, "f.csv", "dejima", settings)
            pd.testing.assert_frame_equal(_held_as_objects(got), want, check_dtype=True, check_exact=True)
            for column in got.columns:
                assert [type(v) for v in _held_as_objects(got)[column].tolist()] == [type(v) for v in want[column].tolist()], (
                    column
                )
            assert [(p.line_number, p.reason, p.raw) for p in got_problems] == [
                (p.line_number, p.reason, p.raw) for p in want_problems
            ]

    check()


def test_arrow_finds_the_values_str_strip_would_change():
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    assert max(map(ord, spaces)) <= 0x3000  # the class lists the characters up to U+3000

    @PROPERTY
    @given(
        st.lists(st.text(alphabet=st.sampled_from([*spaces, "a", "大", "\u200b", "\ufeff", "\x00", ","]), max_size=6), max_size=4)
    )
    def check(values):
        assert ingest._has_edge_space(pa.array(values, pa.string())) == any(value != value.strip() for value in values)

    check()


def _held_as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its Arrow-held text columns as object columns (None for null)."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.ArrowDtype):
            out[column] = pd.Series(out[column].to_numpy(dtype=object, na_value=None), index=out.index, dtype="object")
    return out


def test_a_text_column_of_an_arrow_held_file_stays_in_arrow(tmp_path):
    # the card ids of a POS chunk read by Arrow are not turned into a Python string each;
    # a column with a space at an end is trimmed by str.strip (the definition) instead
    spec, settings = SPECS["entry_pos_a"], make_settings(tmp_path)
    cells = {
        "利用日時": ["2026/11/03 10:00:00", "2026/11/03 10:00:01", "2026/11/03 10:00:02"],
        "カードID": ["4001", "4002", ""],
        "券種": ["大人", "大人", "小学生"],
        "金額": ["620", "620", "310"],
        "発行国": ["JP", "\u3000US", "JP"],
    }
    headers = list(cells)
    raw = RawFile.from_arrow(headers, 2, [pa.array(cells[h]) for h in headers])
    out, problems = ingest.to_canonical(spec, raw, "f.csv", "dejima", settings)
    assert isinstance(out["card_id"].dtype, pd.ArrowDtype)
    assert out["card_id"].isna().tolist() == [False, False, True] and out["issuer_country"].tolist() == ["JP", "US", "JP"]
    assert [(p.line_number, p.reason) for p in problems] == [(4, "missing card_id")]
    assert problems[0].raw["券種"] == "小学生"


# ----------------------------------------------------------------------------- staging


@pytest.mark.parametrize("source", sorted(SPECS))
def test_a_chunk_stages_the_same_rows_from_arrow_as_from_its_frame(source, tmp_path):
    # the stager hands DuckDB each converted chunk as an Arrow table (read without the GIL):
    # the staged rows, pseudonyms included, are those the frame itself gave
    from flowlib.pipeline import prepare_warehouse
    from flowlib.warehouse import writer

    spec = SPECS[source]
    settings = make_settings(tmp_path)
    prepare_warehouse(settings)
    headers = list(spec.producer_headers)
    stage_sql = ingest._sql("stage_pseudonymised_chunk" if spec.kind.personal_ids else "stage_chunk", settings)
    field = st.one_of(cell, st.sampled_from(["2026-11-03 10:00:00", "2026/11/03 10:00:00", "620", "-3", "1.5", "JP", ""]))

    with writer(settings) as con:

        def staged(chunk) -> list[tuple]:
            ingest.stage(con, spec, settings)
            if isinstance(chunk, pd.DataFrame):
                con.register("ingest_chunk", chunk)
                con.execute(stage_sql)
                con.unregister("ingest_chunk")
            else:
                with ingest._ChunkStager(con, stage_sql) as stager:
                    stager.stage(chunk())
            rows = con.execute("select * from ingest_rows").fetchall()
            con.execute(ingest._sql("unstage", settings))
            return rows

        @hsettings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.lists(st.fixed_dictionaries({h: field for h in headers}), min_size=1, max_size=8))
        def check(rows):
            raw = RawFile.columnar(headers)
            for number, row in enumerate(rows, start=2):
                raw.add_record(number, [row[h] for h in headers])
            canonical, _ = ingest.to_canonical(spec, raw, "f.csv", "dejima", settings)
            chunk = canonical.rename(columns=dict(spec.kind.personal_ids)).assign(file_index=0)
            assert isinstance(ingest._without_python_objects(chunk), pa.Table)
            rows_staged = staged(chunk)
            assert staged(lambda: chunk) == rows_staged
            # the same records held by Arrow (a plain file's): the same rows staged
            if len(set(headers)) == len(headers):
                arrow = RawFile.from_arrow(headers, 2, [pa.array([row[h] for row in rows], pa.string()) for h in headers])
                canonical, _ = ingest.to_canonical(spec, arrow, "f.csv", "dejima", settings)
                chunk = canonical.rename(columns=dict(spec.kind.personal_ids)).assign(file_index=0)
                assert staged(lambda: chunk) == rows_staged

        check()


@PROPERTY
@given(st.lists(st.integers(0, 7), max_size=12), st.integers(1, 10))
def test_staged_rows_reach_validation_in_chunks_of_the_size_asked(sizes, rows):
    # DuckDB hands a scan over in batches of its own size: validation regroups them, in
    # order, into chunks of exactly FLOW_VALIDATION_CHUNK_ROWS rows (the last one shorter)
    batches, total = [], 0
    for size in sizes:
        batches.append(pa.record_batch({"n": pa.array(range(total, total + size), pa.int64())}))
        total += size
    reader = pa.RecordBatchReader.from_batches(pa.schema([("n", pa.int64())]), batches)
    tables = list(ingest._batches_of(reader, rows))
    assert [t.num_rows for t in tables] == [rows] * (total // rows) + ([total % rows] if total % rows else [])
    assert [n for t in tables for n in t.column("n").to_pylist()] == list(range(total))


def test_a_chunk_arrow_cannot_hold_stays_a_frame():
    mixed = pd.DataFrame({"value": pd.Series([1, "a", None], dtype="object"), "n": [1, 2, 3]})
    assert ingest._without_python_objects(mixed) is mixed
    plain = pd.DataFrame({"value": pd.Series(["a", None], dtype="object"), "n": [1, 2]})
    assert ingest._without_python_objects(plain).to_pylist() == [{"value": "a", "n": 1}, {"value": None, "n": 2}]
