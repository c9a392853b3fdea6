"""Reading a producer's file into rows of text, exactly as delivered, line by line.

Deliveries come in CP932, UTF-8 and UTF-8 with BOM, sometimes truncated, sometimes with a
stray byte. This module turns bytes into (line number, fields) pairs and records every line
it cannot read as a row problem rather than stopping, unless the whole file is unreadable.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

UTF8_BOM = b"\xef\xbb\xbf"
#: Above this share of undecodable lines the file is in the wrong encoding, not dirty.
MAX_BAD_ENCODING_SHARE = 0.2
#: Refuse single lines longer than this: no producer writes them, attackers do.
MAX_LINE_BYTES = 1_000_000


class FileRejected(ValueError):
    """The whole file cannot be loaded; the message names the file, line and problem."""

    def __init__(self, file_name: str, line: int | None, problem: str) -> None:
        self.file_name = file_name
        self.line = line
        self.problem = problem
        where = f"{file_name}, line {line}" if line else file_name
        super().__init__(f"{where}: {problem}")


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


def _decode_lines(data: bytes, encoding: str, file_name: str) -> tuple[str, dict[int, str]]:
    """Decode the file; undecodable lines are blanked and reported by line number."""
    if encoding == "cp932" and data.startswith(UTF8_BOM):
        raise FileRejected(file_name, 1, "the file starts with a UTF-8 byte-order mark but the "
                                         "source declares cp932; ask the producer which encoding "
                                         "they send, or fix the declaration.")
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        bad_lines = {i + 1 for i, chunk in enumerate(data.split(b"\n")) if b"\x00" in chunk}
        if len(bad_lines) > max(1, MAX_BAD_ENCODING_SHARE * (data.count(b"\n") + 1)):
            raise FileRejected(file_name, line, "the file contains NUL bytes: it is binary or "
                                                "corrupt, not a CSV export.")
    try:
        return data.decode(codec), {}
    except UnicodeDecodeError:
        pass
    lines = data.split(b"\n")
    decoded: list[str] = []
    bad: dict[int, str] = {}
    for number, chunk in enumerate(lines, start=1):
        try:
            decoded.append(chunk.decode(codec))
        except UnicodeDecodeError as exc:
            bad[number] = f"bytes not valid {encoding} at byte {exc.start} of the line"
            decoded.append("")
    if len(bad) > max(1, MAX_BAD_ENCODING_SHARE * len(lines)):
        first = min(bad)
        raise FileRejected(file_name, first, f"{len(bad)} of {len(lines)} lines are not valid "
                                             f"{encoding}: the file is in another encoding than "
                                             "declared.")
    return "\n".join(decoded), bad


def read_csv_file(path: Path, encoding: str, file_name: str) -> RawFile:
    data = path.read_bytes()
    if not data.strip():
        raise FileRejected(file_name, None, "the file is empty (no header): an empty delivery.")
    for number, chunk in enumerate(data.split(b"\n"), start=1):
        if len(chunk) > MAX_LINE_BYTES:
            raise FileRejected(file_name, number, f"line is {len(chunk):,} bytes long (limit "
                                                  f"{MAX_LINE_BYTES:,}): not a CSV export.")
    text, bad_lines = _decode_lines(data, encoding, file_name)
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    try:
        header_row = next(reader)
    except StopIteration:
        raise FileRejected(file_name, 1, "the file has no readable header line.") from None
    except csv.Error as exc:
        raise FileRejected(file_name, 1, f"the header cannot be read as CSV ({exc}).") from exc
    headers = [h.strip().lstrip("\ufeff") for h in header_row]
    result = RawFile(headers=headers)
    if 1 in bad_lines:
        raise FileRejected(file_name, 1, f"the header line has {bad_lines[1]}.")
    last_line = reader.line_num
    ends_with_newline = text.endswith("\n")
    while True:
        start_line = last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.problems.append(RowProblem(start_line, f"unreadable CSV: {exc}", ""))
            last_line = reader.line_num
            continue
        last_line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            if start_line in bad_lines:
                result.lines_read += 1
                result.problems.append(RowProblem(start_line, bad_lines[start_line], ""))
            continue
        result.lines_read += 1
        if any(line in bad_lines for line in range(start_line, last_line + 1)):
            result.problems.append(RowProblem(start_line, bad_lines.get(start_line, "undecodable bytes"), ",".join(row)))
            continue
        if len(row) != len(headers):
            truncated = not ends_with_newline and reader.line_num >= text.count("\n") + 1
            reason = (f"expected {len(headers)} fields, found {len(row)}"
                      + (" (the file ends mid-line: truncated delivery)" if truncated else ""))
            result.problems.append(RowProblem(start_line, reason, dict(zip(headers, row))))
            continue
        result.records.append(RawRecord(start_line, dict(zip(headers, row))))
    return result


def _stringify(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def read_json_file(path: Path, encoding: str, file_name: str, records_path: str | None, lines: bool) -> RawFile:
    """JSON export (a list under records_path) or JSON Lines; 'line' = record number."""
    data = path.read_bytes()
    if not data.strip():
        raise FileRejected(file_name, None, "the file is empty: an empty delivery.")
    text, bad_lines = _decode_lines(data, encoding, file_name)
    items: Iterator[tuple[int, object]]
    problems: list[RowProblem] = []
    if lines:
        parsed: list[tuple[int, object]] = []
        for number, line in enumerate(text.split("\n"), start=1):
            if number in bad_lines:
                problems.append(RowProblem(number, bad_lines[number], ""))
                continue
            if not line.strip():
                continue
            try:
                parsed.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                problems.append(RowProblem(number, f"not valid JSON: {exc.msg}", line[:500]))
        items = iter(parsed)
    else:
        if bad_lines:
            first = min(bad_lines)
            raise FileRejected(file_name, first, bad_lines[first])
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FileRejected(file_name, exc.lineno, f"not valid JSON ({exc.msg}); "
                                                      "the export is truncated or corrupt.") from exc
        records = doc
        for key in (records_path or "").split("."):
            if key:
                if not isinstance(records, dict) or key not in records:
                    raise FileRejected(file_name, None, f"no '{records_path}' list in the JSON export.")
                records = records[key]
        if not isinstance(records, list):
            raise FileRejected(file_name, None, f"'{records_path}' is not a list of records.")
        items = iter(enumerate(records, start=1))
    headers: list[str] = []
    result = RawFile(headers=headers, problems=problems, lines_read=len(problems))
    for number, item in items:
        result.lines_read += 1
        if not isinstance(item, dict):
            result.problems.append(RowProblem(number, "record is not a JSON object", _stringify(item)[:500]))
            continue
        for key in item:
            if key not in headers:
                headers.append(str(key))
        result.records.append(RawRecord(number, {str(k): _stringify(v) for k, v in item.items()}))
    return result
