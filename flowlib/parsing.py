"""Reading a producer's file into rows of text, exactly as delivered, line by line.

Deliveries come in CP932, UTF-8 and UTF-8 with BOM, sometimes truncated, sometimes with a
stray byte. This module turns bytes into (line number, fields) pairs and records every line
it cannot read as a row problem rather than stopping, unless the whole file is unreadable.

Line numbers are physical lines as an editor shows them (a line ends at CRLF, LF or CR,
where the csv module ends them too); a CSV record that spans lines (a quoted free text
with line breaks) is numbered by its first line. A damaged line costs that line only:
a quote that is never closed, a NUL byte, a stray byte-order mark or a repeated header
(two exports concatenated) never takes the good lines after it down with it.

Three readers give the same records: the careful one (the csv module and every check, per
record) is the definition; runs of lines that hold no CSV subtlety are split in bulk
(``_PlainRuns``); a file with none at all (``FileLines.plain_width``) is read by Arrow's
CSV reader (``_arrow_chunks``). tests/test_ingest_fast_paths.py holds them to each other.
A JSON export or JSON Lines file is read a chunk of records at a time too
(``iter_json_chunks``): the records, problems and refusals of its whole text parsed by
``json.loads``, without its records ever held as Python objects at once.
"""

from __future__ import annotations

import bisect
import csv
import json
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, islice, repeat
from pathlib import Path
from typing import AnyStr

import numpy as np
import pyarrow as pa
from pyarrow import csv as arrow_csv

UTF8_BOM = b"\xef\xbb\xbf"
#: Above this share of undecodable lines the file is in the wrong encoding, not dirty.
MAX_BAD_ENCODING_SHARE = 0.2
#: Refuse single lines longer than this: no producer writes them, attackers do.
MAX_LINE_BYTES = 1_000_000

_LINE_END_BYTES = re.compile(rb"\r\n|\r|\n")
_LINE_END_TEXT = re.compile(r"\r\n|\r|\n")
_NUL_PROBLEM = "NUL bytes in the line (binary or corrupt data)"
_DEEP_JSON = "nested more deeply than the JSON reader allows (a recursion bomb, not an export)"


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def printable(name: str) -> str:
    """A file name (or any producer text) safe to put in a log line or an alert: control,
    line-separator and bidi characters are written as escapes, so a name cannot forge a log
    line, cut an alert at a newline, or reorder what the operator reads."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), name)


class FileRejected(ValueError):
    """The whole file cannot be loaded; the message names the file, line and problem."""

    def __init__(self, file_name: str, line: int | None, problem: str) -> None:
        self.file_name = file_name
        self.line = line
        self.problem = problem
        where = f"{printable(file_name)}, line {line}" if line else printable(file_name)
        super().__init__(f"{where}: {problem}")


class NestedValue(str):
    """A JSON object or list met where a record's field should hold one value: kept as its
    JSON text, and marked so that a single-value column quarantines the row."""


@dataclass
class RawRecord:
    line_number: int
    fields: dict[str, str]


@dataclass
class RowProblem:
    line_number: int
    reason: str
    raw: dict[str, str] | str


class RawFile:
    """A file's (or a chunk's) header, records, problems and the number of lines read.

    The records are held one of three ways, the same records either way: as RawRecord
    objects (JSON, tests), column-wise (the CSV reader: a list of line numbers and one list of
    values per header), which ``ingest.to_canonical`` turns into a frame without building a
    dict per row, or as Arrow text arrays, one per header, of records on consecutive lines
    (a plain CSV file read by Arrow: ``arrow_columns``), which ``to_canonical`` converts
    without a Python object per cell. ``records`` always gives RawRecord objects: a file
    builds them on first use and from then on holds them instead (so callers may extend the
    list); adding records to an Arrow-held file turns it column-wise first."""

    def __init__(
        self,
        headers: list[str],
        records: list[RawRecord] | None = None,
        problems: list[RowProblem] | None = None,
        lines_read: int = 0,
        notes: list[str] | None = None,
    ) -> None:
        self.headers = headers
        self.problems = [] if problems is None else problems
        self.lines_read = lines_read
        self.notes = [] if notes is None else notes
        self._records: list[RawRecord] | None = [] if records is None else records
        self._line_numbers: list[int] = []
        self._columns: list[list[str]] = []
        self._arrow: list[pa.Array] | None = None  # with the line of the first record
        self._first_line = 0

    @classmethod
    def columnar(cls, headers: list[str]) -> RawFile:
        """An empty file whose records are kept column-wise (``add_record``, ``add_columns``)."""
        raw = cls(headers)
        raw._records, raw._columns = None, [[] for _ in headers]
        return raw

    @classmethod
    def from_arrow(cls, headers: list[str], first_line: int, arrays: list[pa.Array]) -> RawFile:
        """The records on the lines from ``first_line`` on, one per line, one text array per
        header; each record a line read (``lines_read``)."""
        raw = cls.columnar(headers)
        raw._columns, raw._arrow, raw._first_line = [], arrays, first_line
        raw.lines_read = len(arrays[0]) if arrays else 0
        return raw

    def arrow_columns(self) -> tuple[int, list[pa.Array]] | None:
        """(line of the first record, one text array per header) of an Arrow-held file, else None."""
        return None if self._arrow is None else (self._first_line, self._arrow)

    def _to_lists(self) -> None:
        """Hold an Arrow-held file's records column-wise instead."""
        if self._arrow is not None:
            arrays, self._arrow = self._arrow, None
            self._columns = [array.to_pylist() for array in arrays]
            self._line_numbers = list(range(self._first_line, self._first_line + (len(arrays[0]) if arrays else 0)))

    @property
    def records(self) -> list[RawRecord]:
        self._to_lists()
        if self._records is None:
            headers = self.headers
            self._records = [
                RawRecord(number, dict(zip(headers, values)))
                for number, values in zip(self._line_numbers, zip(*self._columns) if self._columns else ())
            ]
            self._line_numbers, self._columns = [], []
        return self._records

    @records.setter
    def records(self, value: list[RawRecord]) -> None:
        self._records, self._line_numbers, self._columns = value, [], []

    @property
    def record_count(self) -> int:
        if self._arrow is not None:
            return len(self._arrow[0]) if self._arrow else 0
        return len(self._records) if self._records is not None else len(self._line_numbers)

    def add_record(self, line_number: int, values: list[str]) -> None:
        """One record of len(headers) values."""
        self._to_lists()
        if self._records is not None:
            self._records.append(RawRecord(line_number, dict(zip(self.headers, values))))
            return
        self._line_numbers.append(line_number)
        for column, value in zip(self._columns, values):
            column.append(value)

    def add_columns(self, first_line: int, columns: list[list[str]]) -> None:
        """Records on consecutive lines from ``first_line``, one list of values per header."""
        self._to_lists()
        if self._records is not None:
            for offset, values in enumerate(zip(*columns)):
                self.add_record(first_line + offset, list(values))
            return
        self._line_numbers.extend(range(first_line, first_line + len(columns[0])))
        for column, values in zip(self._columns, columns):
            column.extend(values)

    def extend(self, other: RawFile) -> None:
        """Append another chunk of the same file (records, problems, lines read)."""
        if self._arrow is not None and other._arrow is not None and other._first_line == self._first_line + self.record_count:
            self._arrow = [pa.concat_arrays([mine, theirs]) for mine, theirs in zip(self._arrow, other._arrow)]
            self.problems += other.problems
            self.lines_read += other.lines_read
            return
        self._to_lists()
        other._to_lists()
        if self._records is None and other._records is None:
            self._line_numbers += other._line_numbers
            for column, values in zip(self._columns, other._columns):
                column.extend(values)
        else:
            self.records += other.records
        self.problems += other.problems
        self.lines_read += other.lines_read

    def columns(self) -> tuple[list[int], list[list[str]]] | None:
        """(line numbers, one list of values per header) of a column-wise file (an Arrow-held
        one turned column-wise), else None."""
        self._to_lists()
        return None if self._records is not None else (self._line_numbers, self._columns)

    def line_numbers(self) -> list[int]:
        if self._arrow is not None:
            return list(range(self._first_line, self._first_line + self.record_count))
        return self._line_numbers if self._records is None else [r.line_number for r in self._records]

    def fields_at(self, index: int) -> dict[str, str]:
        """The fields of the ``index``-th record."""
        if self._arrow is not None:
            return self.fields_at_rows([index])[0]
        if self._records is not None:
            return self._records[index].fields
        return dict(zip(self.headers, (column[index] for column in self._columns)))

    def fields_at_rows(self, indexes: list[int]) -> list[dict[str, str]]:
        """The fields of the records at ``indexes`` (positions, as ``fields_at``)."""
        if self._arrow is None or not indexes:
            return [self.fields_at(index) for index in indexes]
        taken = pa.array(indexes, type=pa.int64())
        values = [array.take(taken).to_pylist() for array in self._arrow]
        return [dict(zip(self.headers, row)) for row in zip(*values)]

    def fields_of_lines(self, wanted: set[int] | frozenset[int]) -> dict[int, dict[str, str]]:
        """{line number: fields} of the records starting on the ``wanted`` lines."""
        if self._arrow is not None:
            lines = sorted(n for n in wanted if 0 <= n - self._first_line < self.record_count)
            return dict(zip(lines, self.fields_at_rows([n - self._first_line for n in lines])))
        if self._records is not None:
            return {r.line_number: r.fields for r in self._records if r.line_number in wanted}
        numbers, found = self._line_numbers, {}
        for number in sorted(wanted):  # the reader adds records in line order: numbers ascend
            index = bisect.bisect_left(numbers, number)
            if index < len(numbers) and numbers[index] == number:
                found[number] = self.fields_at(index)
        return found

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RawFile):
            return NotImplemented
        return (self.headers, self.problems, self.lines_read, self.notes) == (
            other.headers,
            other.problems,
            other.lines_read,
            other.notes,
        ) and self._pairs() == other._pairs()

    def _pairs(self) -> list[tuple[int, dict[str, str]]]:
        return list(zip(self.line_numbers(), self.fields_at_rows(list(range(self.record_count)))))

    def __repr__(self) -> str:
        return (
            f"RawFile(headers={self.headers!r}, records={self.record_count}, problems={self.problems!r}, "
            f"lines_read={self.lines_read!r}, notes={self.notes!r})"
        )


