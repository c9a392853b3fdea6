"""The source registry: every feed is a YAML declaration in ``sources/``, not code.

Adding a POS vendor, a Wi-Fi vendor or a survey form means adding one declaration that
says where its files land, how they are encoded and how their columns map onto a kind's
canonical columns. The registry is read at DAG parse time, so loading it reads only the
small YAML files, never data.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from flowlib.config import Settings, get_settings
from flowlib.kinds import KINDS, SUITE_BY_KIND, Kind

Format = Literal["csv", "json", "jsonl"]
ENCODINGS = ("utf-8", "utf-8-sig", "cp932")
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
_DATE_TOKEN = re.compile(r"\{service_date(?::([^}]+))?\}")
#: Names that uploaders, browsers and editors give files that are not finished deliveries.
DEFAULT_TEMPORARY_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".filepart", ".swp", ".bak", "~")
ConflictRule = Literal["reject_conflict", "keep_last"]


@dataclass(frozen=True)
class FileAcceptance:
    """Which file names in a landing folder a declaration loads (docs/adding-a-source.md).

    A name is judged in this order: hidden (starts with ``.``) -> skipped; temporary (ends
    with one of ``temporary_suffixes``, case-insensitive, or starts with ``~$``) -> skipped;
    matching the landing pattern (the extension compared case-insensitively when
    ``extension_case`` is ``any``) -> loaded; anything else in the folder -> reported as
    unclaimed. Skipped and unclaimed files are named in the load log and the alert.
    """

    extension_case: Literal["any", "exact"] = "any"
    temporary_suffixes: tuple[str, ...] = DEFAULT_TEMPORARY_SUFFIXES

    def verdict(self, name: str, pattern: str) -> str:
        """``load``, ``hidden``, ``temporary`` or ``unmatched`` for one file name."""
        if name.startswith("."):
            return "hidden"
        lowered = name.lower()
        if lowered.startswith("~$") or any(lowered.endswith(suffix.lower()) for suffix in self.temporary_suffixes):
            return "temporary"
        candidate = name
        if self.extension_case == "any" and "." in name:
            stem, _, extension = name.rpartition(".")
            pat_stem, _, pat_extension = pattern.rpartition(".")
            if pat_extension and pat_extension.lower() == extension.lower():
                candidate = f"{stem}.{pat_extension}"
        return "load" if fnmatch.fnmatchcase(candidate, pattern) else "unmatched"

    def undecorated(self, name: str) -> str:
        """The name without a leading hidden dot, an Office ``~$`` or a temporary suffix."""
        name = name.lstrip(".").removeprefix("~$")
        changed = True
        while changed:
            changed = False
            for suffix in self.temporary_suffixes:
                if name.lower().endswith(suffix.lower()) and len(name) > len(suffix):
                    name, changed = name[: -len(suffix)], True
        return name


@dataclass
class LandingScan:
    """A landing folder as a declaration sees it for one service day."""

    accepted: list[Path] = field(default_factory=list)
    #: (path, why it is not loaded): hidden, temporary (a partial upload) or unmatched
    skipped: list[tuple[Path, str]] = field(default_factory=list)


_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
#: When a daily delivery is due unless its declaration says otherwise: JST on the day after
#: the service day, half an hour before the nightly run (02:00) reads the landing folder.
DEFAULT_EXPECTED_BY = time(1, 30)


class SourceDeclarationError(ValueError):
    """A declaration is invalid; the message names the file and the problem."""


@dataclass(frozen=True)
class ColumnRule:
    """How one canonical column is filled from a producer's file."""

    target: str
    headers: tuple[str, ...] = ()
    from_file_stem: bool = False
    #: "<file stem>:<line>" for exports that carry no answer id of their own
    from_line_number: bool = False
    timestamp_format: str | None = None
    value_map: dict[str, Any] | None = None
    split: str | None = None
    flags: dict[str, str] | None = None
    constant: Any = None

    @property
    def producer_headers(self) -> tuple[str, ...]:
        return self.headers + tuple(self.flags or ())


@dataclass(frozen=True)
class Owner:
    name: str
    email: str


