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
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from flowlib.config import Settings, get_settings
from flowlib.parsing import FileRejected, RawFile, RowProblem, read_csv_file, read_json_file
from flowlib.pseudonym import pseudonymise_many
from flowlib.sources import ColumnRule, SourceSpec
from flowlib.visitor_ids import ID_COLUMNS, store_visitor_ids
from flowlib.warehouse import ensure_schema, transaction, writer

log = logging.getLogger(__name__)
JST = ZoneInfo("Asia/Tokyo")
#: Extra producer columns named in the load note; the rest are counted.
MAX_LISTED_EXTRA_COLUMNS = 10
#: Largest whole number a canonical integer column holds (DuckDB INTEGER).
MAX_WHOLE_NUMBER = 2_147_483_647
#: An ISO 8601 value that ends in a UTC offset or Z (after a clock time).
_ISO_OFFSET = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)\s*$")
#: A clock time whose second is 60 or 61.
_LEAP_SECOND = re.compile(r"(?:^|\D)\d{1,2}:\d{2}:6[01](?!\d)")
_UNMAPPED = object()


class IngestError(RuntimeError):
    """A delivery cannot be loaded; nothing was written. The message says what to do."""


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

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    def summary(self) -> dict[str, object]:
        """A small, id-free summary that is safe to pass through XCom and logs."""
        return {
            "source": self.source, "service_date": self.service_date.isoformat() if self.service_date else None,
            "outcome": self.outcome, "files": len(self.files),
            "rows_loaded": self.rows_loaded, "rows_quarantined": self.rows_quarantined,
        }


def service_date_of(moment: pd.Series, settings: Settings) -> pd.Series:
    """The tourism day of each JST timestamp: the day starts at the configured hour."""
    shift = pd.Timedelta(hours=settings.service_day_start.hour, minutes=settings.service_day_start.minute)
    return (moment - shift).dt.date


def _day_of_event(spec: SourceSpec, event: pd.Series, settings: Settings) -> pd.Series:
    """The service day of each row; a date-only timestamp (no clock) is its own day."""
    rule = next(r for r in spec.columns if r.target == spec.kind.event_time)
    fmt = rule.timestamp_format or ""
    if fmt and fmt != "iso8601" and not any(code in fmt for code in ("%H", "%I")):
        return event.dt.date
    return service_date_of(event, settings)


def _file_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _read(spec: SourceSpec, path: Path, file_name: str) -> RawFile:
    if spec.format == "csv":
        return read_csv_file(path, spec.encoding, file_name)
    return read_json_file(path, spec.encoding, file_name, spec.records_path, lines=spec.format == "jsonl")


def _check_headers(spec: SourceSpec, raw: RawFile, file_name: str) -> list[str]:
    if not raw.headers and not raw.records and not raw.problems:
        raise FileRejected(file_name, None, "the delivery holds no records: an empty delivery.")
    missing = [h for h in spec.producer_headers if h not in raw.headers]
    if missing:
        raise FileRejected(file_name, 1, f"missing column(s) {', '.join(missing)} (found: "
                                         f"{', '.join(raw.headers) or 'none'}); the producer "
                                         f"changed the export or the declaration {spec.name} is outdated.")
    extra = [h for h in raw.headers if h not in spec.producer_headers]
    if len(extra) > MAX_LISTED_EXTRA_COLUMNS:
        # A 10,000-column export must not turn into a 100 kB load-log message.
        shown = ", ".join(extra[:MAX_LISTED_EXTRA_COLUMNS])
        return [f"ignored {len(extra):,} extra column(s): {shown}, ... and "
                f"{len(extra) - MAX_LISTED_EXTRA_COLUMNS:,} more"]
    return [f"ignored extra column(s): {', '.join(extra)}"] if extra else []


def _local_to_jst(parsed: pd.Series, tz: str) -> pd.Series:
    if tz != "Asia/Tokyo":
        parsed = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert(JST).dt.tz_localize(None)
    return parsed


def _matches(values: pd.Series, pattern: re.Pattern[str]) -> pd.Series:
    return values.map(lambda v: isinstance(v, str) and pattern.search(v) is not None).astype(bool)


