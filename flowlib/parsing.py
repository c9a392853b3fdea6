"""Reading a producer's file into rows of text, exactly as delivered, line by line.

Deliveries come in CP932, UTF-8 and UTF-8 with BOM, sometimes truncated, sometimes with a
stray byte. This module turns bytes into (line number, fields) pairs and records every line
it cannot read as a row problem rather than stopping, unless the whole file is unreadable.

Line numbers are physical lines as an editor shows them (a line ends at CRLF, LF or CR,
where the csv module ends them too); a CSV record that spans lines (a quoted free text
with line breaks) is numbered by its first line. A damaged line costs that line only:
a quote that is never closed, a NUL byte, a stray byte-order mark or a repeated header
(two exports concatenated) never takes the good lines after it down with it.
"""

from __future__ import annotations

import bisect
import csv
import json
import re
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import AnyStr

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


@dataclass
class RawFile:
    headers: list[str]
    records: list[RawRecord] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    lines_read: int = 0
    notes: list[str] = field(default_factory=list)


def _too_long(file_name: str, number: int, length: int, *, at_least: bool = False) -> None:
    size = f"more than {length:,}" if at_least else f"{length:,}"
    raise FileRejected(file_name, number, f"line is {size} bytes long (limit {MAX_LINE_BYTES:,}): not a CSV export.")


def _split_lines(data: AnyStr) -> list[AnyStr]:
    """Physical lines with their endings, split at CRLF, LF and CR (bytes or decoded text)."""
    line_end = _LINE_END_BYTES if isinstance(data, bytes) else _LINE_END_TEXT
    lines, start = [], 0
    for match in line_end.finditer(data):
        lines.append(data[start : match.end()])
        start = match.end()
    if start < len(data):
        lines.append(data[start:])
    return lines


def _line_count(data: bytes) -> int:
    """How many lines ``_split_lines`` would return, without building them."""
    ends = sum(1 for _ in _LINE_END_BYTES.finditer(data))
    return ends + (1 if data and not data.endswith((b"\n", b"\r")) else 0)


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def _decode_lines(data: bytes, encoding: str, file_name: str) -> tuple[list[str], dict[int, str]]:
    """The file as decoded physical lines (endings kept); unreadable lines are blanked and
    reported by line number: bytes not valid in the encoding, or NUL bytes."""
    if encoding == "cp932" and data.startswith(UTF8_BOM):
        raise FileRejected(
            file_name,
            1,
            "the file starts with a UTF-8 byte-order mark but the "
            "source declares cp932; ask the producer which encoding "
            "they send, or fix the declaration.",
        )
    while data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    # the file split into byte lines only when something needs it: a second copy of a
    # 200 MB file as millions of small objects is most of a clean file's reading cost
    raw_lines = _split_lines(data) if b"\x00" in data else None
    total = max(len(raw_lines) if raw_lines is not None else _line_count(data), 1)
    nul_lines = {number for number, chunk in enumerate(raw_lines or (), start=1) if b"\x00" in chunk}
    if len(nul_lines) > max(1, MAX_BAD_ENCODING_SHARE * total):
        raise FileRejected(file_name, min(nul_lines), "the file contains NUL bytes: it is binary or corrupt, not a CSV export.")
    bad: dict[int, str] = {}
    try:
        lines = _split_lines(data.decode(codec))
    except UnicodeDecodeError:
        lines = []
        for number, chunk in enumerate(raw_lines if raw_lines is not None else _split_lines(data), start=1):
            try:
                lines.append(chunk.decode(codec))
            except UnicodeDecodeError as exc:
                bad[number] = f"bytes not valid {encoding} at byte {exc.start} of the line"
                lines.append(chunk[len(chunk.rstrip(b"\r\n")) :].decode("ascii"))
        if len(bad) > max(1, MAX_BAD_ENCODING_SHARE * total):
            first = min(bad)
            raise FileRejected(
                file_name,
                first,
                f"{len(bad)} of {total} lines are not valid {encoding}: the file is in another encoding than declared.",
            ) from None
    for number in nul_lines:
        bad.setdefault(number, _NUL_PROBLEM)
        lines[number - 1] = _ending(lines[number - 1])
    # A byte-order mark at the start of a later line is left over from joining files.
    for index in range(1, len(lines)):
        if lines[index].startswith("\ufeff"):
            lines[index] = lines[index].lstrip("\ufeff")
    return lines, bad


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
        ends = [m.end() for m in _LINE_END_BYTES.finditer(part)]
        if not ends or ends[-1] != len(part):
            ends.append(len(part))
        begin = 0
        for end in ends:
            self._starts.append(offset + begin)
            if end - begin > MAX_LINE_BYTES and len(part[begin:end].rstrip(b"\r\n")) > MAX_LINE_BYTES:
                _too_long(file_name, len(self._starts), len(part[begin:end].rstrip(b"\r\n")))
            begin = end
        has_nul = b"\x00" in part
        try:
            part.decode(self._codec)
            clean = True
        except UnicodeDecodeError:
            clean = False
        nul_lines: set[int] = set()
        if clean and not has_nul:
            return nul_lines
        begin = 0
        for number, end in enumerate(ends, start=first):
            line, begin = part[begin:end], end
            if b"\x00" in line:
                nul_lines.add(number)
            if not clean:
                try:
                    line.decode(self._codec)
                except UnicodeDecodeError as exc:
                    self.bad[number] = f"bytes not valid {self._encoding} at byte {exc.start} of the line"
        return nul_lines

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
        if not self._bad_sorted or bisect.bisect_left(self._bad_sorted, first + 1) == bisect.bisect_right(self._bad_sorted, last):
            # fast path: one decode and a split in C; splitlines also breaks at characters
            # that are no line end here (\x0b, \x1c, \u2028, ...), seen by the count
            lines = data.decode(self._codec).splitlines(keepends=True)
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
        for offset, text in enumerate(lines):
            if text.startswith("\ufeff") and first + offset:
                lines[offset] = text.lstrip("\ufeff")
        self._cache_first, self._cache = first, lines

    def _line(self, index: int) -> str:
        position = index - self._cache_first
        if not 0 <= position < len(self._cache):
            self._load(index)
            position = 0
        return self._cache[position]

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
        whole.records += chunk.records
        whole.problems += chunk.problems
        whole.lines_read += chunk.lines_read
    assert whole is not None  # the generator yields at least one chunk or raises
    return whole