def _too_long(file_name: str, number: int, length: int, *, at_least: bool = False) -> None:
    size = f"more than {length:,}" if at_least else f"{length:,}"
    raise FileRejected(file_name, number, f"line is {size} bytes long (limit {MAX_LINE_BYTES:,}): not a CSV export.")


def _line_ends(part: bytes) -> np.ndarray:
    """Where each line of ``part`` ends (just after its CRLF, LF or CR, as ``_LINE_END_BYTES``
    finds them; a last line without an ending at ``len(part)``), found in C, not per line."""
    data = np.frombuffer(part, dtype=np.uint8)
    ending = data == ord("\n")
    if b"\r" in part:
        lone_cr = data == ord("\r")
        lone_cr[:-1] &= ~ending[1:]  # a CR followed by LF is part of a CRLF, which ends at the LF
        ending |= lone_cr
    ends = np.flatnonzero(ending) + 1
    if not len(ends) or ends[-1] != len(part):
        ends = np.append(ends, len(part))
    return ends


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def _decode_lines(data: bytes, encoding: str, file_name: str) -> tuple[Iterator[str], dict[int, str]]:
    """The file's decoded physical lines (endings kept), given one at a time, and its
    unreadable lines by number: bytes not valid in the encoding, or NUL bytes (such a line
    reads as its line ending alone). A later line reads without the byte-order marks it
    starts with. A first pass over the bytes finds the unreadable lines and refuses a file
    with too many of them; the lines are decoded again as they are read, so a damaged file
    costs its bytes, not a string per line (a 262 MB JSON Lines file with one bad byte
    peaked at 1,275 MiB read as a list of lines). A line decodes alone as it decodes in the
    file: a line ending is never part of a character in the three encodings."""
    if encoding == "cp932" and data.startswith(UTF8_BOM):
        raise FileRejected(
            file_name,
            1,
            "the file starts with a UTF-8 byte-order mark but the "
            "source declares cp932; ask the producer which encoding "
            "they send, or fix the declaration.",
        )
    start = _after_byte_order_marks(data)
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    total, nul_lines, bad = 0, [], {}
    for total, piece in enumerate(_physical_lines(data, start), start=1):
        if b"\x00" in piece:
            nul_lines.append(total)
        try:
            piece.decode(codec)
        except UnicodeDecodeError as exc:
            bad[total] = f"bytes not valid {encoding} at byte {exc.start} of the line"
    total = max(total, 1)
    if len(nul_lines) > max(1, MAX_BAD_ENCODING_SHARE * total):
        raise FileRejected(file_name, min(nul_lines), "the file contains NUL bytes: it is binary or corrupt, not a CSV export.")
    if len(bad) > max(1, MAX_BAD_ENCODING_SHARE * total):
        first = min(bad)
        raise FileRejected(
            file_name,
            first,
            f"{len(bad)} of {total} lines are not valid {encoding}: the file is in another encoding than declared.",
        )
    for number in nul_lines:
        bad.setdefault(number, _NUL_PROBLEM)
    return _decoded_lines(data, start, codec, bad), bad