def _parse_timestamps(values: pd.Series, fmt: str, tz: str) -> pd.Series:
    """Naive JST timestamps. ISO 8601 values with an offset are converted to JST; values
    without one are read in the source's declared time zone (never silently as UTC).
    A clock second of 60 or 61 (a leap second, or a clock error) does not exist on any
    producer's clock: such values become NaT and the row is quarantined."""
    text = values.astype("object").where(values.notna(), None)
    if fmt == "iso8601":
        has_offset = _matches(text, _ISO_OFFSET)
        aware = pd.to_datetime(text.where(has_offset, None), format="ISO8601", errors="coerce", utc=True)
        aware = aware.dt.tz_convert(JST).dt.tz_localize(None)
        naive = _local_to_jst(pd.to_datetime(text.where(~has_offset, None), format="ISO8601", errors="coerce"), tz)
        parsed = aware.where(has_offset, naive)
    else:
        parsed = _local_to_jst(pd.to_datetime(text, format=fmt, errors="coerce"), tz)
    return parsed.where(~_matches(text, _LEAP_SECOND))


def _column_values(rule: ColumnRule, frame: pd.DataFrame, file_stem: str,
                   line_numbers: list[int] | None = None) -> pd.Series:
    if frame.empty:
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
        return flags.apply(lambda row: [code for code, on in zip(codes, row) if on], axis=1)
    if len(rule.headers) == 1:
        return frame[rule.headers[0]].str.strip()
    joined = frame[rule.headers[0]].str.strip()
    for header in rule.headers[1:]:
        joined = joined + " " + frame[header].str.strip()
    return joined


def _list_values(rule: ColumnRule, frame: pd.DataFrame, file_stem: str) -> pd.Series:
    """A multi-select answer: 0/1 flag columns, or each header's text split separately."""
    if rule.flags or frame.empty or not rule.headers:
        values = _column_values(rule, frame, file_stem)
        return values if rule.flags or frame.empty else values.map(lambda v: [v] if v else [])

    def split(text: str) -> list[str]:
        if not text:
            return []
        parts = text.split(rule.split) if rule.split else [text]
        return [part.strip() for part in parts if part.strip()]

    per_header = [frame[header].str.strip().map(split) for header in rule.headers]
    combined = per_header[0]
    for more in per_header[1:]:
        combined = combined + more
    return combined


def to_canonical(spec: SourceSpec, raw: RawFile, file_name: str, file_stem: str,
                 settings: Settings) -> tuple[pd.DataFrame, list[RowProblem]]:
    """Map producer fields onto canonical columns; rows that do not convert are set aside."""
    kind = spec.kind
    text = pd.DataFrame([r.fields for r in raw.records], columns=raw.headers, dtype="object").fillna("")
    line_numbers = pd.Series([r.line_number for r in raw.records], dtype="int64")
    problems: dict[int, list[str]] = {}

    def flag(mask: pd.Series, reason: str | pd.Series) -> None:
        for idx in mask[mask].index:
            problems.setdefault(int(idx), []).append(reason if isinstance(reason, str) else str(reason[idx]))

    out = pd.DataFrame(index=text.index)
    for rule in spec.columns:
        col_type = kind.columns[rule.target]
        if col_type == "list":
            values = _list_values(rule, text, file_stem)
            if rule.value_map:
                mapping = rule.value_map
                values = values.map(lambda items: [mapping.get(i, i) for i in items])
            out[rule.target] = values
            continue
        values = _column_values(rule, text, file_stem, line_numbers.tolist())
        values = values.where(values.astype(str) != "", None)
        if rule.value_map is not None:
            mapped = values.map(lambda v: None if v is None else rule.value_map.get(str(v), _UNMAPPED))
            unknown = mapped.map(lambda v: v is _UNMAPPED)
            flag(unknown, values.map(lambda v: f"unknown value {v!r} for {rule.target}"))
            values = mapped.where(~unknown, None)
        if col_type == "timestamp":
            fmt = rule.timestamp_format or "iso8601"
            parsed = _parse_timestamps(values.astype("object").where(values.notna(), None), fmt, spec.timezone)
            flag(values.notna() & parsed.isna(), f"unparseable {rule.target} (expected {fmt})")
            out[rule.target] = parsed
        elif col_type in ("integer", "double"):
            numbers = pd.to_numeric(values, errors="coerce")
            flag(values.notna() & numbers.isna(), values.map(lambda v: f"{rule.target} {v!r} is not a number"))
            infinite = numbers.notna() & (numbers.astype("float64").abs() == math.inf)
            flag(infinite, values.map(lambda v: f"{rule.target} {v!r} is not a finite number"))
            numbers = numbers.where(~infinite)
            if col_type == "integer":
                # raw.* stores whole numbers as INTEGER: anything wider would fail the insert.
                too_big = numbers.notna() & (numbers.astype("float64").abs() > MAX_WHOLE_NUMBER)
                flag(too_big, values.map(lambda v: f"{rule.target} {v!r} is out of range for a whole number"))
                numbers = numbers.where(~too_big)
                fractional = numbers.notna() & (numbers != numbers.round())
                flag(fractional, f"{rule.target} is not a whole number")
                numbers = numbers.where(~fractional).astype("Int64")
            out[rule.target] = numbers
        else:
            out[rule.target] = values.astype("object")
    for column in kind.columns:
        if column not in out:
            out[column] = None
    already_flagged = pd.Series(out.index.isin(list(problems)), index=out.index)
    for column in kind.required:
        flag(out[column].isna() & ~already_flagged, f"missing {column}")

    return out.assign(line_number=line_numbers.values), [
        RowProblem(int(line_numbers[idx]), "; ".join(reasons), _raw_for_quarantine(spec, raw.records[idx].fields, settings))
        for idx, reasons in sorted(problems.items())
    ] if problems else []