def iter_csv_chunks(path: Path, encoding: str, file_name: str, chunk_records: int = 0) -> Iterator[RawFile]:
    """The file's records in chunks of ``chunk_records`` (0: one chunk), each a RawFile with
    the header and the problems met while reading its records. The caller converts a chunk
    and drops it before the next is built, so the per-record objects (a dict of fields per
    row, several times the file's size) never exist for the whole file at once. File-level
    refusals (encoding, NUL bytes, header, line length) are raised before the first chunk."""
    lines = FileLines(path, encoding, file_name)
    try:
        yield from _csv_chunks(lines, lines.bad, file_name, chunk_records)
    finally:
        lines.close()


def _csv_chunks(lines: Sequence[str], bad_lines: dict[int, str], file_name: str, chunk_records: int) -> Iterator[RawFile]:
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
    consumed = reader.line_num
    result = RawFile(headers=headers)

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
        result.records.append(RawRecord(first, dict(zip(headers, row))))
        if chunk_records and len(result.records) >= chunk_records:
            yield result
            result = RawFile(headers=headers)
    yield result


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
    obj = _JsonObject()
    repeated: list[str] = []
    for key, value in pairs:
        if key in obj and key not in repeated:
            repeated.append(key)
        obj[key] = value
    if repeated:
        obj.duplicates = tuple(repeated)
    return obj


def _loads(text: str) -> object:
    return json.loads(text, object_pairs_hook=_object_pairs)


def read_json_file(path: Path, encoding: str, file_name: str, records_path: str | None, lines: bool) -> RawFile:
    """JSON export (a list under records_path) or JSON Lines; 'line' = record number."""
    data = path.read_bytes()
    if not data.strip():
        raise FileRejected(file_name, None, "the file is empty: an empty delivery.")
    text_lines, bad_lines = _decode_lines(data, encoding, file_name)
    items: Iterator[tuple[int, object]]
    problems: list[RowProblem] = []
    if lines:
        parsed: list[tuple[int, object]] = []
        for number, line in enumerate(text_lines, start=1):
            if number in bad_lines:
                problems.append(RowProblem(number, bad_lines[number], ""))
                continue
            if not line.strip():
                continue
            try:
                parsed.append((number, _loads(line)))
            except json.JSONDecodeError as exc:
                problems.append(RowProblem(number, f"not valid JSON: {exc.msg}", line.rstrip("\r\n")[:500]))
            except RecursionError:
                problems.append(RowProblem(number, f"the line is {_DEEP_JSON}", line[:200]))
        items = iter(parsed)
    else:
        if bad_lines:
            first = min(bad_lines)
            raise FileRejected(file_name, first, bad_lines[first])
        try:
            doc = _loads("".join(text_lines))
        except json.JSONDecodeError as exc:
            raise FileRejected(file_name, exc.lineno, f"not valid JSON ({exc.msg}); the export is truncated or corrupt.") from exc
        except RecursionError:
            raise FileRejected(file_name, None, f"the JSON is {_DEEP_JSON}.") from None
        records = doc
        for key in (records_path or "").split("."):
            if key:
                if not isinstance(records, dict) or key not in records:
                    raise FileRejected(file_name, None, f"no '{records_path}' list in the JSON export.")
                if key in getattr(records, "duplicates", ()):
                    raise FileRejected(
                        file_name,
                        None,
                        f"duplicate key '{key}' in the JSON export: which '{records_path}' list is meant is ambiguous.",
                    )
                records = records[key]
        if not isinstance(records, list):
            raise FileRejected(file_name, None, f"'{records_path}' is not a list of records.")
        items = iter(enumerate(records, start=1))
    headers: list[str] = []
    result = RawFile(headers=headers, problems=problems, lines_read=len(problems))
    for number, item in items:
        result.lines_read += 1
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
            if key not in headers:
                headers.append(key)
        result.records.append(RawRecord(number, fields))
    return result


def _safe_text(value: object) -> str:
    try:
        return _stringify(value)[:500]
    except RecursionError:
        return ""