@dataclass(frozen=True)
class SourceSpec:
    name: str
    kind: Kind
    description: str
    owner: Owner
    landing: str
    format: Format
    encoding: str
    timezone: str
    columns: tuple[ColumnRule, ...]
    expectation_suite: str
    records_path: str | None = None
    declared_in: Path | None = None
    #: False for feeds from outside Nagasaki (e.g. the Hokuriku sample) whose facility
    #: ids are not in geo/; they are still validated row by row.
    check_reference_ids: bool = True
    #: "quarantine" repeated identical rows, or "collapse" them (a sensor logs several
    #: probes of one device in the same second); collapsed rows are counted in the load log.
    duplicates: Literal["quarantine", "collapse"] = "quarantine"
    #: Rows of one delivery with the same identity (kinds.IDENTITY_BY_KIND: the same card at
    #: the same facility and second, the same access point and bin, ...) but different values:
    #: quarantine them all ("reject_conflict") or load the last one delivered ("keep_last").
    conflicts: ConflictRule = "reject_conflict"
    accept: FileAcceptance = FileAcceptance()
    #: Files above this size (MB) are refused before they are read; None = FLOW_MAX_FILE_MB.
    max_file_mb: int | None = None
    #: JST clock time on the day after the service day by which the delivery is due
    #: (``expected_by: "01:30"``); a missing delivery is "late" after it, "pending" before.
    expected_by: time = DEFAULT_EXPECTED_BY

    def expected_at(self, service_date: date) -> datetime:
        """The naive JST moment a service day's delivery is due."""
        return datetime.combine(service_date + timedelta(days=1), self.expected_by)

    @property
    def producer_headers(self) -> list[str]:
        seen: list[str] = []
        for rule in self.columns:
            for header in rule.producer_headers:
                if header not in seen:
                    seen.append(header)
        return seen

    @property
    def is_daily(self) -> bool:
        """True when each delivery holds one service day, named in its path."""
        return bool(_DATE_TOKEN.search(self.landing))

    def glob_for(self, service_date: date | None) -> str:
        def render(match: re.Match[str]) -> str:
            if service_date is None:
                return "*"
            return service_date.strftime(match.group(1) or "%Y-%m-%d")

        return _DATE_TOKEN.sub(render, self.landing)

    def files_for(self, landing_dir: Path, service_date: date | None) -> list[Path]:
        """Delivered files of one service day, sorted for a deterministic load order."""
        return self.scan(landing_dir, service_date).accepted

    def scan(self, landing_dir: Path, service_date: date | None) -> LandingScan:
        """Every file in the folder(s) of one service day, judged by ``accept``.

        Files not loaded are reported when the folder holds only this day's files, or when
        their name without the hidden dot or temporary suffix is this day's file name.
        """
        root = landing_dir.resolve()
        folder_glob, _, name_pattern = self.glob_for(service_date).rpartition("/")
        folders = sorted(root.glob(folder_glob)) if folder_glob else [root]
        daily_folder = bool(_DATE_TOKEN.search(self.landing.rpartition("/")[0]))
        result = LandingScan()
        for folder in folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if not path.is_file():
                    continue
                if not path.resolve().is_relative_to(root):
                    raise SourceDeclarationError(
                        f"source {self.name}: {path} resolves outside the landing folder {root}; refusing to read it."
                    )
                verdict = self.accept.verdict(path.name, name_pattern)
                if verdict == "load":
                    result.accepted.append(path)
                elif daily_folder or _matches_loosely(self.accept.undecorated(path.name), name_pattern):
                    result.skipped.append((path, verdict))
        return result

    def claims(self, relative: str) -> bool:
        """True when a landing-relative path is one this source loads or reports (any day)."""
        folder_glob, _, name_pattern = self.glob_for(None).rpartition("/")
        parent, _, name = relative.rpartition("/")
        parts, pattern_parts = parent.split("/") if parent else [], folder_glob.split("/") if folder_glob else []
        if len(parts) != len(pattern_parts) or not all(fnmatch.fnmatchcase(part, pat) for part, pat in zip(parts, pattern_parts)):
            return False
        daily_folder = bool(_DATE_TOKEN.search(self.landing.rpartition("/")[0]))
        return (
            daily_folder
            or re.fullmatch(_name_regex(self.landing.rpartition("/")[2]), self.accept.undecorated(name), re.IGNORECASE)
            is not None
        )


