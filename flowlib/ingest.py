"""Ingest: one (source, service day) partition from landing files into the warehouse.

The steps are the same for every source: read each delivered file, map its columns onto
the kind's canonical columns, pseudonymise personal ids, validate with Great Expectations,
then replace the partition inside one transaction. Bad rows go to ``ops.quarantine`` with
a reason; a bad file stops the load before anything is written. Loading the same files
again is a no-op, so re-running a night never duplicates rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from flowlib.config import Settings, get_settings
from flowlib.kinds import IDENTITY_BY_KIND
from flowlib.parsing import (
    FileRejected,
    NestedValue,
    RawFile,
    RowProblem,
    iter_csv_chunks,
    iter_json_chunks,
    printable,
    tables_of,
)
from flowlib.pseudonym import hmac_pads, key_fingerprint, pseudonymise_many
from flowlib.sources import ColumnRule, SourceSpec
from flowlib.visitor_ids import ID_COLUMNS, check_collisions, key_pattern
from flowlib.warehouse import ensure_schema, transaction, writer

log = logging.getLogger(__name__)
JST = ZoneInfo("Asia/Tokyo")
#: Extra producer columns named in the load note; the rest are counted.
MAX_LISTED_EXTRA_COLUMNS = 10
#: Largest whole number a canonical integer column holds (DuckDB INTEGER).
MAX_WHOLE_NUMBER = 2_147_483_647
#: An ISO 8601 value that ends in a UTC offset or Z (after a clock time).
_ISO_OFFSET = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)\s*$")
#: A clock time whose second is 60 or 61; every match holds _LEAP_SECOND_NEEDLE.
_LEAP_SECOND = re.compile(r"(?:^|\D)\d{1,2}:\d{2}:6[01](?!\d)")
_LEAP_SECOND_NEEDLE = ":6"
_UNMAPPED = object()
#: The characters ``str.strip`` takes off (``str.isspace``: none above U+3000): Arrow trims
#: them (``_has_edge_space``) without a Python string per value.
_STRIPPED = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())


class IngestError(RuntimeError):
    """A delivery cannot be loaded; nothing was written. The message says what to do."""


class ShrinkRefused(IngestError):
    """A re-delivery would remove most of an already loaded source-day; nothing was written.
    Not a producer's data error: the operator decides (``--allow-shrink`` / ``allow_shrink``)."""


@dataclass
class FileOutcome:
    file_name: str
    file_bytes: int
    file_sha256: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    notes: list[str] = field(default_factory=list)


@dataclass
class PartitionResult:
    source: str
    service_date: date | None
    outcome: str  # loaded | reloaded | unchanged | no_files
    files: list[FileOutcome] = field(default_factory=list)
    validation_results: list[dict] = field(default_factory=list)
    #: accepted files not loaded because their content was already delivered (named in the log)
    duplicates: list[FileOutcome] = field(default_factory=list)
    #: (file, why) for files in the day's folder that the declaration does not load
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    def summary(self) -> dict[str, object]:
        """A small, id-free summary that is safe to pass through XCom and logs."""
        return {
            "source": self.source,
            "service_date": self.service_date.isoformat() if self.service_date else None,
            "outcome": self.outcome,
            "files": len(self.files),
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "duplicate_files": len(self.duplicates),
            "skipped_files": len(self.skipped),
        }


def service_days_of(moment: pd.Series, settings: Settings) -> np.ndarray:
    """The tourism day of each JST timestamp (the day starts at the configured hour), as
    numpy days: ``.dt.date`` made a Python date per row, ten times the time, and Arrow then
    read them back one by one (NaT stays NaT, unequal to every day, as a missing date was)."""
    shift = pd.Timedelta(hours=settings.service_day_start.hour, minutes=settings.service_day_start.minute)
    return (moment - shift).to_numpy(dtype="datetime64[us]").astype("datetime64[D]")


def _days_of_event(spec: SourceSpec, event: pd.Series, settings: Settings) -> np.ndarray:
    """The service day of each row (``service_days_of``); a date-only timestamp (no clock) is its own day."""
    rule = next(r for r in spec.columns if r.target == spec.kind.event_time)
    fmt = rule.timestamp_format or ""
    if fmt and fmt != "iso8601" and not any(code in fmt for code in ("%H", "%I")):
        return event.to_numpy(dtype="datetime64[us]").astype("datetime64[D]")
    return service_days_of(event, settings)


def _date_column(days: np.ndarray) -> pd.Series:
    """numpy days as a column of dates that DuckDB and Arrow take without a Python object per row."""
    return pd.Series(pa.array(days, type=pa.date32(), from_pandas=True), dtype=pd.ArrowDtype(pa.date32()))


def _file_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _check_headers(spec: SourceSpec, headers: list[str], file_name: str, empty: bool) -> list[str]:
    """The file's columns (``headers``) against the declaration's: a missing one refuses the
    file, extra ones are noted. ``empty``: the file read no record and no line at all."""
    if empty:
        raise FileRejected(file_name, None, "the delivery holds no records: an empty delivery.")
    missing = [h for h in spec.producer_headers if h not in headers]
    if missing:
        raise FileRejected(
            file_name,
            1,
            f"missing column(s) {', '.join(missing)} (found: "
            f"{', '.join(headers) or 'none'}); the producer "
            f"changed the export or the declaration {spec.name} is outdated.",
        )
    extra = [h for h in headers if h not in spec.producer_headers]
    if len(extra) > MAX_LISTED_EXTRA_COLUMNS:
        # A 10,000-column export must not turn into a 100 kB load-log message.
        shown = ", ".join(extra[:MAX_LISTED_EXTRA_COLUMNS])
        return [f"ignored {len(extra):,} extra column(s): {shown}, ... and {len(extra) - MAX_LISTED_EXTRA_COLUMNS:,} more"]
    return [f"ignored extra column(s): {', '.join(extra)}"] if extra else []


def _local_to_jst(parsed: pd.Series, tz: str) -> pd.Series:
    if tz != "Asia/Tokyo":
        parsed = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert(JST).dt.tz_localize(None)
    return parsed


def _matches(values: pd.Series, pattern: re.Pattern[str], needle: str = "") -> pd.Series:
    """Rows whose value is text that ``pattern`` finds something in. ``needle`` is text every
    match holds: only values holding it are searched (most of a column, cheaply ruled out)."""
    items = values.tolist()
    try:
        joined = "".join(items)  # all text: if no value holds the needle, no value matches
    except TypeError:
        joined = None
    if joined is not None and needle not in joined:
        hits = []
    else:
        hits = [i for i, v in enumerate(items) if isinstance(v, str) and needle in v and pattern.search(v)]
    mask = np.zeros(len(values), dtype=bool)
    mask[hits] = True
    return pd.Series(mask, index=values.index, name=values.name)