def _physical_lines(data: AnyStr, start: int = 0) -> Iterator[AnyStr]:
    """The physical lines of ``data`` (bytes or text) from ``start``, with their endings
    (split at CRLF, LF and CR)."""
    line_end = _LINE_END_BYTES if isinstance(data, bytes) else _LINE_END_TEXT
    for match in line_end.finditer(data, start):
        yield data[start : match.end()]
        start = match.end()
    if start < len(data):
        yield data[start:]


def _after_byte_order_marks(data: bytes) -> int:
    """Where ``data`` starts after the UTF-8 byte-order marks it begins with."""
    start = 0
    while data.startswith(UTF8_BOM, start):
        start += len(UTF8_BOM)
    return start


def _decoded_lines(data: bytes, start: int, codec: str, bad: dict[int, str]) -> Iterator[str]:
    for number, piece in enumerate(_physical_lines(data, start), start=1):
        if number in bad:
            yield piece[len(piece.rstrip(b"\r\n")) :].decode("ascii")
        elif number > 1:
            # a byte-order mark at the start of a later line is left over from joining files
            yield piece.decode(codec).lstrip("\ufeff")
        else:
            yield piece.decode(codec)


#: Bytes read from a file at a time while its lines are indexed and read back.
READ_BLOCK_BYTES = 4 << 20


class FileLines(Sequence[str]):
    """A CSV file's decoded physical lines (endings kept), read from disk when asked for.

    One streaming pass over the file records where each line starts (8 bytes a line), which
    lines are not valid in the encoding or hold NUL bytes, and refuses over-long lines; then
    ``lines[i]`` decodes line ``i`` again, with the next few MB of lines. A 200 MB export so costs
    its line index, never its text as millions of strings (docs/reliability.md, "Bounded
    resources"). The lines read exactly as ``_decode_lines`` returns them: an unreadable line
    as its line ending alone, a later line without the byte-order mark it starts with."""

    def __init__(self, path: Path, encoding: str, file_name: str) -> None:
        self._encoding, self._codec = encoding, "utf-8" if encoding == "utf-8-sig" else encoding
        self.bad: dict[int, str] = {}
        self._starts = array("q")
        self._has_content = False
        self.path = path
        # what _plain_part has found of every line so far (see plain_width)
        self._plain, self._commas, self._first_header, self._longest = True, -1, "", 0
        self._handle = path.open("rb")
        self._cache_first, self._cache = 0, []
        try:
            self._index(file_name)
        except BaseException:
            self._handle.close()
            raise

    def close(self) -> None:
        self._handle.close()

    def _index(self, file_name: str) -> None:
        head = self._handle.read(len(UTF8_BOM) * 16)
        start = 0
        while head[start:].startswith(UTF8_BOM):
            start += len(UTF8_BOM)
        if self._encoding == "cp932" and start:
            raise FileRejected(
                file_name,
                1,
                "the file starts with a UTF-8 byte-order mark but the "
                "source declares cp932; ask the producer which encoding "
                "they send, or fix the declaration.",
            )
        self._handle.seek(start)
        pending, offset, nul_lines = b"", start, set()  # offset: where pending starts in the file
        while True:
            block = self._handle.read(READ_BLOCK_BYTES)
            data = pending + block if pending else block
            if not data:
                break
            # whole lines only: up to the last LF, or a CR that is not last (a CRLF may be split)
            cut = max(data.rfind(b"\n"), data.rfind(b"\r", 0, len(data) - 1)) + 1 if block else len(data)
            if cut == 0:
                if len(data) > MAX_LINE_BYTES + 2:
                    _too_long(file_name, len(self._starts) + 1, len(data), at_least=True)  # read no further
                pending = data
                continue
            nul_lines |= self._scan(data[:cut] if cut < len(data) else data, offset, file_name)
            pending, offset = data[cut:], offset + cut
        self._end = offset
        if not self._has_content:
            raise FileRejected(file_name, None, "the file is empty (no header): an empty delivery.")
        total = max(len(self._starts), 1)
        if len(nul_lines) > max(1, MAX_BAD_ENCODING_SHARE * total):
            raise FileRejected(
                file_name, min(nul_lines), "the file contains NUL bytes: it is binary or corrupt, not a CSV export."
            )
        if len(self.bad) > max(1, MAX_BAD_ENCODING_SHARE * total):
            raise FileRejected(
                file_name,
                min(self.bad),
                f"{len(self.bad)} of {total} lines are not valid {self._encoding}: the file is in another encoding than declared.",
            )
        for number in nul_lines:
            self.bad.setdefault(number, _NUL_PROBLEM)
        self._bad_sorted = sorted(self.bad)

    def _scan(self, part: bytes, offset: int, file_name: str) -> set[int]:
        """Index the whole lines in ``part`` (the file's bytes from ``offset``); returns the
        numbers of lines holding NUL bytes and records undecodable ones in ``bad``."""
        first = len(self._starts) + 1
        if not self._has_content and part.strip():
            self._has_content = True
        ends = _line_ends(part)
        begins = np.concatenate(([0], ends[:-1]))
        for index in np.flatnonzero(ends - begins > MAX_LINE_BYTES).tolist():  # an ending aside, too long?
            length = len(part[begins[index] : ends[index]].rstrip(b"\r\n"))
            if length > MAX_LINE_BYTES:
                _too_long(file_name, first + index, length)
        self._starts.frombytes((begins + offset).astype(np.int64).tobytes())
        has_nul = b"\x00" in part
        try:
            text = part.decode(self._codec)
            clean = True
        except UnicodeDecodeError:
            clean = False
        if self._plain:
            self._plain = clean and not has_nul and self._plain_part(part, text, begins, ends, first)
        nul_lines: set[int] = set()
        if clean and not has_nul:
            return nul_lines
        begin = 0
        for number, end in enumerate(ends.tolist(), start=first):
            line, begin = part[begin:end], end
            if b"\x00" in line:
                nul_lines.add(number)
            if not clean:
                try:
                    line.decode(self._codec)
                except UnicodeDecodeError as exc:
                    self.bad[number] = f"bytes not valid {self._encoding} at byte {exc.start} of the line"
        return nul_lines

    def _plain_part(self, part: bytes, text: str, begins: np.ndarray, ends: np.ndarray, first: int) -> bool:
        """Whether the lines of ``part`` (decoded: ``text``; line ``first`` its first) are still
        plain: no double quote, no byte-order mark, as many commas as the first line (the
        header), no field of the first column holding the header's first name. A comma, a
        quote and a line ending are single bytes in every declared encoding (sources.ENCODINGS),
        never part of another character, so the bytes can be counted."""
        if '"' in text or "\ufeff" in text:
            return False
        search_from = 0
        if first == 1:
            line_end = _LINE_END_TEXT.search(text)
            header_line = text[: line_end.start()] if line_end else text
            self._commas = header_line.count(",")
            self._first_header = header_line.split(",", 1)[0].strip()
            search_from = line_end.end() if line_end else len(text)
        if self._commas < 1 or not self._first_header or text.find(self._first_header, search_from) >= 0:
            return False  # one column, a nameless first column, or perhaps the header again
        # the k commas of each line: the n lines of the part hold n * k, and the j-th k of them
        # (in file order) begin and end on line j: then no line has more or fewer than k
        commas, k = np.flatnonzero(np.frombuffer(part, dtype=np.uint8) == ord(",")), self._commas
        if len(commas) != k * len(ends) or (commas[::k] < begins).any() or (commas[k - 1 :: k] >= ends).any():
            return False
        self._longest = max(self._longest, int((ends - begins).max()))
        return True

    @property
    def plain_width(self) -> int | None:
        """The number of fields on every line if each line of the file is one record that the
        csv module reads by splitting it at its commas, with nothing to report: no double quote
        anywhere, every line readable, without NUL bytes or byte-order marks, shorter than the
        csv field limit, with as many commas as the header (at least one), and no first field
        holding the header's first name (a repeated header). Else None. (And a csv field limit
        that the careful path's end-of-file marker stays within: a test's tiny limit makes
        that marker an unreadable record of its own.)"""
        limit = csv.field_size_limit()
        if not self._plain or self.bad or len(self._starts) < 2 or max(self._longest, len(_END_OF_FILE)) > limit:
            return None
        return self._commas + 1

    @property
    def codec(self) -> str:
        return self._codec

    def start_of(self, index: int) -> int:
        """Where line ``index`` (0-based) starts in the file."""
        return self._starts[index]

    def __len__(self) -> int:
        return len(self._starts)

    def _end_of(self, index: int) -> int:
        return self._starts[index + 1] if index + 1 < len(self._starts) else self._end

    def _load(self, first: int) -> None:
        """Decode the lines from ``first`` on, up to READ_BLOCK_BYTES of them, in one go."""
        start = self._starts[first]
        last = max(bisect.bisect_right(self._starts, start + READ_BLOCK_BYTES) - 1, first + 1)
        last = min(last, len(self._starts))  # lines first .. last-1
        self._handle.seek(start)
        data = self._handle.read(self._end_of(last - 1) - start)
        lines: list[str] | None = None
        may_hold_bom = True
        if not self._bad_sorted or bisect.bisect_left(self._bad_sorted, first + 1) == bisect.bisect_right(self._bad_sorted, last):
            # fast path: one decode and a split in C; splitlines also breaks at characters
            # that are no line end here (\x0b, \x1c, \u2028, ...), seen by the count
            text = data.decode(self._codec)
            lines = text.splitlines(keepends=True)
            may_hold_bom = "\ufeff" in text
            if len(lines) != last - first:
                lines = None
        if lines is None:
            lines = []
            for index in range(first, last):
                chunk = data[self._starts[index] - start : self._end_of(index) - start]
                if index + 1 in self.bad:
                    lines.append(chunk[len(chunk.rstrip(b"\r\n")) :].decode("ascii"))
                else:
                    lines.append(chunk.decode(self._codec))
        for offset, line in enumerate(lines if may_hold_bom else ()):
            if line.startswith("\ufeff") and first + offset:
                lines[offset] = line.lstrip("\ufeff")
        self._cache_first, self._cache = first, lines

    def _line(self, index: int) -> str:
        position = index - self._cache_first
        if not 0 <= position < len(self._cache):
            self._load(index)
            position = 0
        return self._cache[position]

    def block(self, index: int, most: int) -> list[str]:
        """Up to ``most`` lines from ``index`` on: those decoded with line ``index`` (at least it)."""
        self._line(index)
        position = index - self._cache_first
        return self._cache[position : position + most]

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self._line(i) for i in range(*index.indices(len(self._starts)))]
        if index < 0:
            index += len(self._starts)
        if not 0 <= index < len(self._starts):
            raise IndexError(index)
        return self._line(index)