_STRFTIME_WIDTHS = {
    "Y": r"\d{4}",
    "y": r"\d{2}",
    "m": r"\d{2}",
    "d": r"\d{2}",
    "j": r"\d{3}",
    "H": r"\d{2}",
    "M": r"\d{2}",
    "S": r"\d{2}",
}


def _name_regex(segment: str) -> str:
    """A regex for the file names a landing segment takes on any day: the date token
    becomes the digits of its format, so ``2026-11-03 (1).json`` is no day's file."""

    def literal(text: str) -> str:
        return "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in text)

    def date_part(fmt: str) -> str:
        return re.sub(
            r"%(.)|([^%]+)", lambda m: _STRFTIME_WIDTHS.get(m.group(1), ".+") if m.group(1) else re.escape(m.group(2)), fmt
        )

    out, position = "", 0
    for match in _DATE_TOKEN.finditer(segment):
        out += literal(segment[position : match.start()]) + date_part(match.group(1) or "%Y-%m-%d")
        position = match.end()
    return out + literal(segment[position:])


def _matches_loosely(name: str, pattern: str) -> bool:
    """The pattern would take the name if case were ignored (e.g. ``DEJIMA.CSV`` under
    ``extension_case: exact``): such a file is named, not ignored."""
    return fnmatch.fnmatch(name.lower(), pattern.lower())


def _fail(path: Path, message: str) -> SourceDeclarationError:
    return SourceDeclarationError(f"{path}: {message}")


def _parse_rule(path: Path, target: str, raw: Any, kind: Kind) -> ColumnRule:
    if target not in kind.columns:
        raise _fail(
            path, f"column '{target}' is not a canonical column of kind {kind.name} (allowed: {', '.join(kind.columns)})."
        )
    if isinstance(raw, str):
        return ColumnRule(target=target, headers=(raw,))
    if not isinstance(raw, dict):
        raise _fail(path, f"column '{target}' must be a header name or a mapping.")
    allowed = {"header", "headers", "from", "format", "map", "split", "flags", "constant"}
    unknown = set(raw) - allowed
    if unknown:
        raise _fail(path, f"column '{target}' has unknown keys {sorted(unknown)} (allowed: {sorted(allowed)}).")
    headers = raw.get("headers") or ([raw["header"]] if "header" in raw else [])
    if not all(isinstance(h, str) and h for h in headers):
        raise _fail(path, f"column '{target}': headers must be non-empty strings.")
    from_stem = raw.get("from") == "file_stem"
    from_line = raw.get("from") == "line_number"
    if "from" in raw and not (from_stem or from_line):
        raise _fail(path, f"column '{target}': 'from' supports only 'file_stem' and 'line_number'.")
    flags = raw.get("flags")
    if flags is not None and (not isinstance(flags, dict) or kind.columns[target] != "list"):
        raise _fail(path, f"column '{target}': 'flags' must map 0/1 headers to codes of a list column.")
    if not (headers or from_stem or from_line or flags or "constant" in raw):
        raise _fail(path, f"column '{target}' needs a header, headers, flags, constant or from.")
    value_map = raw.get("map")
    if value_map is not None and not isinstance(value_map, dict):
        raise _fail(path, f"column '{target}': 'map' must be a mapping of producer value to code.")
    return ColumnRule(
        target=target,
        headers=tuple(headers),
        from_file_stem=from_stem,
        from_line_number=from_line,
        timestamp_format=raw.get("format"),
        value_map={str(k): v for k, v in value_map.items()} if value_map else None,
        split=raw.get("split"),
        flags={str(k): str(v) for k, v in flags.items()} if flags else None,
        constant=raw.get("constant"),
    )