def _iso_one(value: object) -> datetime | None:
    """One ISO 8601 value (extended or basic form, week dates, any offset or Z), or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text[-1:] == "z":
        text = text[:-1] + "Z"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _parse_iso(text: pd.Series, tz: str) -> pd.Series:
    """Each value parsed on its own, so one odd form never decides how the others are read:
    values with an offset are converted to JST, values without one are read in ``tz``."""
    parsed = {v: _iso_one(v) for v in text.dropna().unique()}
    aware = {v: d.astimezone(JST).replace(tzinfo=None) for v, d in parsed.items() if d is not None and d.tzinfo}
    naive = {v: d for v, d in parsed.items() if d is not None and not d.tzinfo}
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    if aware:
        out = out.where(~text.isin(list(aware)), pd.to_datetime(text.map(aware), errors="coerce").astype("datetime64[us]"))
    if naive:
        local = _local_to_jst(pd.to_datetime(text.map(naive), errors="coerce").astype("datetime64[us]"), tz)
        out = out.where(~text.isin(list(naive)), local)
    return out


def _parse_timestamps(values: pd.Series, fmt: str, tz: str) -> pd.Series:
    """Naive JST timestamps. ISO 8601 values with an offset are converted to JST; values
    without one are read in the source's declared time zone (never silently as UTC).
    A clock second of 60 or 61 (a leap second, or a clock error) does not exist on any
    producer's clock: such values become NaT and the row is quarantined. ``values``: an
    object column of text and None for a missing value (to_canonical cleans it once)."""
    text = values
    if fmt == "iso8601":
        parsed = _parse_iso(text, tz)
    else:
        parsed = _local_to_jst(pd.to_datetime(text, format=fmt, errors="coerce"), tz)
    return parsed.where(~_matches(text, _LEAP_SECOND, _LEAP_SECOND_NEEDLE))


def _convert(values: pd.Series, convert, what: str) -> tuple[pd.Series, pd.Series]:
    """``convert`` over the column; if it raises (a form no one foresaw), value by value, so
    the values that make it raise cost their rows only. Returns (result, error per row)."""
    try:
        return convert(values), pd.Series(None, index=values.index, dtype="object")
    except Exception:  # noqa: BLE001 - any failure of a vectorised parse is retried per value
        pass
    results, errors = [], []
    for index, value in values.items():
        try:
            results.append(convert(pd.Series([value], index=[index], dtype="object")).iloc[0])
            errors.append(None)
        except Exception as exc:  # noqa: BLE001 - this value is the bad record
            results.append(None)
            errors.append(f"{what} {str(value)[:60]!r} cannot be read ({type(exc).__name__})")
    return pd.Series(results, index=values.index), pd.Series(errors, index=values.index, dtype="object")


def _stripped(values: pd.Series) -> pd.Series:
    """``values.str.strip()``; for a column of text, ``str.strip`` mapped over its list (a
    third of the time). ``str.strip`` takes only text (str and its subclasses: where the str
    methods of pandas and Python agree) and raises on anything else, which then takes the
    pandas way."""
    if len(values) and values.dtype == object:
        try:
            stripped = list(map(str.strip, values.tolist()))
        except TypeError:
            pass
        else:
            return pd.Series(stripped, index=values.index, name=values.name, dtype="object")
    return values.str.strip()


def _numbers(values: pd.Series) -> pd.Series:
    """``pd.to_numeric(values, errors="coerce")``. A column of plain whole numbers (ASCII
    digits only, 1 to 18 of them: within int64), the commonest kind, is read by numpy in a
    tenth of the time, to the same int64 values."""
    items = values.tolist()
    if items and values.dtype == object:
        try:
            joined = "".join(items)
        except TypeError:  # a value that is not text (None: an empty field)
            joined = ""
        if joined.isascii() and joined.isdigit() and min(map(len, items)) >= 1 and max(map(len, items)) <= 18:
            return pd.Series(np.array(items, dtype=np.int64), index=values.index, name=values.name)
    return pd.to_numeric(values, errors="coerce")


def _map_distinct(values: pd.Series, func: Callable[[object], object]) -> pd.Series:
    """``values.map(func)``, with ``func`` called once per distinct value: the same values,
    index and dtype (pandas infers the dtype from the set of results, whatever their order
    or count). Only for text and None, whose equal values are interchangeable."""
    items = values.tolist()
    if not len(items) or values.dtype != object or not set(map(type, items)) <= {str, type(None)}:
        return values.map(func)
    codes, uniques = pd.factorize(np.array(items, dtype=object))  # None is not a distinct value: code -1
    if (codes < 0).any():
        uniques = np.append(uniques, np.array([None], dtype=object))
        codes = np.where(codes < 0, len(uniques) - 1, codes)
    mapped = pd.Series(uniques, dtype="object").map(func).take(codes)
    mapped.index, mapped.name = values.index, values.name
    return mapped


def _is_unmapped(values: pd.Series) -> pd.Series:
    """``values.map(lambda v: v is _UNMAPPED)``: only an object column can hold the marker."""
    if not len(values):
        return values.map(lambda v: v is _UNMAPPED)
    found = [v is _UNMAPPED for v in values.tolist()] if values.dtype == object else [False] * len(values)
    return pd.Series(np.array(found, dtype=bool), index=values.index, name=values.name)


def _empty_to_none(values: pd.Series) -> pd.Series:
    """``values.where(values.astype(str) != "", None)``: != "" compares each value of the
    object column in C, and only the empty text among the values it holds (text, None, a
    declared constant) is empty as text. A column without an empty text is returned as it
    is (most are: looking costs a tenth of replacing)."""
    if values.dtype == object and "" not in values.tolist():
        return values
    return values.where(values != "", None)


def _reasons(values: pd.Series, mask: pd.Series, text: Callable[[object], str]) -> pd.Series:
    """``values.map(text)`` for the rows of ``mask`` only: the reasons of the flagged rows."""
    return values[mask].map(text)


def _column_values(rule: ColumnRule, frame: pd.DataFrame, file_stem: str, line_numbers: list[int] | None = None) -> pd.Series:
    if not len(frame.index):
        return pd.Series([], index=frame.index, dtype="object")
    if rule.from_file_stem:
        return pd.Series(file_stem, index=frame.index, dtype="object")
    if rule.from_line_number:
        return pd.Series([f"{file_stem}:{n}" for n in line_numbers], index=frame.index, dtype="object")
    if rule.constant is not None:
        return pd.Series(rule.constant, index=frame.index, dtype="object")
    if rule.flags:
        flags = frame[list(rule.flags)].apply(lambda col: col.str.strip().isin(["1", "1.0", "true", "TRUE"]))
        codes = list(rule.flags.values())
        # what flags.apply(<this list>, axis=1) gives, without a pandas row object per row
        rows = flags.to_numpy(dtype=bool).tolist()
        return pd.Series([[code for code, on in zip(codes, row) if on] for row in rows], index=flags.index, dtype="object")
    if len(rule.headers) == 1:
        return _stripped(frame[rule.headers[0]])
    joined = _stripped(frame[rule.headers[0]])
    for header in rule.headers[1:]:
        joined = joined + " " + _stripped(frame[header])
    return joined


def _nested_cells(rule: ColumnRule, frame: pd.DataFrame) -> pd.Series:
    """Rows where a header of this (single-value) rule holds a nested JSON object or list."""
    mask = pd.Series(False, index=frame.index)
    for header in rule.headers:
        if header in frame:
            column = frame[header]
            if isinstance(column, pd.Series) and not any(issubclass(t, NestedValue) for t in set(map(type, column.tolist()))):
                continue  # no nested value in the column: its mask is all False
            mask |= column.map(lambda v: isinstance(v, NestedValue)).astype(bool)
    return mask


def _text_frame(raw: RawFile) -> tuple[pd.DataFrame, pd.Series]:
    """The records as text, one object column per header ("" for a field a record lacks),
    and their line numbers. A column-wise file (the CSV reader's) becomes the frame column
    by column, the same frame as from its records: a CSV record has every header's field,
    as text, and a header named twice holds the record's last field of that name."""
    columnar = raw.columns()
    if columnar is None or not columnar[0]:
        text = pd.DataFrame([r.fields for r in raw.records], columns=raw.headers, dtype="object").fillna("")
        return text, pd.Series([r.line_number for r in raw.records], dtype="int64")
    numbers, columns = columnar
    last = {header: values for header, values in zip(raw.headers, columns)}  # dict(zip(headers, row)): the last wins
    text = pd.DataFrame({i: last[header] for i, header in enumerate(raw.headers)}, dtype="object")
    text.columns = pd.Index(raw.headers)
    return text, pd.Series(numbers, dtype="int64")


def _list_values(rule: ColumnRule, frame: pd.DataFrame, file_stem: str) -> pd.Series:
    """A multi-select answer: 0/1 flag columns, or each header's text split separately;
    each item through the rule's value map (an item not in it kept as it is)."""
    mapping = rule.value_map
    if rule.flags or not len(frame.index) or not rule.headers:
        values = _column_values(rule, frame, file_stem)
        values = values if rule.flags or not len(frame.index) else values.map(lambda v: [v] if v else [])
        return values.map(lambda items: [mapping.get(i, i) for i in items]) if mapping else values

    def split(text: str) -> list[str]:
        if not text:
            return []
        parts = text.split(rule.split) if rule.split else [text]
        items = [part.strip() for part in parts if part.strip()]
        return [mapping.get(i, i) for i in items] if mapping else items

    # answers repeat: each distinct text is split (and mapped) once, each row gets its own list
    per_header = []
    for header in rule.headers:
        texts = _stripped(frame[header]).tolist()
        items_of = {text: split(text) for text in set(texts)}
        per_header.append([items_of[text] for text in texts])
    combined = [list(items) for items in per_header[0]]
    for more in per_header[1:]:
        combined = [items + extra for items, extra in zip(combined, more)]
    return pd.Series(combined, index=frame.index, dtype="object")


def _converted(
    rule: ColumnRule, col_type: str, values: pd.Series, nested: pd.Series | None, timezone: str
) -> tuple[pd.Series, dict[int, list[str]]]:
    """One canonical column from its delivered text (trimmed, None for the empty): the
    typed values, and by index the reasons each refused value's row is set aside, in the
    order found. ``nested``: the rows whose cell held a nested JSON value, if any could.
    Every step is a function of the value alone, so the column of a file's distinct
    values converts to what each row's value converts to (``_converted_distinct``)."""
    problems: dict[int, list[str]] = {}

    def flag(mask: pd.Series, reason: str | pd.Series) -> None:
        rows = mask[mask].index
        if not len(rows):
            return
        # the reasons of the flagged rows in one look-up (reason[idx] one by one costs a pandas call each)
        texts = [reason] * len(rows) if isinstance(reason, str) else [str(v) for v in reason.loc[rows].tolist()]
        for idx, text in zip(rows.tolist(), texts):
            problems.setdefault(int(idx), []).append(text)

    if rule.value_map is not None:
        mapped = _map_distinct(values, lambda v: None if v is None else rule.value_map.get(str(v), _UNMAPPED))
        unknown = _is_unmapped(mapped)
        flag(unknown, _reasons(values, unknown, lambda v: f"unknown value {v!r} for {rule.target}"))
        values = mapped.where(~unknown, None)
    if nested is not None and nested.any():
        flag(nested, f"{rule.target}: a nested JSON object or list where one value is expected")
        values = values.where(~nested, None)
    if col_type in ("timestamp", "integer", "double"):
        present = values.notna()  # once per column: on text, each look costs a pass in Python
    if col_type == "timestamp":
        fmt = rule.timestamp_format or "iso8601"
        as_text = values.astype("object")
        parsed, errors = _convert(
            as_text if present.all() else as_text.where(present, None),
            lambda v: _parse_timestamps(v, fmt, timezone),
            rule.target,
        )
        flag(errors.notna(), errors)
        parsed = pd.to_datetime(parsed, errors="coerce")
        flag(present & parsed.isna() & errors.isna(), f"unparseable {rule.target} (expected {fmt})")
        return parsed, problems
    if col_type in ("integer", "double"):
        numbers, errors = _convert(values, _numbers, rule.target)
        flag(errors.notna(), errors)
        numbers = pd.to_numeric(numbers, errors="coerce")
        not_number = present & numbers.isna() & errors.isna()
        flag(not_number, _reasons(values, not_number, lambda v: f"{rule.target} {v!r} is not a number"))
        infinite = numbers.notna() & (numbers.astype("float64").abs() == math.inf)
        flag(infinite, _reasons(values, infinite, lambda v: f"{rule.target} {v!r} is not a finite number"))
        numbers = numbers.where(~infinite)
        if col_type == "integer":
            # raw.* stores whole numbers as INTEGER: anything wider would fail the insert.
            too_big = numbers.notna() & (numbers.astype("float64").abs() > MAX_WHOLE_NUMBER)
            flag(too_big, _reasons(values, too_big, lambda v: f"{rule.target} {v!r} is out of range for a whole number"))
            numbers = numbers.where(~too_big)
            fractional = numbers.notna() & (numbers != numbers.round())
            flag(fractional, f"{rule.target} is not a whole number")
            numbers = numbers.where(~fractional).astype("Int64")
        return numbers, problems
    return values.astype("object"), problems


def _converted_distinct(
    rule: ColumnRule, col_type: str, cells: pd.Series, timezone: str
) -> tuple[pd.Series, dict[int, list[str]]]:
    """``_converted`` of the column of one header whose cells are all text (a CSV file's),
    with each distinct cell trimmed and converted once and every row given its cell's
    result and reasons. An export repeats its values (a few ticket types and prices; a
    day's file of millions of rows holds at most 86,400 clock seconds): on the benchmark's
    POS export, ``to_canonical`` of 500,000 rows took 0.77 s instead of 1.05 s. The typed column is
    the same: pandas infers a column's type from the set of its values, which the distinct
    cells share (tests/test_ingest_fast_paths.py holds it to the row by row way)."""
    codes, distinct = pd.factorize(np.asarray(cells.tolist(), dtype=object))
    return _converted_codes(rule, col_type, codes, distinct, cells.index, timezone)


def _converted_distinct_arrow(
    rule: ColumnRule, col_type: str, cells: pa.Array, index: pd.Index, timezone: str
) -> tuple[pd.Series, dict[int, list[str]]]:
    """``_converted_distinct`` of an Arrow text column: Arrow finds the distinct cells (in
    the order of their first row, as ``pd.factorize``) and each row's code."""
    encoded = pc.dictionary_encode(cells)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp)
    return _converted_codes(rule, col_type, codes, np.asarray(encoded.dictionary.to_pylist(), dtype=object), index, timezone)