#: Fed to the csv reader after the last line. Decoded lines never hold a NUL (such lines
#: are blanked), so a record that swallows this marker was inside a quote at the end of
#: the file: its quote was never closed.
_END_OF_FILE = "\x00end of file\x00\n"


def _csv_reader(lines: Sequence[str], start: int) -> Iterator[list[str]]:
    return csv.reader((lines[i] if i < len(lines) else _END_OF_FILE for i in range(start, len(lines) + 1)), strict=False)


def read_csv_file(path: Path, encoding: str, file_name: str) -> RawFile:
    """The whole file as one RawFile (the chunks of ``iter_csv_chunks`` joined)."""
    whole: RawFile | None = None
    for chunk in iter_csv_chunks(path, encoding, file_name):
        if whole is None:
            whole = chunk
            continue
        whole.extend(chunk)
    assert whole is not None  # the generator yields at least one chunk or raises
    return whole


def iter_csv_chunks(
    path: Path,
    encoding: str,
    file_name: str,
    chunk_records: int = 0,
    *,
    plain_chunk_records: int | None = None,
    bulk: bool = True,
) -> Iterator[RawFile]:
    """The file's records in chunks of ``chunk_records`` (0: one chunk), each a RawFile with
    the header and the problems met while reading its records; a plain file, which Arrow
    reads (``_arrow_chunks``: no Python object per record), in chunks of
    ``plain_chunk_records`` (None: ``chunk_records``). The caller converts a chunk
    and drops it before the next is built, so the per-record objects (a dict of fields per
    row, several times the file's size) never exist for the whole file at once. File-level
    refusals (encoding, NUL bytes, header, line length) are raised before the first chunk.
    ``bulk=False`` reads every line the careful way (``_csv_chunks``): for tests only."""
    lines = FileLines(path, encoding, file_name)
    try:
        yield from _csv_chunks(lines, lines.bad, file_name, chunk_records, plain_chunk_records, bulk=bulk)
    finally:
        lines.close()