def _raw_for_quarantine(spec: SourceSpec, fields: dict[str, str], settings: Settings) -> dict[str, str]:
    """The delivered values, with personal ids replaced by their keyed hash."""
    id_headers = {h for rule in spec.columns if rule.target in spec.kind.personal_ids for h in rule.headers}
    safe = dict(fields)
    for header in id_headers & safe.keys():
        if safe[header]:
            safe[header] = "hmac:" + pseudonymise_many([safe[header]], settings.hmac_key)[0]
    return safe


@dataclass
class PreparedFile:
    outcome: FileOutcome
    good: pd.DataFrame
    quarantined: list[RowProblem]
    raw_by_line: dict[int, dict[str, str]]


def prepare_file(spec: SourceSpec, path: Path, service_date: date | None, settings: Settings) -> PreparedFile:
    """Read, map, check and pseudonymise one file without touching the warehouse."""
    file_name = _rel(path, settings)
    size, sha = _file_digest(path)
    raw = _read(spec, path, file_name)
    notes = _check_headers(spec, raw, file_name)
    canonical, problems = to_canonical(spec, raw, file_name, path.stem, settings)
    problems = list(raw.problems) + problems
    bad_lines = {p.line_number for p in problems}
    canonical = canonical[~canonical["line_number"].isin(bad_lines)].reset_index(drop=True)

    event = canonical[spec.kind.event_time]
    row_service_date = _day_of_event(spec, event, settings)
    now_jst = datetime.now(JST).replace(tzinfo=None)
    future = event > now_jst + timedelta(minutes=5)
    problems += [RowProblem(int(n), "timestamp in the future", "") for n in canonical.loc[future, "line_number"]]
    if service_date is not None:
        outside = ~future & (row_service_date != service_date)
        problems += [RowProblem(int(n), f"timestamp outside the service day {service_date.isoformat()}", "")
                     for n in canonical.loc[outside, "line_number"]]
        keep = ~(future | outside)
    else:
        keep = ~future
    canonical = canonical[keep].reset_index(drop=True)
    canonical.insert(0, "service_date", _day_of_event(spec, canonical[spec.kind.event_time], settings))

    duplicated = canonical.astype(str).duplicated(subset=list(spec.kind.columns), keep="first")
    collapsed = 0
    if duplicated.any():
        if spec.duplicates == "collapse":
            collapsed = int(duplicated.sum())
            notes.append(f"collapsed {collapsed} repeated identical row(s)")
        else:
            problems += [RowProblem(int(n), "duplicate of an earlier row in the same file", "")
                         for n in canonical.loc[duplicated, "line_number"]]
        canonical = canonical[~duplicated].reset_index(drop=True)

    for id_column, key_column in spec.kind.personal_ids.items():
        canonical[id_column] = pseudonymise_many(canonical[id_column].tolist(), settings.hmac_key)
        canonical = canonical.rename(columns={id_column: key_column})

    outcome = FileOutcome(file_name, size, sha, raw.lines_read, len(canonical), len(problems), notes)
    return PreparedFile(outcome, canonical, problems, {r.line_number: r.fields for r in raw.records})