def _converted_codes(
    rule: ColumnRule, col_type: str, codes: np.ndarray, distinct: np.ndarray, index: pd.Index, timezone: str
) -> tuple[pd.Series, dict[int, list[str]]]:
    """The rows' converted values and reasons from the conversion of their ``distinct``
    cells (``codes``: each row's cell)."""
    typed, reasons = _converted(rule, col_type, _empty_to_none(_stripped(pd.Series(distinct, dtype="object"))), None, timezone)
    column = typed.take(codes)
    column.index = index
    if not reasons:
        return column, {}
    refused = np.flatnonzero(np.isin(codes, list(reasons)))
    return column, {int(row): reasons[int(code)] for row, code in zip(refused.tolist(), codes[refused].tolist())}


def _has_edge_space(cells: pa.Array) -> bool:
    """Whether a cell has, at an end, a character ``str.strip`` takes off: Arrow's trim of
    those characters changes it. (A regular expression for a space at either end took about
    five times as long: 0.22 against 0.042 s for 3 M cards' ids, one column; medians of 3,
    load 0.9-1.0.)"""
    return bool(pc.any(pc.not_equal(pc.utf8_trim(cells, _STRIPPED), cells)).as_py())


def _plain_text_arrow(cells: pa.Array, index: pd.Index) -> pd.Series | None:
    """The canonical column of a text rule without a value map from an Arrow text column:
    what ``_converted`` makes of the trimmed cells (the empty as None), held by Arrow, not
    as a Python string per row (the column goes back to Arrow to be staged). None if a cell
    has a space at an end: ``str.strip`` is the definition of trimming, so such a column
    takes the Python way."""
    if _has_edge_space(cells):
        return None
    empty = pc.equal(cells, "")
    if pc.any(empty).as_py():
        cells = pc.if_else(empty, pa.scalar(None, pa.string()), cells)
    return pd.Series(pd.arrays.ArrowExtensionArray(cells), index=index)


def _of_one_header(rule: ColumnRule) -> bool:
    """Whether the rule's column is made from the cells of one header alone."""
    return len(rule.headers) == 1 and not (
        rule.from_file_stem or rule.from_line_number or rule.constant is not None or rule.flags
    )


def _by_plain_text(rule: ColumnRule, col_type: str) -> bool:
    """Whether the rule's column is one header's text, trimmed and nothing more."""
    return _of_one_header(rule) and rule.value_map is None and col_type not in ("timestamp", "integer", "double", "list")