def _csv_chunks(
    lines: Sequence[str],
    bad_lines: dict[int, str],
    file_name: str,
    chunk_records: int,
    plain_chunk_records: int | None = None,
    *,
    bulk: bool = True,
) -> Iterator[RawFile]:
    """The records and problems of ``lines`` (see ``iter_csv_chunks``).

    Two paths read the same records. The careful one (one csv reader call and every check
    below per record) is the definition: it alone reads records over several lines, damaged
    lines, repeated headers, wrong field counts and what the csv module refuses. The bulk
    one (``_PlainRuns``) only takes runs of lines that the careful path would turn into one
    record each with nothing to report, with one reader over the run and the checks done
    for the run at once; a clean export is read at several times the speed. It gives exactly
    what the careful path gives for those lines (records, line numbers, lines read, chunk
    boundaries); tests/test_ingest_fast_paths.py compares the two (``bulk=False``) on mixed
    input."""
    reader, base, consumed = _csv_reader(lines, 0), 0, 0
    try:
        header_row = next(reader)
    except StopIteration:
        raise FileRejected(file_name, 1, "the file has no readable header line.") from None
    except csv.Error as exc:
        raise FileRejected(file_name, 1, f"the header cannot be read as CSV ({exc}).") from exc
    if 1 in bad_lines:
        raise FileRejected(file_name, 1, f"the header line has {bad_lines[1]}.")
    if any("\x00" in cell for cell in header_row):
        raise FileRejected(file_name, 1, "the header line opens a quote that is never closed.")
    headers = [h.strip().lstrip("\ufeff") for h in header_row]
    if bulk and isinstance(lines, FileLines) and lines.plain_width == len(headers):
        yield from _arrow_chunks(lines, headers, chunk_records if plain_chunk_records is None else plain_chunk_records)
        return
    consumed = reader.line_num
    result = RawFile.columnar(headers)
    plain = _PlainRuns(lines, bad_lines, headers) if bulk and headers and isinstance(lines, FileLines) else None

    def restart(after_line: int) -> None:
        """Parse again from the physical line after ``after_line`` (1-based)."""
        nonlocal reader, base, consumed
        reader, base, consumed = _csv_reader(lines, after_line), after_line, 0

    def resync(first: int, reason: str, raw: str) -> None:
        """A quote broke the record starting at ``first``: go on at the next line that reads
        as a record of the header's width on its own. The lines skipped on the way (the rest
        of a runaway quoted text) belong to this one bad record, never one problem each."""
        resume = first + 1
        while resume <= len(lines) and not _starts_record(lines, resume, len(headers)):
            resume += 1
        if resume - 1 > first:
            reason += f" (lines {first}-{resume - 1} set aside as one record)"
        result.lines_read += 1
        result.problems.append(RowProblem(first, reason, raw))
        restart(resume - 1)

    while True:
        first = base + consumed + 1
        if plain is not None and first <= len(lines):
            # a record starts on line ``first``: take the whole-record lines from there in bulk
            room = chunk_records - result.record_count if chunk_records else None
            taken = plain.take(first, room, result)
            if taken:
                result.lines_read += taken
                restart(first - 1 + taken)
                if chunk_records and result.record_count >= chunk_records:
                    yield result
                    result = RawFile.columnar(headers)
                continue
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            resync(first, f"unreadable CSV: {exc}", lines[first - 1].rstrip("\r\n")[:500] if first <= len(lines) else "")
            continue
        consumed = reader.line_num
        last = min(base + consumed, len(lines))
        spans_lines = last > first
        if first > len(lines):
            break  # the end-of-file marker on its own
        if any("\x00" in cell for cell in row):
            resync(
                first,
                "a quote opened in this line is never closed (the rest of the file would be "
                "read as one field); reading goes on with the next line that is a whole record",
                lines[first - 1].rstrip("\r\n")[:500],
            )
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            if first in bad_lines:
                result.lines_read += 1
                result.problems.append(RowProblem(first, bad_lines[first], ""))
            continue
        damaged = [n for n in range(first, last + 1) if n in bad_lines]
        if damaged:
            result.lines_read += 1
            result.problems.append(
                RowProblem(
                    first,
                    bad_lines[damaged[0]] if first in bad_lines else f"line {damaged[0]} of the record: {bad_lines[damaged[0]]}",
                    ",".join(row)[:500],
                )
            )
            continue
        if [cell.strip() for cell in row] == headers:
            result.lines_read += 1
            result.problems.append(
                RowProblem(first, "the header line repeated in the middle of the file (two exports concatenated?)", "")
            )
            continue
        if len(row) != len(headers):
            if spans_lines:
                resync(
                    first,
                    f"expected {len(headers)} fields, found {len(row)} in a record running over lines "
                    f"{first}-{last} (a quote is not closed where the line ends); reading goes on with "
                    "the next line that is a whole record",
                    lines[first - 1].rstrip("\r\n")[:500],
                )
                continue
            result.lines_read += 1
            truncated = last == len(lines) and not _ending(lines[-1])
            reason = f"expected {len(headers)} fields, found {len(row)}" + (
                " (the file ends mid-line: truncated delivery)" if truncated else ""
            )
            result.problems.append(RowProblem(first, reason, dict(zip(headers, row[: len(headers)]))))
            continue
        result.lines_read += 1
        result.add_record(first, row)
        if chunk_records and result.record_count >= chunk_records:
            yield result
            result = RawFile.columnar(headers)
    yield result


#: Bytes of the file Arrow parses at a time (the records of a chunk come from a few of them).
ARROW_BLOCK_BYTES = 1 << 22


def _arrow_chunks(lines: FileLines, headers: list[str], chunk_records: int) -> Iterator[RawFile]:
    """The records of a plain file (``FileLines.plain_width``), read by Arrow's CSV reader:
    the same chunks as the careful path gives (``chunk_records`` records each, then the
    rest, perhaps none; 0: one chunk), each record its line's text between the commas.
    Arrow splits without quoting, keeps every value as text ("" for an empty field, never
    null) and ends lines at CRLF, LF and CR, as the csv module does; a plain file has
    nothing more to it. The file is parsed and decoded in C, a few MB at a time, and the
    chunks hold Arrow arrays, not a Python string per field: a 3 M-row POS export is read
    in about a sixth of the time of the bulk path (``_PlainRuns``)."""
    width, codec = len(headers), lines.codec
    names = [f"f{i}" for i in range(width)]
    read_options = arrow_csv.ReadOptions(
        column_names=names, encoding="utf8" if codec == "utf-8" else codec, block_size=ARROW_BLOCK_BYTES
    )
    parse_options = arrow_csv.ParseOptions(
        quote_char=False, double_quote=False, escape_char=False, newlines_in_values=False, ignore_empty_lines=False
    )
    convert_options = arrow_csv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False, quoted_strings_can_be_null=False
    )
    next_line = 2

    def chunk(table: pa.Table) -> RawFile:
        nonlocal next_line
        raw = RawFile.from_arrow(headers, next_line, [column.combine_chunks() for column in table.columns])
        next_line += table.num_rows
        return raw

    with lines.path.open("rb") as handle:
        handle.seek(lines.start_of(1))  # the line after the header
        reader = arrow_csv.open_csv(
            handle, read_options=read_options, parse_options=parse_options, convert_options=convert_options
        )
        last: pa.Table | None = None
        for table in tables_of(reader, chunk_records):  # the last one is checked before it goes
            if last is not None:
                yield chunk(last)
            last = table
    assert last is not None  # tables_of gives a last table
    if next_line + last.num_rows != len(lines) + 1:  # (never: the checks above see every line)
        raise AssertionError(f"Arrow read {next_line + last.num_rows - 2} records of {len(lines) - 1} lines")
    yield chunk(last)