def validate_partition(spec: SourceSpec, service_date: date | None, prepared: list[PreparedFile],
                       settings: Settings, known_ids: set[str] | None,
                       trailing_median_rows: float | None) -> dict:
    """One Great Expectations run over all files of a delivery.

    GX costs a fixed overhead per run, so the files of one day are validated together;
    each row carries a running number that maps failures back to its file and line.
    """
    from flowlib import validation  # GX is heavy: import only when data is really loaded

    columns = spec.kind.warehouse_columns
    frames, origin = [], []
    for index, item in enumerate(prepared):
        frames.append(item.good[columns])
        origin.extend((index, int(line)) for line in item.good["line_number"])
    combined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    combined["line_number"] = range(1, len(combined) + 1)
    label = (prepared[0].outcome.file_name if len(prepared) == 1
             else f"{spec.glob_for(service_date)} ({len(prepared)} files)")
    report = validation.validate_frame(combined, spec.expectation_suite, file_name=label,
                                       known_ids=known_ids, trailing_median_rows=trailing_median_rows)
    if not report.success:
        raise FileRejected(label, None, " ".join(report.batch_failures) + _unknown_id_detail(spec, prepared, known_ids))
    failed_by_file: dict[int, dict[int, list[str]]] = {}
    for row_number, failed in report.row_failures.items():
        file_index, line = origin[int(row_number) - 1]
        failed_by_file.setdefault(file_index, {})[line] = failed
    for index, item in enumerate(prepared):
        failures = failed_by_file.get(index, {})
        if not failures:
            continue
        item.quarantined.extend(RowProblem(line, "failed " + ", ".join(names), "") for line, names in failures.items())
        item.good = item.good[~item.good["line_number"].isin(list(failures))].reset_index(drop=True)
        item.outcome.rows_loaded = len(item.good)
        item.outcome.rows_quarantined = len(item.quarantined)
    for item in prepared:
        for problem in item.quarantined:
            if problem.raw == "" and problem.line_number in item.raw_by_line:
                problem.raw = _raw_for_quarantine(spec, item.raw_by_line[problem.line_number], settings)
        item.quarantined.sort(key=lambda p: p.line_number)
    return report.gx_result_json


def _unknown_id_detail(spec: SourceSpec, prepared: list[PreparedFile], known_ids: set[str] | None) -> str:
    """Name the files that carry unknown ids, so the producer knows where to look."""
    column = spec.kind.reference_column
    if not known_ids or not column:
        return ""
    offenders = []
    for item in prepared:
        unknown = item.good.loc[~item.good[column].isin(known_ids), column]
        if len(unknown):
            offenders.append(f"{item.outcome.file_name} ({len(unknown)} rows, e.g. {sorted(set(unknown))[:3]})")
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
    rows = con.execute(
        """
        with last_load as (
            select max(loaded_at) as loaded_at from ops.load_log
            where source = ? and service_date is not distinct from ? and outcome in ('loaded', 'reloaded')
        )
        select file_name, file_sha256 from ops.load_log
        where source = ? and service_date is not distinct from ? and loaded_at = (select loaded_at from last_load)
        """,
        [source, service_date, source, service_date],
    ).fetchall()
    return {(name, sha) for name, sha in rows}


def ingest_partition(spec: SourceSpec, service_date: date | None, settings: Settings | None = None,
                     *, force: bool = False) -> PartitionResult:
    """Load one source's delivery for one service day, atomically and idempotently.

    A source whose landing pattern names no day (a cumulative export such as a survey
    covering months) is loaded as a snapshot: ``service_date`` is None and each load
    replaces all of the source's rows, each row keeping its own service day.
    """
    settings = settings or get_settings()
    if (service_date is None) == spec.is_daily:
        raise ValueError(f"source {spec.name} is {'daily' if spec.is_daily else 'a snapshot'}: "
                         f"{'give' if spec.is_daily else 'do not give'} a service date.")
    files = spec.files_for(settings.landing_dir, service_date)
    result = PartitionResult(spec.name, service_date, "no_files")
    if not files:
        log.warning("%s: no delivery for %s under %s", spec.name, service_date, spec.glob_for(service_date))
        return result
    with writer(settings) as con:
        ensure_schema(con, settings)
        current = {(_rel(p, settings), _file_digest(p)[1]) for p in files}
        previous = _last_loaded_files(con, spec.name, service_date)
        if previous == current and not force:
            result.outcome = "unchanged"
            log.info("%s %s: same %d file(s) as the last load; nothing to do", spec.name, service_date, len(files))
            return result
        known = reference_ids(con, spec) if spec.check_reference_ids else None
        median = _trailing_median_rows(con, spec, service_date) if service_date is not None else None
        try:
            prepared = [prepare_file(spec, path, service_date, settings) for path in files]
            gx_result = validate_partition(spec, service_date, prepared, settings, known, median)
        except FileRejected as exc:
            _log_failure(con, spec, service_date, files, settings, str(exc))
            raise IngestError(f"Source {spec.name} ({spec.owner.email}) for {service_date}: {exc} "
                              "Nothing was loaded for this day; fix or replace the file and re-run the day.") from exc
        result.outcome = "reloaded" if previous else "loaded"
        _replace_partition(con, spec, service_date, prepared, result.outcome)
    result.files = [p.outcome for p in prepared]
    result.validation_results = [gx_result]
    log.info("%s %s: %s, %d rows loaded, %d quarantined", spec.name, service_date, result.outcome,
             result.rows_loaded, result.rows_quarantined)
    return result