def _by_distinct_cells(rule: ColumnRule, col_type: str) -> bool:
    """Whether ``_converted_distinct`` converts this rule's column of a CSV file (whose
    cells are all text): the column of one header, and a conversion that costs more than
    finding the distinct cells (a value map or a parse; plain text is only trimmed, which
    is cheaper row by row)."""
    return _of_one_header(rule) and (rule.value_map is not None or col_type in ("timestamp", "integer", "double"))


def _arrow_text(
    spec: SourceSpec, raw: RawFile, first_line: int, arrays: list[pa.Array]
) -> tuple[pd.DataFrame, pd.Series, dict[str, pa.Array], dict[str, pd.Series]]:
    """For a chunk held by Arrow (a plain CSV file's, of unique headers): the text of the
    headers that rules not converted from Arrow read, as a frame of object columns; the
    line numbers; each header's Arrow column; and by target the canonical columns of the
    plain text rules, made in Arrow (``_plain_text_arrow``)."""
    kind = spec.kind
    cells_of = dict(zip(raw.headers, arrays))
    index = pd.RangeIndex(raw.record_count)
    by_arrow: dict[str, pd.Series] = {}
    for rule in spec.columns:
        if _by_plain_text(rule, kind.columns[rule.target]) and rule.headers[0] in cells_of:
            plain = _plain_text_arrow(cells_of[rule.headers[0]], index)
            if plain is not None:
                by_arrow[rule.target] = plain
    wanted = {
        header
        for rule in spec.columns
        if rule.target not in by_arrow
        and (kind.columns[rule.target] == "list" or not _by_distinct_cells(rule, kind.columns[rule.target]))
        for header in rule.producer_headers
        if header in cells_of
    }
    text = pd.DataFrame({h: pd.Series(cells_of[h].to_pylist(), dtype="object") for h in sorted(wanted)}, index=index)
    return text, pd.Series(np.arange(first_line, first_line + len(index)), dtype="int64"), cells_of, by_arrow


def to_canonical(
    spec: SourceSpec, raw: RawFile, file_name: str, file_stem: str, settings: Settings
) -> tuple[pd.DataFrame, list[RowProblem]]:
    """Map producer fields onto canonical columns; rows that do not convert are set aside."""
    kind = spec.kind
    arrow = raw.arrow_columns() if len(set(raw.headers)) == len(raw.headers) else None
    if arrow is not None:
        text, line_numbers, cells_of, by_arrow = _arrow_text(spec, raw, *arrow)
    else:
        (text, line_numbers), cells_of, by_arrow = _text_frame(raw), {}, {}
    # a CSV record (held column-wise or by Arrow) is text only: no cell can hold a nested JSON value
    nested_possible = arrow is None and raw.columns() is None
    # a header named twice reads as a frame of columns: such a rule takes the row by row way
    distinct_possible = arrow is None and not nested_possible and len(text) > 0 and text.columns.is_unique
    problems: dict[int, list[str]] = {}

    def add(found: dict[int, list[str]]) -> None:
        for idx, reasons in found.items():
            problems.setdefault(idx, []).extend(reasons)

    out = pd.DataFrame(index=text.index)
    for rule in spec.columns:
        col_type = kind.columns[rule.target]
        if rule.target in by_arrow:
            out[rule.target] = by_arrow[rule.target]
            continue
        if col_type == "list":
            out[rule.target] = _list_values(rule, text, file_stem)
            continue
        nested = _nested_cells(rule, text) if nested_possible else None
        if _by_distinct_cells(rule, col_type) and rule.headers[0] in cells_of:  # (not a list: above)
            out[rule.target], found = _converted_distinct_arrow(
                rule, col_type, cells_of[rule.headers[0]], text.index, spec.timezone
            )
        elif distinct_possible and _by_distinct_cells(rule, col_type):
            out[rule.target], found = _converted_distinct(rule, col_type, text[rule.headers[0]], spec.timezone)
        else:
            values = _empty_to_none(
                _column_values(rule, text, file_stem, line_numbers.tolist() if rule.from_line_number else None)
            )
            out[rule.target], found = _converted(rule, col_type, values, nested, spec.timezone)
        add(found)
    for column in kind.columns:
        if column not in out:
            out[column] = None
    already_flagged = pd.Series(out.index.isin(list(problems)), index=out.index)
    for column in kind.required:
        missing = out[column].isna() & ~already_flagged
        add({int(idx): [f"missing {column}"] for idx in missing[missing].index.tolist()})

    if not problems:
        return out.assign(line_number=line_numbers.values), []
    flagged = sorted(problems.items())
    numbers = line_numbers.tolist()
    delivered = _raws_for_quarantine(spec, raw.fields_at_rows([idx for idx, _ in flagged]), settings)
    return out.assign(line_number=line_numbers.values), [
        RowProblem(numbers[idx], "; ".join(reasons), fields) for (idx, reasons), fields in zip(flagged, delivered)
    ]


def _raw_for_quarantine(spec: SourceSpec, fields: dict[str, str], settings: Settings) -> dict[str, str]:
    """The delivered values, with personal ids replaced by their keyed hash."""
    return _raws_for_quarantine(spec, [fields], settings)[0]


def _raws_for_quarantine(spec: SourceSpec, records: list[dict[str, str]], settings: Settings) -> list[dict[str, str]]:
    """``_raw_for_quarantine`` of each record, the ids of all of them hashed in one call."""
    id_headers = {h for rule in spec.columns if rule.target in spec.kind.personal_ids for h in rule.headers}
    safe = [dict(fields) for fields in records]
    places = [(row, header) for row in safe for header in id_headers & row.keys() if row[header]]
    hashed = pseudonymise_many([row[header] for row, header in places], settings.hmac_key)
    for (row, header), value in zip(places, hashed):
        row[header] = "hmac:" + value
    return safe


@dataclass
class PreparedFile:
    """One delivered file converted into the staging table (``ingest_rows``, rows tagged
    with ``file_index``); its rows are counted there, its problems kept here."""

    outcome: FileOutcome
    file_index: int
    quarantined: list[RowProblem]
    #: the delivered fields of the given lines: kept for a JSON file, read again for a CSV
    #: file (only when a later check quarantines rows), so a big file's rows are not held twice
    raw_lines: Callable[[set[int]], dict[int, dict[str, str]]]


def _sql(name: str, settings: Settings) -> str:
    """The text of sql/ingest/<name>.sql (the staging steps; parameters are DuckDB variables)."""
    return (settings.sql_dir / "ingest" / f"{name}.sql").read_text(encoding="utf-8")


def _set_variables(con: duckdb.DuckDBPyConnection, **values: object) -> None:
    for name, value in values.items():
        con.execute(f"set variable {name} = ?", [value])


def _chunks(spec: SourceSpec, path: Path, file_name: str, settings: Settings) -> Iterator[RawFile]:
    """The file's records, FLOW_INGEST_CHUNK_ROWS at a time, a plain CSV file's
    FLOW_INGEST_ARROW_CHUNK_ROWS (docs/reliability.md, "Bounded resources")."""
    if spec.format == "csv":
        return iter_csv_chunks(
            path, spec.encoding, file_name, settings.ingest_chunk_rows, plain_chunk_records=settings.ingest_arrow_chunk_rows
        )
    return iter_json_chunks(path, spec.encoding, file_name, spec.records_path, spec.format == "jsonl", settings.ingest_chunk_rows)


def _reread(spec: SourceSpec, path: Path, file_name: str, settings: Settings) -> Callable[[set[int]], dict]:
    """The fields of the records on the given lines, read again from the file (the quarantine
    keeps what a set-aside row said; no chunk is held for it)."""

    def lookup(wanted: set[int]) -> dict[int, dict[str, str]]:
        found: dict[int, dict[str, str]] = {}
        if wanted:
            for chunk in _chunks(spec, path, file_name, settings):
                found.update(chunk.fields_of_lines(wanted))
        return found

    return lookup