def tables_of(reader: pa.RecordBatchReader, rows: int) -> Iterator[pa.Table]:
    """The reader's rows, in order, as tables of ``rows`` rows (0: one table), the last
    holding the rest (perhaps none: a last table is always given). A reader hands its rows
    over in batches of its own size, whatever size the caller works in."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        held.append(batch)
        count += batch.num_rows
        while rows and count >= rows:
            table = pa.Table.from_batches(held, schema=reader.schema)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            held, count = rest.to_batches(), rest.num_rows
    yield pa.Table.from_batches(held, schema=reader.schema)


class _PlainRuns:
    """Runs of whole-record lines read in bulk (see ``_csv_chunks``).

    A line is taken when the careful path would read it as one record with nothing to report:
    the csv module reads it as a whole record (a quote it opens is closed on the line, no field
    over the field limit), of the header's width, not blank, not damaged (``bad_lines``), no NUL,
    not the header again. Two ways, both giving the csv module's fields:

    - lines without a double quote (a clean export): the fields are the text between the
      commas, the line ending left out; each line is checked to hold width-1 commas and the
      run is split at once in C, with no object per record (which the garbage collector would
      walk again and again);
    - lines with quotes: one csv reader over the run instead of one reader call and a dozen
      checks per record. The reader is stateless between records, so a record read in a run
      is the record the careful path reads from the same line; a quote still open at the end
      of the run runs into the end-of-file marker, as in the careful path, and that line is
      left to the careful path.

    The lines are a FileLines': physical lines, each ending with its one line ending (CRLF,
    LF or CR; the file's last line perhaps with none) and holding no other CR or LF."""

    #: Lines looked at in one go after a line that is not taken; doubled while all are taken.
    FIRST_BLOCK = 16
    LARGEST_BLOCK = 1 << 16
    #: After a try that takes nothing, that many record starts are left to the careful path
    #: before the next try (doubled after each try that takes nothing): a file of records that
    #: all run over several lines costs a handful of tries, not one per record.
    LARGEST_SKIP = 256
    #: Rows of quoted lines moved into the columns at a time (see ``_quoted_run``).
    QUOTED_BATCH = 512

    def __init__(self, lines: FileLines, bad_lines: dict[int, str], headers: list[str]) -> None:
        self.lines, self.headers, self.width = lines, headers, len(headers)
        self.bad = sorted(bad_lines)
        self.block_size = self.FIRST_BLOCK
        self.skip = self.skipping = 0

    def take(self, first: int, room: int | None, into: RawFile) -> int:
        """Add the records of the whole-record lines from line ``first`` on (at most ``room``)
        to ``into``; returns how many lines (= records) were taken, 0 if none."""
        if self.skipping:
            self.skipping -= 1
            return 0
        most = self.block_size if room is None else min(self.block_size, room)
        following_bad = bisect.bisect_left(self.bad, first)
        if following_bad < len(self.bad):
            most = min(most, self.bad[following_bad] - first)
        if most <= 0:
            return 0
        block = self.lines.block(first - 1, most)
        text = "".join(block)
        if "\x00" in text:  # (never: a line with NUL bytes is damaged, and blanked)
            block, text = _lines_before(block, text, text.index("\x00"))
        if '"' in block[0]:
            columns = self._quoted_run(block)
        else:
            if '"' in text:
                block, text = _lines_before(block, text, text.index('"'))
            columns = self._plain_run(block, text)
        taken = len(columns[0])
        # a run cut short starts small again after the line that cut it
        self.block_size = min(self.block_size * 2, self.LARGEST_BLOCK) if taken == len(block) else self.FIRST_BLOCK
        if not taken:
            self.skip = min(max(self.skip * 2, 1), self.LARGEST_SKIP)
            self.skipping = self.skip
            return 0
        self.skip = 0
        into.add_columns(first, columns)
        return taken

    def _plain_run(self, block: list[str], text: str) -> list[list[str]]:
        """The fields, one list per header, of the records at the start of ``block``, whose
        lines hold no double quote and no NUL (``text``: the lines joined)."""
        width = self.width
        commas = list(map(str.count, block, repeat(",", len(block))))
        if commas.count(width - 1) != len(commas):
            block, text = _lines_before(block, text, None, next(i for i, n in enumerate(commas) if n != width - 1))
        limit = csv.field_size_limit()  # a line no longer than the limit has no field longer
        if block and max(map(len, block)) > limit:
            block, text = _lines_before(block, text, None, next(i for i, s in enumerate(block) if len(s) > limit))
        if not block:
            return [[] for _ in range(width)]
        values = _split_plain(block, text)
        columns = [values[j::width] for j in range(width)]
        cut = len(block)
        if width == 1:  # a blank line (only spaces) is no record
            cut = next((i for i, value in enumerate(columns[0]) if not value.strip()), cut)
        # without a quote a field is text of its line: a header found in no line is not repeated
        if all(header in text for header in self.headers):
            cut = min(cut, self._first_header(zip(*columns), cut))
        return columns if cut == len(block) else [column[:cut] for column in columns]

    def _quoted_run(self, block: list[str]) -> list[list[str]]:
        """The fields, one list per header, of the records at the start of ``block`` that
        each are one whole line, read by the csv module."""
        width = self.width
        columns: list[list[str]] = [[] for _ in range(width)]
        batch: list[list[str]] = []

        def flush() -> bool:
            """Move the batch's rows into the columns, up to a repeated header (then False).
            Rows pass through in small batches: rows held for the whole run would outlive
            the garbage collector's young generations and be walked by it again and again."""
            cut = self._first_header(batch, len(batch))
            for column, values in zip(columns, zip(*batch[:cut])):
                column.extend(values)
            whole = cut == len(batch)
            batch.clear()
            return whole

        reader = csv.reader(chain(block, (_END_OF_FILE,)), strict=False)
        blank_possible, count = width == 1, 0
        try:
            for row in islice(reader, len(block)):
                # one line for one record, of the header's width, not blank
                if reader.line_num != count + 1 or len(row) != width or (blank_possible and not row[0].strip()):
                    break
                batch.append(row)
                count += 1
                if len(batch) == self.QUOTED_BATCH and not flush():
                    return columns
        except csv.Error:
            pass  # the record that cannot be read is left to the careful path
        flush()
        return columns

    def _first_header(self, rows: Iterable[Sequence[str]], default: int) -> int:
        """The index of the first row that is the header again, else ``default``."""
        headers, first_header = self.headers, self.headers[0]
        return next(
            (
                i
                for i, row in enumerate(islice(rows, default))
                if row[0].strip() == first_header and [cell.strip() for cell in row] == headers
            ),
            default,
        )