def _acceptance(path: Path, raw: object) -> FileAcceptance:
    if raw is None:
        return FileAcceptance()
    if not isinstance(raw, dict) or set(raw) - {"extension_case", "temporary_suffixes"}:
        raise _fail(
            path,
            "accept must be a mapping with extension_case (any | exact) and/or "
            "temporary_suffixes (a list such as ['.tmp', '.part', '~']).",
        )
    case = raw.get("extension_case", "any")
    if case not in ("any", "exact"):
        raise _fail(path, f"accept.extension_case must be any or exact, not {case!r}.")
    suffixes = raw.get("temporary_suffixes", list(DEFAULT_TEMPORARY_SUFFIXES))
    if not isinstance(suffixes, list) or not all(isinstance(x, str) and x for x in suffixes):
        raise _fail(path, "accept.temporary_suffixes must be a list of non-empty suffixes.")
    return FileAcceptance(case, tuple(suffixes))


def _conflict_rule(path: Path, value: object) -> ConflictRule:
    if value not in ("reject_conflict", "keep_last"):
        raise _fail(path, f"conflicts must be reject_conflict or keep_last, not {value!r}.")
    return value  # type: ignore[return-value]


def _max_file_mb(path: Path, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(path, f"max_file_mb must be a whole number of megabytes (at least 1), not {value!r}.")
    return value


def _duplicates_policy(path: Path, value: object) -> Literal["quarantine", "collapse"]:
    if value not in ("quarantine", "collapse"):
        raise _fail(path, f"duplicates must be quarantine or collapse, not {value!r}.")
    return value  # type: ignore[return-value]


def _expected_by(path: Path, value: object) -> time:
    # YAML 1.1 reads an unquoted 1:30 as the number 90 (sexagesimal): insist on a string
    if not isinstance(value, str) or not (match := _CLOCK.match(value.strip())):
        raise _fail(
            path,
            f'expected_by must be a quoted JST clock time "HH:MM" (00:00-23:59) on the day '
            f'after the service day, e.g. "01:30"; got {value!r}.',
        )
    return time(int(match.group(1)), int(match.group(2)))


def parse_declaration(path: Path, text: str | None = None) -> SourceSpec:
    """Validate one YAML declaration and turn it into a SourceSpec."""
    try:
        doc = yaml.safe_load(text if text is not None else path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise _fail(path, f"is not valid YAML: {' '.join(str(exc).split())}") from exc  # one line
    if not isinstance(doc, dict):
        raise _fail(path, "must be a YAML mapping.")
    required = ("name", "kind", "owner", "landing", "format", "encoding", "columns")
    missing = [key for key in required if key not in doc]
    if missing:
        raise _fail(path, f"is missing {', '.join(missing)}.")
    name = str(doc["name"])
    if not _NAME.match(name):
        raise _fail(
            path,
            f"name '{name}' must be lower-case letters, digits and underscores "
            "(it becomes an Airflow task id and a SQL literal).",
        )
    kind = KINDS.get(str(doc["kind"]))
    if kind is None:
        raise _fail(path, f"kind '{doc['kind']}' is unknown (known: {', '.join(KINDS)}).")
    fmt = doc["format"]
    if fmt not in ("csv", "json", "jsonl"):
        raise _fail(path, f"format '{fmt}' must be csv, json or jsonl.")
    encoding = str(doc["encoding"]).lower()
    if encoding not in ENCODINGS:
        raise _fail(path, f"encoding '{encoding}' must be one of {', '.join(ENCODINGS)}.")
    landing = str(doc["landing"])
    if landing.startswith("/") or ".." in Path(landing).parts:
        raise _fail(path, f"landing pattern '{landing}' must be relative to the landing folder.")
    owner = doc["owner"]
    if not isinstance(owner, dict) or not owner.get("email"):
        raise _fail(path, "owner must give a name and an email to tell when the feed fails.")
    columns_raw = doc["columns"]
    if not isinstance(columns_raw, dict) or not columns_raw:
        raise _fail(path, "columns must map canonical columns to producer headers.")
    rules = tuple(_parse_rule(path, str(target), raw, kind) for target, raw in columns_raw.items())
    missing_required = kind.required - {rule.target for rule in rules}
    if missing_required:
        raise _fail(path, f"kind {kind.name} requires columns {sorted(missing_required)}.")
    event_rule = next(rule for rule in rules if rule.target == kind.event_time)
    if event_rule.headers and not event_rule.timestamp_format:
        raise _fail(path, f"column '{kind.event_time}' needs a timestamp 'format' (strftime codes, or 'iso8601').")
    if fmt == "json" and not doc.get("records_path"):
        raise _fail(path, "format json needs records_path: the key holding the list of records.")
    timezone = str(doc.get("timezone", "Asia/Tokyo"))
    try:
        ZoneInfo(timezone)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise _fail(path, f"timezone '{timezone}' is not an IANA time zone (e.g. Asia/Tokyo).") from exc
    suite = str(doc.get("expectation_suite", SUITE_BY_KIND[kind.name]))
    if suite != SUITE_BY_KIND[kind.name]:
        # a suite checks one raw table's columns; another table's suite would reject or pass blindly
        raise _fail(
            path,
            f"expectation_suite '{suite}' does not check kind {kind.name}: "
            f"use '{SUITE_BY_KIND[kind.name]}' (expectations/{SUITE_BY_KIND[kind.name]}.json) "
            "or leave it out.",
        )
    return SourceSpec(
        name=name,
        kind=kind,
        description=str(doc.get("description", "")),
        owner=Owner(str(owner.get("name", "")), str(owner["email"])),
        landing=landing,
        format=fmt,
        encoding=encoding,
        timezone=timezone,
        columns=rules,
        expectation_suite=suite,
        records_path=doc.get("records_path"),
        declared_in=path,
        check_reference_ids=bool(doc.get("check_reference_ids", True)),
        duplicates=_duplicates_policy(path, doc.get("duplicates", "quarantine")),
        conflicts=_conflict_rule(path, doc.get("conflicts", "reject_conflict")),
        accept=_acceptance(path, doc.get("accept")),
        max_file_mb=_max_file_mb(path, doc.get("max_file_mb")),
        expected_by=_expected_by(path, doc["expected_by"]) if "expected_by" in doc else DEFAULT_EXPECTED_BY,
    )


class UnknownSource(KeyError):
    """A source name no declaration in the sources folder carries."""

    def __str__(self) -> str:
        return str(self.args[0])


def lookup(registry: dict[str, SourceSpec], name: str, settings: Settings | None = None) -> SourceSpec:
    """The named declaration, or one sentence saying where it is and how to load it."""
    if name in registry:
        return registry[name]
    settings = settings or get_settings()
    examples = settings.project_root / "sources" / "examples"
    hint = ""
    for path in sorted(examples.glob("*.yaml")) if examples.is_dir() else []:
        try:
            if parse_declaration(path).name == name:
                hint = (
                    f" It is declared in {path.relative_to(settings.project_root)}, an example that is not "
                    f"scheduled: load it with `python -m flowlib ingest {name} --sources-dir {examples}` "
                    f"(or set FLOW_SOURCES_DIR={examples}; move the file into sources/ to run it nightly)."
                )
                break
        except SourceDeclarationError:
            continue
    if not hint and examples.is_dir() and settings.sources_dir.resolve() != examples.resolve():
        hint = (
            f" The real-data examples in {examples.relative_to(settings.project_root)} load with "
            f"`--sources-dir {examples}` (or FLOW_SOURCES_DIR)."
        )
    raise UnknownSource(
        f"unknown source {name!r}: no declaration in {settings.sources_dir} has that name "
        f"(known: {', '.join(sorted(registry)) or 'none'}).{hint}"
    )


def unclaimed_files(registry: dict[str, SourceSpec], landing_dir: Path) -> list[Path]:
    """Files in the landing folder that lie in no declaration's folders: never loaded by
    anything, so they are reported (a misnamed folder, a new feed nobody declared)."""
    root = landing_dir.resolve()
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(root).as_posix()
        if not any(spec.claims(relative) for spec in registry.values()):
            found.append(path)
    return found


def load_registry(settings: Settings | None = None, sources_dir: Path | None = None) -> dict[str, SourceSpec]:
    """All declarations in the sources folder, by name; duplicate names are an error."""
    settings = settings or get_settings()
    folder = sources_dir or settings.sources_dir
    registry: dict[str, SourceSpec] = {}
    for path in sorted(folder.glob("*.yaml")):
        spec = parse_declaration(path)
        if spec.name in registry:
            raise _fail(path, f"declares source '{spec.name}' already declared in {registry[spec.name].declared_in}.")
        registry[spec.name] = spec
    return registry