def _prepare_chunk(
    spec: SourceSpec,
    raw: RawFile,
    file_name: str,
    file_stem: str,
    service_date: date | None,
    settings: Settings,
    now_jst: datetime,
) -> tuple[pd.DataFrame, list[RowProblem]]:
    """Map and check one chunk of a file's records: every step is per row. Its personal ids
    are still the delivered ones (``stage_chunk`` pseudonymises them)."""
    canonical, problems = to_canonical(spec, raw, file_name, file_stem, settings)
    problems = list(raw.problems) + problems
    # the rows already set aside take no further check; the others are filtered once, below
    good = ~canonical["line_number"].isin({p.line_number for p in problems})

    event = canonical[spec.kind.event_time]
    row_service_date = _days_of_event(spec, event, settings)
    # A timetable (kind.scheduled) announces future events; any other feed records the past.
    future = good & (event > now_jst + timedelta(minutes=5)) & (not spec.kind.scheduled)
    problems += [RowProblem(int(n), "timestamp in the future", "") for n in canonical.loc[future, "line_number"]]
    if service_date is not None:
        outside = good & ~future & (row_service_date != np.datetime64(service_date, "D"))
        problems += [
            RowProblem(int(n), f"timestamp outside the service day {service_date.isoformat()}", "")
            for n in canonical.loc[outside, "line_number"]
        ]
        keep = good & ~(future | outside)
    else:
        keep = good & ~future
    canonical = canonical[keep].reset_index(drop=True)
    # the service day of each kept row, as computed above (per row: the same as computed again)
    canonical.insert(0, "service_date", _date_column(row_service_date[keep.to_numpy()]))
    # the delivered values of rows set aside here are at hand: never read the file again for them
    unfilled = {p.line_number for p in problems if p.raw == ""}
    if unfilled:
        fields = raw.fields_of_lines(unfilled)
        for problem in problems:
            if problem.raw == "" and problem.line_number in fields:
                problem.raw = _raw_for_quarantine(spec, fields[problem.line_number], settings)

    # the delivered ids, under the names of the pseudonyms they become as the chunk is staged
    # (sql/ingest/stage_chunk.sql): hashed there, in DuckDB, not here one by one
    return canonical.rename(columns=dict(spec.kind.personal_ids)), problems


def stage(con: duckdb.DuckDBPyConnection, spec: SourceSpec, settings: Settings) -> None:
    """Create the empty staging tables for a delivery of ``spec`` on the writer's connection,
    and hold DuckDB to FLOW_INGEST_MEMORY_LIMIT: the staged rows spill to disk beyond it.
    The session also gets what ``stage_chunk`` pseudonymises with (the key's HMAC pads and
    the kind's pseudonym columns); ``unstage`` drops them."""
    con.execute("set memory_limit = ?", [settings.ingest_memory_limit])
    inner_pad, outer_pad = hmac_pads(settings.hmac_key)
    _set_variables(
        con,
        raw_table=spec.kind.table,
        personal_id_columns=list(spec.kind.personal_ids.values()),
        visitor_key_pattern=key_pattern(spec.kind.table) if spec.kind.table in ID_COLUMNS else None,
        hmac_inner_pad=inner_pad,
        hmac_outer_pad=outer_pad,
    )
    con.execute(_sql("stage_rows", settings))


def _stage_sql(spec: SourceSpec, settings: Settings) -> str:
    """How a chunk of ``spec``'s kind is staged: as it is, with its personal ids pseudonymised,
    or with them pseudonymised and the 64-bit ids beside them computed (visitor_ids)."""
    if spec.kind.table in ID_COLUMNS:
        return _sql("stage_identified_chunk", settings)
    return _sql("stage_pseudonymised_chunk" if spec.kind.personal_ids else "stage_chunk", settings)