def _lines_before(block: list[str], text: str, position: int | None, index: int | None = None) -> tuple[list[str], str]:
    """The lines of ``block`` before the one holding character ``position`` of ``text`` (the
    lines joined), or before line ``index``; and their text."""
    if index is None:
        index = bisect.bisect_right(list(accumulate(map(len, block))), position)
    block = block[:index]
    return block, "".join(block)


def _split_plain(block: list[str], text: str) -> list[str]:
    """The comma-separated values of lines without quotes (``text`` is ``block`` joined),
    line after line, without their line endings."""
    n = len(block)
    cr, lf = text.count("\r"), text.count("\n")
    ending = None
    if cr == lf == n and text.count("\r\n") == n:
        ending = "\r\n"
    elif cr == 0 and lf == n:
        ending = "\n"
    elif lf == 0 and cr == n:
        ending = "\r"
    if ending is not None:  # one ending per line, each at its end: they separate values too
        values = text.replace(ending, ",").split(",")
        values.pop()  # the empty text after the last line's ending
        return values
    return ",".join([line.rstrip("\r\n") for line in block]).split(",")


#: A record may run over at most this many physical lines (a quoted free text with line
#: breaks); a quote that runs on longer is a broken record, not an answer.
MAX_RECORD_LINES = 200


def _starts_record(lines: Sequence[str], number: int, width: int) -> bool:
    """True when physical line ``number`` (1-based) begins a well-formed record of ``width``
    fields that ends within MAX_RECORD_LINES lines."""
    window = lines[number - 1 : number - 1 + MAX_RECORD_LINES]
    if not window or not window[0].strip():
        return False
    try:
        row = next(csv.reader(iter(window + [_END_OF_FILE]), strict=False))
    except (csv.Error, StopIteration):
        return False
    return len(row) == width and not any("\x00" in cell for cell in row)


def _stringify(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        # a JSON true/false is not a count: "true" fails a number column, passes a flag
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return NestedValue(json.dumps(value, ensure_ascii=False))
    return str(value)


class _JsonObject(dict):
    """A JSON object that remembers keys it carried more than once (json keeps the last)."""

    duplicates: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, object]]) -> _JsonObject:
    obj = _JsonObject(pairs)  # the last value of a key, as json keeps it
    if len(obj) < len(pairs):  # a key given more than once (rare): which, in the order met
        seen: set[str] = set()
        repeated: list[str] = []
        for key, _ in pairs:
            if key in seen and key not in repeated:
                repeated.append(key)
            seen.add(key)
        obj.duplicates = tuple(repeated)
    return obj


def _loads(text: str) -> object:
    return json.loads(text, object_pairs_hook=_object_pairs)


def read_json_file(path: Path, encoding: str, file_name: str, records_path: str | None, lines: bool) -> RawFile:
    """JSON export (a list under records_path) or JSON Lines, whole: the one chunk of
    ``iter_json_chunks``; 'line' = record number."""
    return next(iter_json_chunks(path, encoding, file_name, records_path, lines))


def iter_json_chunks(
    path: Path, encoding: str, file_name: str, records_path: str | None, lines: bool, chunk_records: int = 0
) -> Iterator[RawFile]:
    """A JSON export's records (the list under ``records_path``, numbered from 1) or a JSON
    Lines file's (numbered by line) in chunks of ``chunk_records`` (0: one chunk), each a
    RawFile with the keys met so far as its headers and its records' problems.

    The file's text is held (once, decoded), never its records as Python objects: each record
    is decoded by the json module when its chunk is built (``_JsonExport``), so a 100 MB export
    costs its text and one chunk, not the 1.4 GB that a million records parsed at once held
    (docs/reliability.md, "Bounded resources"). The records, their numbers and problems, and
    every refusal are those of the whole document parsed by ``json.loads``; a refusal met after
    some chunks (a truncated end, a second records list) is raised when it is met, and the
    caller's transaction drops what the chunks staged."""
    data = path.read_bytes()
    if not data.strip():
        raise FileRejected(file_name, None, "the file is empty: an empty delivery.")
    if lines:
        text = _clean_text(data, encoding, joined=False)
        if text is not None:
            del data
            items = _json_lines(_lines_of(text), {})
        else:
            text_lines, bad_lines = _decode_lines(data, encoding, file_name)
            items = _json_lines(text_lines, bad_lines)
    else:
        text = _decoded_text(data, encoding, file_name)
        del data
        items = _JsonExport(text, file_name, records_path).items()
    yield from _json_chunks(items, chunk_records)


def _decoded_text(data: bytes, encoding: str, file_name: str) -> str:
    """The file as one text, as ``_decode_lines`` reads it (joined), refused at its first
    unreadable line: a JSON document has no record to set aside."""
    text = _clean_text(data, encoding)
    if text is not None:
        return text
    text_lines, bad_lines = _decode_lines(data, encoding, file_name)
    if bad_lines:
        first = min(bad_lines)
        raise FileRejected(file_name, first, bad_lines[first])
    return "".join(text_lines)


def _clean_text(data: bytes, encoding: str, joined: bool = True) -> str | None:
    """A file without NUL bytes that decodes whole, decoded at once, without a string per
    line: as ``_decode_lines`` reads it, joined (``joined``), or before the byte-order marks
    at the start of its later lines are taken off (``_lines_of`` takes them off line by line).
    None for any other file: ``_decode_lines`` then says which lines are unreadable, or
    refuses the file."""
    if b"\x00" in data or (encoding == "cp932" and data.startswith(UTF8_BOM)):
        return None
    start = _after_byte_order_marks(data)
    try:
        text = str(memoryview(data)[start:], "utf-8" if encoding == "utf-8-sig" else encoding)
    except UnicodeDecodeError:
        return None
    # a byte-order mark at the start of a later line is left over from joining files
    return _LATER_LINE_BOM.sub("", text) if joined and "\ufeff" in text else text


def _lines_of(text: str) -> Iterator[str]:
    """The physical lines of ``text`` with their endings, one at a time, as ``_decode_lines``
    gives them (a later line without its leading byte-order marks)."""
    for number, line in enumerate(_physical_lines(text)):
        yield line.lstrip("\ufeff") if number else line


#: byte-order marks right after a line ending (``_decode_lines`` strips them from lines 2 on)
_LATER_LINE_BOM = re.compile("(?<=[\r\n])\ufeff+")
#: JSON's whitespace (the json module's own)
_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")

#: a record read: its number, the decoded value (when it was read) and the problem of its line
_JsonItem = tuple[int, object, RowProblem | None]


def _json_lines(text_lines: Iterable[str], bad_lines: dict[int, str]) -> Iterator[_JsonItem]:
    """Each non-blank line of a JSON Lines file, decoded; a line that is not JSON (or not
    readable in the encoding) is its problem."""
    for number, line in enumerate(text_lines, start=1):
        if number in bad_lines:
            yield number, None, RowProblem(number, bad_lines[number], "")
        elif line.strip():
            try:
                yield number, _loads(line), None
            except json.JSONDecodeError as exc:
                yield number, None, RowProblem(number, f"not valid JSON: {exc.msg}", line.rstrip("\r\n")[:500])
            except RecursionError:
                yield number, None, RowProblem(number, f"the line is {_DEEP_JSON}", line[:200])