def _rel(path: Path, settings: Settings) -> str:
    root = settings.landing_dir.resolve()
    resolved = path.resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else path.name


def _log_failure(con: duckdb.DuckDBPyConnection, spec: SourceSpec, service_date: date | None, files: list[Path],
                 settings: Settings, message: str) -> None:
    """Record the refused delivery in the load log (its own transaction; no data changes)."""
    now = datetime.now(JST).replace(tzinfo=None)
    with transaction(con):
        for path in files:
            size, sha = _file_digest(path)
            con.execute(
                "insert into ops.load_log values (?, ?, ?, ?, ?, 0, 0, 0, 'failed', ?, ?)",
                [spec.name, service_date, _rel(path, settings), size, sha, message, now],
            )


def _replace_partition(con: duckdb.DuckDBPyConnection, spec: SourceSpec, service_date: date | None,
                       prepared: list[PreparedFile], outcome: str) -> None:
    table = spec.kind.table
    columns = ["source", "service_date", *spec.kind.warehouse_columns, "file_name", "line_number"]
    frames = [p.good.assign(source=spec.name, file_name=p.outcome.file_name) for p in prepared]
    rows = pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    quarantine = pd.DataFrame(
        [
            {"source": spec.name, "service_date": service_date, "file_name": p.outcome.file_name,
             "line_number": q.line_number, "reason": q.reason,
             "expectation": q.reason.removeprefix("failed ") if q.reason.startswith("failed ") else None,
             "raw_values": json.dumps(q.raw, ensure_ascii=False, sort_keys=True) if q.raw != "" else None}
            for p in prepared for q in p.quarantined
        ],
        columns=["source", "service_date", "file_name", "line_number", "reason", "expectation", "raw_values"],
    )
    now = datetime.now(JST).replace(tzinfo=None)
    log_rows = pd.DataFrame(
        [
            {"source": spec.name, "service_date": service_date, "file_name": p.outcome.file_name,
             "file_bytes": p.outcome.file_bytes, "file_sha256": p.outcome.file_sha256,
             "rows_read": p.outcome.rows_read, "rows_loaded": p.outcome.rows_loaded,
             "rows_quarantined": p.outcome.rows_quarantined, "outcome": outcome,
             "message": "; ".join(p.outcome.notes) or None, "loaded_at": now}
            for p in prepared
        ]
    )
    with transaction(con):
        partition = "source = ? and (?::date is null or service_date = ?)"
        con.execute(f"delete from {table} where {partition}", [spec.name, service_date, service_date])
        con.execute(f"delete from ops.quarantine where {partition}", [spec.name, service_date, service_date])
        con.register("incoming_rows", rows)
        con.execute(f"insert into {table} by name select * from incoming_rows")
        con.unregister("incoming_rows")
        if table in ID_COLUMNS:   # the 64-bit id beside each pseudonym, collisions checked
            store_visitor_ids(con, service_date, service_date, [table])
        if len(quarantine):
            con.register("incoming_quarantine", quarantine)
            con.execute("insert into ops.quarantine by name select *, ? as quarantined_at from incoming_quarantine", [now])
            con.unregister("incoming_quarantine")
        con.register("incoming_log", log_rows)
        con.execute("insert into ops.load_log by name select * from incoming_log")
        con.unregister("incoming_log")