def _without_python_objects(chunk: pd.DataFrame) -> pa.Table | pd.DataFrame:
    """The chunk as an Arrow table (the same values, None and NaN as null, as DuckDB reads
    them from the frame). DuckDB reads a frame's text columns value by value as Python
    objects, each time taking the GIL from the thread converting the next chunk: staging
    then waited about 45 ms a chunk (2.7 s for 3 M rows), from Arrow it does not wait. A
    column Arrow cannot hold as one type (an object column of mixed values) keeps the frame."""
    try:
        return pa.Table.from_pandas(chunk, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return chunk


class _ChunkStager:
    """Stages converted chunks on a thread of its own, one at a time and in order: ``stage``
    waits for the chunk before (re-raising what went wrong with it), then hands over the next.
    Leaving the block waits for the last chunk, so nothing runs on the connection after it.

    The staging tables and variables belong to the connection (a cursor would not see them),
    so both threads use the one connection, never at once. DuckDB refuses work on a
    connection while another thread's result on it is unfinished: each side completes its
    results before handing the connection over."""

    def __init__(self, con: duckdb.DuckDBPyConnection, stage_sql: str) -> None:
        self.con, self.stage_sql = con, stage_sql
        con.complete()  # whatever the caller's thread left unread on the connection
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-stage")
        self.pending: Future[None] | None = None

    def _stage(self, chunk: pa.Table | pd.DataFrame) -> None:
        self.con.register("ingest_chunk", chunk)
        try:
            self.con.execute(self.stage_sql)
            self.con.complete()
        finally:
            self.con.unregister("ingest_chunk")

    def _wait(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def stage(self, chunk: pd.DataFrame) -> None:
        scannable = _without_python_objects(chunk)  # on this thread, while the last chunk is staged
        self._wait()
        self.pending = self.pool.submit(self._stage, scannable)

    def __enter__(self) -> _ChunkStager:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        # leaving on an error (a file refused in a later chunk): the chunk being staged is
        # waited for, and the error raised says what went wrong, not a failure of that chunk
        if exc_type is None:
            try:
                self._wait()
            finally:
                self.pool.shutdown(wait=True)
        else:
            self.pool.shutdown(wait=True)


def prepare_file(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    path: Path,
    file_index: int,
    service_date: date | None,
    settings: Settings,
    digest: tuple[int, str],
) -> PreparedFile:
    """Read, map, check and pseudonymise one file into the staging table (``stage``); the
    warehouse itself is not touched. ``digest``: the file's size and SHA-256 (``_file_digest``).

    Every file is converted FLOW_INGEST_CHUNK_ROWS records at a time (a plain CSV file,
    which Arrow reads, FLOW_INGEST_ARROW_CHUNK_ROWS; docs/reliability.md,
    "Bounded resources"): each chunk's canonical rows go to the staging table, so Python
    holds one chunk, whatever the file's size."""
    file_name = _rel(path, settings)
    size, sha = digest
    # a CSV file is streamed; a JSON file's text is held whole (its records are not), so its cap is its own
    setting = "FLOW_MAX_FILE_MB" if spec.format == "csv" else "FLOW_MAX_JSON_FILE_MB"
    cap_mb = spec.max_file_mb or (settings.max_file_mb if spec.format == "csv" else settings.max_json_file_mb)
    if size > cap_mb * 1_000_000:
        raise FileRejected(
            file_name,
            None,
            f"the file is {size / 1e6:,.1f} MB, above the {cap_mb:,} MB cap for "
            f"source {spec.name} (max_file_mb in its declaration, else "
            f"{setting}): split the export by day and facility, or raise the cap.",
        )
    now_jst = datetime.now(JST).replace(tzinfo=None)
    chunks = _chunks(spec, path, file_name, settings)
    raw_lines = _reread(spec, path, file_name, settings)
    problems: list[RowProblem] = []
    notes: list[str] = []
    lines_read = staged = 0
    met: list[str] = []
    stage_sql = _stage_sql(spec, settings)
    # DuckDB stages (and pseudonymises) a chunk while Python reads and converts the next: the
    # query releases the GIL, so the two share the cores. One chunk is staged at a time, in
    # order, and only the stager uses the connection until the file is done.
    with _ChunkStager(con, stage_sql) as stager:
        for number, raw in enumerate(chunks):
            if spec.format == "csv" and number == 0:
                notes = _check_headers(spec, raw.headers, file_name, not raw.headers and not raw.records and not raw.problems)
            elif spec.format != "csv":
                # a JSON file's columns are the keys of all its records, known at its end
                # (checked there); a key no record has shown yet reads as a record without it
                met = list(raw.headers)
                raw.headers += [h for h in spec.producer_headers if h not in met]
            canonical, chunk_problems = _prepare_chunk(spec, raw, file_name, path.stem, service_date, settings, now_jst)
            if len(canonical):
                stager.stage(canonical.assign(file_index=file_index))
            staged += len(canonical)
            problems += chunk_problems
            lines_read += raw.lines_read
            del raw, canonical
    if spec.format != "csv":
        notes = _check_headers(spec, met, file_name, lines_read == 0)
    outcome = FileOutcome(file_name, size, sha, lines_read, staged, len(problems), notes)
    return PreparedFile(outcome, file_index, problems, raw_lines)


def _content_columns(spec: SourceSpec) -> list[str]:
    """Warehouse columns whose values come from the file's content, not from its name or
    line numbers: what two copies of one export under different names have in common."""
    derived = {rule.target for rule in spec.columns if rule.from_file_stem or rule.from_line_number}
    return [spec.kind.personal_ids.get(c, c) for c in spec.kind.columns if c not in derived]


def _drop_rows(con: duckdb.DuckDBPyConnection, settings: Settings, rows: list[tuple[int, int]], copies: list[int]) -> None:
    """Take (file_index, line_number) rows and whole copied files out of the staging."""
    if rows:
        con.register("ingest_set_aside", pd.DataFrame(rows, columns=["file_index", "line_number"]))
        con.execute(_sql("set_aside", settings))
        con.unregister("ingest_set_aside")
    _set_variables(con, copy_files=copies)
    con.execute(_sql("drop_rows", settings))


def _count_staged(con: duckdb.DuckDBPyConnection, settings: Settings, prepared: list[PreparedFile]) -> None:
    staged = dict(con.execute(_sql("rows_per_file", settings)).fetchall())
    for item in prepared:
        item.outcome.rows_loaded = int(staged.get(item.file_index, 0))
        item.outcome.rows_quarantined = len(item.quarantined)


def resolve_repeats(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    prepared: list[PreparedFile],
    settings: Settings,
    loaded_before: set[str] = frozenset(),
) -> dict[int, str]:
    """Rows delivered more than once in one source-day, across all its staged files
    (sql/ingest/file_containment.sql, sql/ingest/repeated_rows.sql).

    - A file all of whose rows (by content, its name and line numbers aside) are in another
      file of the day is a second copy (renamed, re-encoded, a partial upload): it is not
      loaded at all. Returns {index in ``prepared`` of the copy: name of the file it repeats}.
    - Identical rows, in one file or across files, follow ``duplicates`` (quarantined or
      collapsed), naming the line and file they repeat.
    - Rows with the same identity (kinds.IDENTITY_BY_KIND) and other values follow
      ``conflicts``: all quarantined (reject_conflict) or the last delivered kept (keep_last).
    Never both loaded: downstream sums would count the event twice. The checks run in SQL
    over the staging table, so a chunk boundary or a file boundary never hides a repeat.
    """
    by_file = {item.file_index: position for position, item in enumerate(prepared)}
    _set_variables(con, content_columns=_content_columns(spec))
    sizes, contained = {}, {}
    # one file is no copy of another: its rows are not hashed and joined for nothing
    containment = con.execute(_sql("file_containment", settings)).fetchall() if len(prepared) > 1 else []
    for file_index, distinct_rows, contained_in in containment:
        sizes[by_file[file_index]] = distinct_rows
        contained[by_file[file_index]] = {by_file[f] for f in contained_in}
    # the biggest file first (a partial upload is a subset of the whole), then the file loaded
    # before, then the shortest name: the copy left out is the stray one
    order = sorted(
        range(len(prepared)),
        key=lambda i: (
            -sizes.get(i, 0),
            prepared[i].outcome.file_name not in loaded_before,
            len(prepared[i].outcome.file_name),
            prepared[i].outcome.file_name,
        ),
    )
    copies: dict[int, str] = {}
    seen: list[int] = []
    for index in order:
        original = next((other for other in seen if sizes.get(index) and other in contained.get(index, ())), None)
        if original is not None:
            copies[index] = prepared[original].outcome.file_name
            continue
        seen.append(index)
    columns = spec.kind.warehouse_columns
    identity = [spec.kind.personal_ids.get(c, c) for c in IDENTITY_BY_KIND.get(spec.kind.name, tuple(spec.kind.columns))]
    _set_variables(
        con,
        row_columns=columns,
        identity_columns=identity,
        copy_files=sorted(prepared[i].file_index for i in copies),
    )

    def where(file_index: int, line: int) -> str:
        return f"line {line} of {printable(prepared[by_file[file_index]].outcome.file_name)}"

    drop: list[tuple[int, int]] = []
    collapsed: dict[int, int] = {}
    named = ", ".join(identity)
    found = con.execute(_sql("repeated_rows", settings)).fetchall()
    for file_index, line, problem, other_file, other_line, members in found:
        item = prepared[by_file[file_index]]
        if problem == "repeat":
            if spec.duplicates == "collapse":
                collapsed[file_index] = collapsed.get(file_index, 0) + 1
                drop.append((file_index, line))
                continue
            text = (
                f"duplicate of an earlier row in the same file (line {other_line})"
                if other_file == file_index
                else f"duplicate of {where(other_file, other_line)} (delivered twice)"
            )
        elif spec.conflicts == "keep_last":
            if (file_index, line) == (other_file, other_line):
                continue  # the last delivered row of its group is the one kept
            text = f"superseded by {where(other_file, other_line)}: same {named}, other values (conflicts: keep_last)"
        else:
            others = "; ".join(
                where(m["file_index"], m["line_number"])
                for m in members
                if (m["file_index"], m["line_number"]) != (file_index, line)
            )[:300]
            text = (
                f"conflicting rows for the same {named} with different values ({others}); "
                "none is loaded (conflicts: reject_conflict)"
            )
        drop.append((file_index, line))
        item.quarantined.append(RowProblem(line, text, ""))
    del found
    for file_index, count in collapsed.items():
        prepared[by_file[file_index]].outcome.notes.append(f"collapsed {count} repeated identical row(s)")
    _drop_rows(con, settings, drop, sorted(prepared[i].file_index for i in copies))
    _count_staged(con, settings, prepared)
    return copies


def _batches_of(reader: pa.RecordBatchReader, rows: int) -> Iterator[pa.Table]:
    """The reader's rows as tables of ``rows`` rows (the last one shorter, none empty). DuckDB
    hands a scan over in batches of its own size (about 100,000 rows of the staging),
    whatever size was asked for, and each GX run costs about 0.1 s on top of its rows."""
    return (table for table in tables_of(reader, rows) if table.num_rows)


def _staged_chunks(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, settings: Settings, origin: list[np.ndarray]
) -> Iterator[pd.DataFrame]:
    """The staged rows in delivery order, FLOW_VALIDATION_CHUNK_ROWS at a time, as the frames
    GX validates: ``line_number`` is a running row number, ``origin`` maps it back to
    (file_index, line) for the rows of the chunk being validated."""
    columns = spec.kind.warehouse_columns
    _set_variables(con, validated_columns=columns)
    reader = con.sql(_sql("validated_rows", settings)).to_arrow_reader(settings.validation_chunk_rows)
    running = 0
    try:
        for table in _batches_of(reader, settings.validation_chunk_rows):
            frame = table.to_pandas()
            origin[:] = [frame["file_index"].to_numpy(), frame["line_number"].to_numpy()]
            yield frame[columns].assign(line_number=range(running + 1, running + len(frame) + 1))
            running += len(frame)
    finally:
        reader.close()
    if running == 0:
        yield pd.DataFrame({c: pd.Series(dtype="object") for c in columns} | {"line_number": pd.Series(dtype="int64")})


def validate_partition(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    service_date: date | None,
    prepared: list[PreparedFile],
    settings: Settings,
    known_ids: set[str] | None,
    trailing_median_rows: float | None,
) -> dict:
    """One Great Expectations run over all files of a delivery, on the staged rows.

    GX costs a fixed overhead per run, so the files of one day are validated together, in
    chunks of FLOW_VALIDATION_CHUNK_ROWS rows (validation.validate_chunks: row rules per chunk,
    table rules and tolerances over the whole delivery); each row carries a running number
    that maps failures back to its file and line.
    """
    from flowlib import validation  # GX is heavy: import only when data is really loaded

    by_file = {item.file_index: position for position, item in enumerate(prepared)}
    label = prepared[0].outcome.file_name if len(prepared) == 1 else f"{spec.glob_for(service_date)} ({len(prepared)} files)"
    origin: list[np.ndarray] = []  # the chunk's file indexes and lines, by row
    failed: list[tuple[int, int, list[str]]] = []

    def on_chunk_failures(row_failures: dict[int, list[str]], first_row: int) -> None:
        for row_number, names in row_failures.items():
            file_index, line = (int(values[int(row_number) - first_row]) for values in origin)
            failed.append((file_index, line, names))

    report = validation.validate_chunks(
        _staged_chunks(con, spec, settings, origin),
        spec.expectation_suite,
        file_name=printable(label),
        known_ids=known_ids,
        trailing_median_rows=trailing_median_rows,
        on_row_failures=on_chunk_failures,
    )
    if not report.success:
        raise FileRejected(
            label, None, " ".join(report.batch_failures) + _unknown_id_detail(con, spec, prepared, settings, known_ids)
        )
    for file_index, line, names in failed:
        prepared[by_file[file_index]].quarantined.append(RowProblem(line, "failed " + ", ".join(names), ""))
    _drop_rows(con, settings, [(f, line) for f, line, _ in failed], [])
    _count_staged(con, settings, prepared)
    for item in prepared:
        found = item.raw_lines({p.line_number for p in item.quarantined if p.raw == ""})
        for problem in item.quarantined:
            if problem.raw == "" and problem.line_number in found:
                problem.raw = _raw_for_quarantine(spec, found[problem.line_number], settings)
        item.quarantined.sort(key=lambda p: p.line_number)
    return report.gx_result_json


def _unknown_id_detail(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    prepared: list[PreparedFile],
    settings: Settings,
    known_ids: set[str] | None,
) -> str:
    """Name the files that carry unknown ids, so the producer knows where to look."""
    column = spec.kind.reference_column
    if not known_ids or not column:
        return ""
    by_file = {item.file_index: item for item in prepared}
    _set_variables(con, reference_column=column)
    unknown: dict[int, tuple[int, list[str]]] = {}
    for file_index, value, rows in con.execute(_sql("reference_values", settings)).fetchall():
        if value not in known_ids:
            count, values = unknown.get(file_index, (0, []))
            unknown[file_index] = (count + rows, values + [value])
    offenders = [
        f"{printable(by_file[f].outcome.file_name)} ({count} rows, e.g. {[printable(v) for v in sorted(values)[:3]]})"
        for f, (count, values) in sorted(unknown.items())
    ]
    return f" Unknown {column} values are in: {'; '.join(offenders)}." if offenders else ""


def reference_ids(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> set[str] | None:
    """Known facility or access-point ids for the kind, from the loaded reference data."""
    table = {"facilities": "ref.facilities", "access_points": "ref.wifi_access_points"}.get(spec.kind.reference or "")
    if table is None:
        return None
    column = "facility_id" if spec.kind.reference == "facilities" else "ap_id"
    try:
        return {row[0] for row in con.execute(f"select {column} from {table}").fetchall()}
    except duckdb.CatalogException:
        return None


def _trailing_median_rows(con: duckdb.DuckDBPyConnection, spec: SourceSpec, service_date: date) -> float | None:
    """Median rows per delivery day over the previous 28 loaded days (None below 7 days)."""
    row = con.execute(
        """
        with per_day as (
            select service_date, sum(rows_loaded) as rows_loaded
            from ops.load_log
            where source = ? and outcome in ('loaded', 'reloaded')
              and service_date between ? and ?
            group by service_date
        )
        select median(rows_loaded), count(*) from per_day
        """,
        [spec.name, service_date - timedelta(days=28), service_date - timedelta(days=1)],
    ).fetchone()
    median, days = row
    return float(median) if median and days >= 7 else None


def _last_loaded_files(con: duckdb.DuckDBPyConnection, source: str, service_date: date | None) -> set[tuple[str, str]]:
    """(file, "sha256:key fingerprint") of the last successful load: the same files loaded
    under another key count as changed (their pseudonyms are not this key's)."""
    rows = con.execute(
        """
        with last_load as (
            select max(loaded_at) as loaded_at from ops.load_log
            where source = ? and service_date is not distinct from ? and outcome in ('loaded', 'reloaded')
        )
        select file_name, file_sha256 || coalesce(':' || key_fingerprint, '') from ops.load_log
        where source = ? and service_date is not distinct from ? and loaded_at = (select loaded_at from last_load)
          and outcome <> 'skipped'
        """,
        [source, service_date, source, service_date],
    ).fetchall()
    return {(name, sha) for name, sha in rows}


def _loaded_rows(con: duckdb.DuckDBPyConnection, spec: SourceSpec, service_date: date | None) -> int:
    return con.execute(
        f"select count(*) from {spec.kind.table} where source = ? and (?::date is null or service_date = ?)",
        [spec.name, service_date, service_date],
    ).fetchone()[0]


def ingest_partition(
    spec: SourceSpec,
    service_date: date | None,
    settings: Settings | None = None,
    *,
    force: bool = False,
    allow_shrink: bool = False,
) -> PartitionResult:
    """Load one source's delivery for one service day, atomically and idempotently.

    A source whose landing pattern names no day (a cumulative export such as a survey
    covering months) is loaded as a snapshot: ``service_date`` is None and each load
    replaces all of the source's rows, each row keeping its own service day.

    Integrity at the door (docs/reliability.md): a file whose bytes or rows repeat another
    of the day's files is not loaded again (named in the load log); hidden and temporary
    files are named, not read; a re-delivery that would leave fewer than
    FLOW_MIN_RELOAD_SHARE of the loaded rows is refused unless ``allow_shrink``; every
    load records the fingerprint of the key its pseudonyms were made with.
    """
    settings = settings or get_settings()
    if (service_date is None) == spec.is_daily:
        raise ValueError(
            f"source {spec.name} is {'daily' if spec.is_daily else 'a snapshot'}: "
            f"{'give' if spec.is_daily else 'do not give'} a service date."
        )
    fingerprint = key_fingerprint(settings.hmac_key)  # an unsafe key is refused before any file is read
    scan = spec.scan(settings.landing_dir, service_date)
    files = scan.accepted
    result = PartitionResult(spec.name, service_date, "no_files")
    result.skipped = [(_rel(path, settings), why) for path, why in scan.skipped]
    if not files:
        log.warning(
            "%s: no delivery for %s under %s%s",
            spec.name,
            service_date,
            spec.glob_for(service_date),
            "".join(f"; not loaded: {printable(name)} ({why})" for name, why in result.skipped),
        )
        return result
    with writer(settings) as con:
        ensure_schema(con, settings)
        digests = {path: _file_digest(path) for path in files}
        current = {(_rel(p, settings), f"{digests[p][1]}:{fingerprint}") for p in files}
        previous = _last_loaded_files(con, spec.name, service_date)
        if previous == current and not force:
            result.outcome = "unchanged"
            log.info("%s %s: same %d file(s) as the last load; nothing to do", spec.name, service_date, len(files))
            return result
        names_loaded_before = {name for name, _ in previous}
        by_content: dict[str, list[Path]] = {}
        for path in files:
            by_content.setdefault(digests[path][1], []).append(path)
        unique: list[Path] = []
        for sha, same in by_content.items():
            # the copy kept is the one loaded before, else the shortest name ("x.csv", not "x (1).csv")
            keep = min(same, key=lambda p: (_rel(p, settings) not in names_loaded_before, len(p.name), p.name))
            unique.append(keep)
            result.duplicates += [
                FileOutcome(
                    _rel(p, settings),
                    digests[p][0],
                    sha,
                    0,
                    0,
                    0,
                    [f"same content (sha256 {sha[:12]}...) as {_rel(keep, settings)}: not loaded again"],
                )
                for p in same
                if p != keep
            ]
        unique.sort()
        known = reference_ids(con, spec) if spec.check_reference_ids else None
        median = _trailing_median_rows(con, spec, service_date) if service_date is not None else None
        loaded_before = _loaded_rows(con, spec, service_date)

        def refuse_shrink(incoming: int) -> None:
            if not loaded_before or allow_shrink or incoming >= settings.min_reload_share * loaded_before:
                return
            message = (
                f"Source {spec.name} for {service_date or 'its snapshot'}: the new delivery "
                f"({', '.join(printable(_rel(p, settings)) for p in files)}) would replace {loaded_before:,} loaded "
                f"rows by {incoming:,}, less than FLOW_MIN_RELOAD_SHARE={settings.min_reload_share:g} of them "
                "(an empty, header-only or truncated re-delivery?); nothing was changed: if the smaller "
                "delivery is right, re-run with --allow-shrink (CLI) or the allow_shrink param (DAG)."
            )
            _log_failure(con, spec, service_date, files, settings, message, fingerprint, outcome="refused")
            raise ShrinkRefused(message)

        stage(con, spec, settings)
        try:
            prepared = [
                prepare_file(con, spec, path, index, service_date, settings, digests[path]) for index, path in enumerate(unique)
            ]
            copies = resolve_repeats(con, spec, prepared, settings, names_loaded_before)
            for index, original in copies.items():
                item = prepared[index].outcome
                result.duplicates.append(
                    FileOutcome(
                        item.file_name,
                        item.file_bytes,
                        item.file_sha256,
                        item.rows_read,
                        0,
                        0,
                        [f"every row already delivered in {original}: not loaded again"],
                    )
                )
            prepared = [item for index, item in enumerate(prepared) if index not in copies]
            incoming = sum(item.outcome.rows_loaded for item in prepared)
            refuse_shrink(incoming)
            if incoming == 0 and loaded_before and allow_shrink:
                gx_result = {}  # the operator confirmed the day is empty: nothing to validate
            else:
                gx_result = validate_partition(con, spec, service_date, prepared, settings, known, median)
        except FileRejected as exc:
            con.execute(_sql("unstage", settings))
            _log_failure(con, spec, service_date, files, settings, str(exc), fingerprint)
            raise IngestError(
                f"Source {spec.name} ({spec.owner.email}) for {service_date}: {exc} "
                "Nothing was loaded for this day; fix or replace the file and re-run the day."
            ) from exc
        refuse_shrink(sum(item.outcome.rows_loaded for item in prepared))
        result.outcome = "reloaded" if previous else "loaded"
        extra = [(item, "duplicate") for item in result.duplicates] + [
            (FileOutcome(name, 0, "", 0, 0, 0, [f"{why} file in the landing folder: not loaded"]), "skipped")
            for name, why in result.skipped
        ]
        try:
            _replace_partition(con, spec, service_date, prepared, result.outcome, fingerprint, extra, settings)
        finally:
            con.execute(_sql("unstage", settings))
    result.files = [p.outcome for p in prepared]
    result.validation_results = [gx_result] if gx_result else []
    log.info(
        "%s %s: %s, %d rows loaded, %d quarantined%s",
        spec.name,
        service_date,
        result.outcome,
        result.rows_loaded,
        result.rows_quarantined,
        f", {len(result.duplicates)} duplicate file(s) not loaded" if result.duplicates else "",
    )
    return result


def _rel(path: Path, settings: Settings) -> str:
    root = settings.landing_dir.resolve()
    resolved = path.resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else path.name


_LOG_COLUMNS = (
    "source",
    "service_date",
    "file_name",
    "file_bytes",
    "file_sha256",
    "rows_read",
    "rows_loaded",
    "rows_quarantined",
    "outcome",
    "message",
    "loaded_at",
    "key_fingerprint",
)


def _log_failure(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    service_date: date | None,
    files: list[Path],
    settings: Settings,
    message: str,
    fingerprint: str,
    outcome: str = "failed",
) -> None:
    """Record the refused delivery in the load log (its own transaction; no data changes)."""
    now = datetime.now(JST).replace(tzinfo=None)
    with transaction(con):
        for path in files:
            size, sha = _file_digest(path)
            con.execute(
                f"insert into ops.load_log ({', '.join(_LOG_COLUMNS)}) values (?, ?, ?, ?, ?, 0, 0, 0, ?, ?, ?, ?)",
                [spec.name, service_date, _rel(path, settings), size, sha, outcome, message, now, fingerprint],
            )


def _replace_partition(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    service_date: date | None,
    prepared: list[PreparedFile],
    outcome: str,
    fingerprint: str,
    extra: list[tuple[FileOutcome, str]],
    settings: Settings,
) -> None:
    table = spec.kind.table
    file_names: list[str | None] = [None] * (max((p.file_index for p in prepared), default=-1) + 1)
    for item in prepared:
        file_names[item.file_index] = item.outcome.file_name
    quarantine = pd.DataFrame(
        [
            {
                "source": spec.name,
                "service_date": service_date,
                "file_name": p.outcome.file_name,
                "line_number": q.line_number,
                "reason": q.reason,
                "expectation": q.reason.removeprefix("failed ") if q.reason.startswith("failed ") else None,
                "raw_values": json.dumps(q.raw, ensure_ascii=False, sort_keys=True) if q.raw != "" else None,
            }
            for p in prepared
            for q in p.quarantined
        ],
        columns=["source", "service_date", "file_name", "line_number", "reason", "expectation", "raw_values"],
    )
    now = datetime.now(JST).replace(tzinfo=None)
    log_rows = pd.DataFrame(
        [
            {
                "source": spec.name,
                "service_date": service_date,
                "file_name": p.file_name,
                "file_bytes": p.file_bytes,
                "file_sha256": p.file_sha256,
                "rows_read": p.rows_read,
                "rows_loaded": p.rows_loaded,
                "rows_quarantined": p.rows_quarantined,
                "outcome": file_outcome,
                "message": "; ".join(p.notes) or None,
                "loaded_at": now,
                "key_fingerprint": fingerprint,
            }
            for p, file_outcome in [(item.outcome, outcome) for item in prepared] + list(extra)
        ],
        columns=list(_LOG_COLUMNS),
    )
    con.execute("set memory_limit = ?", [settings.ingest_write_memory_limit])
    with transaction(con):
        partition = "source = ? and (?::date is null or service_date = ?)"
        con.execute(f"delete from {table} where {partition}", [spec.name, service_date, service_date])
        con.execute(f"delete from ops.quarantine where {partition}", [spec.name, service_date, service_date])
        _set_variables(con, source=spec.name, file_names=file_names)
        con.execute(_sql("ready_rows", settings))
        con.execute(f"insert into {table} by name select * from ingest_ready")  # the staged rows, in one statement
        if table in ID_COLUMNS:  # their 64-bit ids came with them (stage_identified_chunk): is any shared?
            days = [day for (day,) in con.execute(_sql("staged_days", settings)).fetchall()]
            check_collisions(con, table, days)
        if len(quarantine):
            con.register("incoming_quarantine", quarantine)
            con.execute("insert into ops.quarantine by name select *, ? as quarantined_at from incoming_quarantine", [now])
            con.unregister("incoming_quarantine")
        con.register("incoming_log", log_rows)
        con.execute("insert into ops.load_log by name select * from incoming_log")
        con.unregister("incoming_log")