class _JsonExport:
    """The records of a JSON export, one at a time, from its text.

    Why by hand: the json module decodes a whole document or one value (``raw_decode``), and
    ijson, the streaming parser, reads numbers and escapes otherwise (a lone surrogate becomes
    "?", a large integer overflows with floats on) and names no line. So the objects along
    ``records_path`` are walked here, member by member, with the json module's own rules and
    messages at the same positions (its ``JSONObject`` and ``JSONArray``), and every value is
    decoded by the json module: the records of the list one at a time, the other members whole
    (and dropped). tests/test_parsing.py holds the records, their problems and every refusal
    to ``json.loads`` of the whole text on generated documents, valid and broken."""

    def __init__(self, text: str, file_name: str, records_path: str | None) -> None:
        self.text, self.file_name, self.records_path = text, file_name, records_path
        self.path = [key for key in (records_path or "").split(".") if key]
        self.scan = json.JSONDecoder(object_pairs_hook=_object_pairs).scan_once
        #: what the path found wrong (a missing, repeated or other value), by depth: the
        #: shallowest is the file's refusal, as a walk of the parsed document meets it first
        self.verdicts: list[tuple[int, str]] = []

    def items(self) -> Iterator[_JsonItem]:
        text = self.text
        try:
            if text.startswith("\ufeff"):
                raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
            end = yield from self._walk(self._skip(0), 0)
            end = self._skip(end)
            if end != len(text):
                raise json.JSONDecodeError("Extra data", text, end)
        except json.JSONDecodeError as exc:
            raise FileRejected(
                self.file_name, exc.lineno, f"not valid JSON ({exc.msg}); the export is truncated or corrupt."
            ) from exc
        except RecursionError:
            raise FileRejected(self.file_name, None, f"the JSON is {_DEEP_JSON}.") from None
        if self.verdicts:
            raise FileRejected(self.file_name, None, min(self.verdicts, key=lambda verdict: verdict[0])[1])

    def _skip(self, pos: int) -> int:
        return _JSON_WHITESPACE.match(self.text, pos).end()

    def _value(self, pos: int) -> tuple[object, int]:
        # JSONDecoder.raw_decode without its Python frame: the scanner it calls, its error
        try:
            return self.scan(self.text, pos)
        except StopIteration as stop:
            raise json.JSONDecodeError("Expecting value", self.text, stop.value) from None

    def _expect(self, char: str, pos: int, message: str) -> None:
        if not self.text.startswith(char, pos):
            raise json.JSONDecodeError(message, self.text, pos)

    def _walk(self, pos: int, depth: int) -> Iterator[_JsonItem]:
        """The value at ``pos`` (returns where it ends): on the path at ``depth``, the records
        list when the path is done."""
        text, path = self.text, self.path
        if depth == len(path):
            if text.startswith("[", pos):
                return (yield from self._records(pos))
            self.verdicts.append((depth, f"'{self.records_path}' is not a list of records."))
            return self._value(pos)[1]
        missing = (depth, f"no '{self.records_path}' list in the JSON export.")
        if not text.startswith("{", pos):
            self.verdicts.append(missing)
            return self._value(pos)[1]
        found = False
        pos = self._skip(pos + 1)
        if text.startswith("}", pos):
            self.verdicts.append(missing)
            return pos + 1
        while True:
            self._expect('"', pos, "Expecting property name enclosed in double quotes")
            key, pos = json.decoder.scanstring(text, pos + 1)
            pos = self._skip(pos)
            self._expect(":", pos, "Expecting ':' delimiter")
            pos = self._skip(pos + 1)
            if key == path[depth] and not found:
                found = True
                pos = yield from self._walk(pos, depth + 1)
            else:
                if key == path[depth]:
                    self.verdicts.append(
                        (
                            depth,
                            f"duplicate key '{key}' in the JSON export: which '{self.records_path}' list is meant is ambiguous.",
                        )
                    )
                pos = self._value(pos)[1]
            pos = self._skip(pos)
            if text.startswith("}", pos):
                break
            self._expect(",", pos, "Expecting ',' delimiter")
            pos = self._skip(pos + 1)
            self._expect('"', pos, "Expecting property name enclosed in double quotes")
        if not found:
            self.verdicts.append(missing)
        return pos + 1

    def _records(self, pos: int) -> Iterator[_JsonItem]:
        """The list at ``pos``: each of its values decoded, numbered from 1."""
        text = self.text
        pos = self._skip(pos + 1)
        if text.startswith("]", pos):
            return pos + 1
        number = 0
        while True:
            item, pos = self._value(pos)
            number += 1
            yield number, item, None
            pos = self._skip(pos)
            if text.startswith("]", pos):
                return pos + 1
            self._expect(",", pos, "Expecting ',' delimiter")
            pos = self._skip(pos + 1)


def _json_chunks(items: Iterator[_JsonItem], chunk_records: int) -> Iterator[RawFile]:
    """The records of ``items`` as RawFile chunks of ``chunk_records`` items (0: one chunk):
    the problems of unreadable lines first, then those of the records, as one file read whole
    lists them; the headers are the keys met so far, in the order met."""
    headers: list[str] = []
    known: set[str] = set()
    given = False
    while True:
        line_problems: list[RowProblem] = []
        result = RawFile(headers=[])
        for number, item, problem in islice(items, chunk_records or None):
            result.lines_read += 1
            if problem is not None:
                line_problems.append(problem)
                continue
            if not isinstance(item, dict):
                result.problems.append(RowProblem(number, "record is not a JSON object", _safe_text(item)))
                continue
            repeated = getattr(item, "duplicates", ())
            if repeated:
                result.problems.append(
                    RowProblem(
                        number,
                        f"duplicate key {', '.join(repr(k) for k in repeated)} in the record: its value is ambiguous",
                        _safe_text(item),
                    )
                )
                continue
            try:
                fields = {str(k): _stringify(v) for k, v in item.items()}
            except RecursionError:
                result.problems.append(RowProblem(number, f"a value is {_DEEP_JSON}", ""))
                continue
            for key in fields:
                if key not in known:
                    known.add(key)
                    headers.append(key)
            result.records.append(RawRecord(number, fields))
        result.problems[:0] = line_problems
        result.headers = list(headers)
        last = not chunk_records or result.lines_read < chunk_records
        if result.lines_read or not given:  # an empty file is one empty chunk
            given = True
            yield result
        if last:
            return


def _safe_text(value: object) -> str:
    try:
        return _stringify(value)[:500]
    except RecursionError:
        return ""
