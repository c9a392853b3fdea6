"""Shared machinery of the reliability suite and of ``bench/reliability_report.py``.

Everything here works on a throw-away root folder (``root/data``, ``root/dashboards``,
``root/sources``) so a test never touches the project's own ``data/`` or ``dashboards/``:

- a small demo data set with planted, recognisable personal ids (:func:`build_dataset`);
- the pipeline run in-process or as the real CLI in a subprocess (:func:`cli`,
  :class:`KillableRun` for SIGKILL at deterministic progress markers);
- deterministic snapshots of the warehouse, CSV exports of every mart and normalised
  daily pages, to compare runs byte for byte;
- scanners for raw personal ids and their unkeyed SHA-256 in files and in the warehouse.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HOSTILE_DIR = PROJECT_ROOT / "tests" / "hostile"
_VENV_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"
PYTHON = str(_VENV_PYTHON if _VENV_PYTHON.exists() else Path(sys.executable))

#: A Monday and the Culture Day holiday, at a tenth of the demo's volume: small but every
#: mart gets published and suppressed cells.
DEMO_FIRST, DEMO_LAST = date(2026, 11, 2), date(2026, 11, 3)
DEMO_SEED, DEMO_SCALE = 7, 0.1
DEMO_DATES = [(DEMO_FIRST + timedelta(days=i)).isoformat() for i in range((DEMO_LAST - DEMO_FIRST).days + 1)]

#: The test declaration of a Wi-Fi sensor feed (JSON Lines, device ids): the nightly
#: sources carry no device ids, so the privacy checks add this one.
SENSOR_DECLARATION = HOSTILE_DIR / "declarations" / "sensor_jsonl.yaml"

#: Columns that hold the wall-clock time of a load or build, not data: excluded from comparisons.
LOAD_TIME_COLUMNS = frozenset({"loaded_at", "quarantined_at", "built_at"})
SNAPSHOT_SCHEMAS = ("raw", "intermediate", "marts")


# --------------------------------------------------------------------------- settings


def make_settings(root: Path, sources_dir: Path | None = None):
    """Settings for a throw-away root, independent of FLOW_* variables for paths."""
    from flowlib.config import Settings

    data = root / "data"
    return Settings(
        data_dir=data,
        landing_dir=data / "landing",
        warehouse_path=data / "warehouse.duckdb",
        dashboards_dir=root / "dashboards",
        sources_dir=sources_dir or (root / "sources" if (root / "sources").is_dir() else PROJECT_ROOT / "sources"),
        demo_mode=True,
        hmac_key_env=None,
    )


def declared_sources() -> dict:
    """Every source declaration the project ships (sources/ and sources/examples/) and the
    raw Wi-Fi sensor declaration, by name: what the parser and mapping tests run through."""
    from flowlib.config import get_settings
    from flowlib.sources import load_registry, parse_declaration

    specs = dict(load_registry(get_settings(), PROJECT_ROOT / "sources"))
    specs.update(load_registry(get_settings(), PROJECT_ROOT / "sources" / "examples"))
    sensor = parse_declaration(SENSOR_DECLARATION)
    specs[sensor.name] = sensor
    return specs


def flow_env(root: Path, **extra: str) -> dict[str, str]:
    """Environment for a CLI subprocess working on ``root``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOW_")}
    env.update(
        {
            "FLOW_DATA_DIR": str(root / "data"),
            "FLOW_DASHBOARDS_DIR": str(root / "dashboards"),
            "FLOW_DEMO_MODE": "true",
            "GX_ANALYTICS_ENABLED": "False",
            "PYTHONPATH": str(PROJECT_ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if (root / "sources").is_dir():
        env["FLOW_SOURCES_DIR"] = str(root / "sources")
    env.update(extra)
    return env


def cli(root: Path, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    """``python -m flowlib <args>`` on ``root``, to completion."""
    return subprocess.run(
        [PYTHON, "-m", "flowlib", *args],
        cwd=PROJECT_ROOT,
        env=flow_env(root, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --------------------------------------------------------------------------- data set

#: Recognisable raw personal ids planted in the inputs; none may appear anywhere after ingest.
PLANTED_CARD_IDS = ("4929000011112222", "5312009988776655", "3566111122223333", "4000123412341234")
PLANTED_DEVICE_IDS = ("02:5a:7f:c3:9e:11", "a4-83-e7-00-12-ff", "dev-imei-356938035643809")
PLANTED_RESPONSE_IDS = ("WEB-PRIV-7731", "WEB-PRIV-7732", "WEB-PRIV-7733")


def planted_ids() -> set[str]:
    return set(PLANTED_CARD_IDS) | set(PLANTED_DEVICE_IDS) | set(PLANTED_RESPONSE_IDS)


def _append(path: Path, text: str, encoding: str, newline: str) -> None:
    data = path.read_bytes()
    if not data.endswith(newline.encode()):
        data += newline.encode()
    path.write_bytes(data + text.replace("\n", newline).encode(encoding))


def plant_ids(landing: Path, day: str) -> None:
    """Add rows with the planted ids to one day's delivery: some load, some are quarantined."""
    d = date.fromisoformat(day)
    slash = d.strftime("%Y/%m/%d")
    c1, c2, c3, c4 = PLANTED_CARD_IDS
    _append(
        landing / "entry_log" / "pos_a" / day / "glover_garden.csv",
        f"{slash} 10:11:12,{c1},大人,620,JP\n{slash} 10:41:12,{c2},大人,-620,JP\n",  # negative amount: quarantined
        "cp932",
        "\r\n",
    )
    _append(
        landing / "entry_log" / "pos_b" / day / "penguin_aquarium.csv",
        f"penguin_aquarium,{day},11:12:13,{c3},一般,520,US\n"
        f"penguin_aquarium,{day},25:12:13,{c4},一般,520,US\n",  # impossible clock: quarantined
        "utf-8",
        "\n",
    )
    r1, r2, r3 = PLANTED_RESPONSE_IDS
    _append(
        landing / "survey" / "web" / f"{day}.csv",
        f"{r1},{day} 15:00:00,ja,JP,長崎県,4,4,8,free_wifi,dejima,プライバシー試験\n"
        f"{r2},{day} 15:05:00,en,US,,5,5,10,sns,glover_garden,\"<script>alert('xss-7732')</script>\"\n"
        f'{r3},{day} 15:10:00,ja,JP,長崎県,7,4,8,free_wifi,dejima,=HYPERLINK("http://x")\n',  # 7: quarantined
        "utf-8",
        "\n",
    )
    d1, d2, d3 = PLANTED_DEVICE_IDS
    sensor = landing / "wifi_sensor" / "test" / day / "sensor.jsonl"
    sensor.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"facility": "dejima", "device": device, "seen": f"{day}T{10 + i:02d}:00:00+09:00"})
        for i, device in enumerate((d1, d2) * 6)
    ]
    lines.append(json.dumps({"facility": "dejima", "device": d3, "seen": f"{day}T99:00:00+09:00"}))  # quarantined
    sensor.write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_dataset(root: Path, demo_cache: Path | None = None) -> Path:
    """Demo landing files (two days, scale 0.1) + planted ids + a sources folder with the
    nightly declarations and the sensor test declaration. Returns ``root``."""
    landing = root / "data" / "landing"
    if demo_cache is not None and demo_cache.is_dir():
        shutil.copytree(demo_cache, landing)
    else:
        from flowlib.demo import generate

        generate(landing, DEMO_FIRST, DEMO_LAST, seed=DEMO_SEED, scale=DEMO_SCALE)
    for day in DEMO_DATES:
        plant_ids(landing, day)
    sources = root / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    for path in (PROJECT_ROOT / "sources").glob("*.yaml"):
        shutil.copy2(path, sources / path.name)
    shutil.copy2(SENSOR_DECLARATION, sources / SENSOR_DECLARATION.name)
    return root


def clone(src: Path, dst: Path) -> Path:
    """Copy a prepared root (landing and sources only, never run outputs)."""
    shutil.copytree(src / "data" / "landing", dst / "data" / "landing")
    shutil.copytree(src / "sources", dst / "sources")
    return dst


def run_in_process(root: Path, dates: list[str] | None = None, *, rebuild: bool = False) -> str:
    """The whole night in this process (what the CLI's ``run`` does); ``rebuild``: build the
    marts even when nothing changed since their last build."""
    from flowlib.pipeline import run_all

    return run_all(dates or DEMO_DATES, make_settings(root), rebuild=rebuild)


def build_exports(root: Path) -> list[Path]:
    """The city's CSV exports: indicator marts rebuilt, then written under dashboards/exports."""
    from flowlib.indicator_mart import build_indicator, export_indicator_csv
    from flowlib.warehouse import writer

    settings = make_settings(root)
    with writer(settings) as con:
        build_indicator(con, settings)
        return export_indicator_csv(con, settings.dashboards_dir / "exports")


# --------------------------------------------------------------------------- snapshots


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and (table_schema in ? or "
        "(table_schema = 'ops' and table_name = 'quarantine')) order by 1",
        [list(SNAPSHOT_SCHEMAS)],
    ).fetchall()
    return [r[0] for r in rows]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    schema, name = table.split(".")
    return [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, name],
        ).fetchall()
    ]


def snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    """Every table of raw, intermediate, marts and ops.quarantine, rows in a total order,
    load timestamps left out; plus the current load state (last load per partition)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        out: dict[str, list[tuple]] = {}
        for table in _tables(con):
            cols = [c for c in _columns(con, table) if c not in LOAD_TIME_COLUMNS]
            select = ", ".join(f'"{c}"' for c in cols)
            out[table] = con.execute(f"select {select} from {table} order by all").fetchall()
        out["ops.load_log (current)"] = con.execute(
            """
            with last as (
                select source, service_date, max(loaded_at) as loaded_at from ops.load_log
                where outcome in ('loaded', 'reloaded') group by all
            )
            select l.source, l.service_date, l.file_name, l.file_bytes, l.file_sha256, l.rows_read,
                   l.rows_loaded, l.rows_quarantined, l.message
            from ops.load_log l join last using (source, loaded_at)
            where l.service_date is not distinct from last.service_date
            order by all
            """
        ).fetchall()
        return out
    finally:
        con.close()


def export_marts_csv(warehouse: Path, out_dir: Path) -> dict[str, bytes]:
    """Every marts table as CSV in a total order (``order by all``); returns name → bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse), read_only=True)
    exported: dict[str, bytes] = {}
    try:
        tables = [t for t in _tables(con) if t.startswith("marts.")]
        for table in tables:
            cursor = con.execute(f"select * from {table} order by all")
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow([c[0] for c in cursor.description])
            for row in cursor.fetchall():
                writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in row])
            data = buffer.getvalue().encode("utf-8")
            (out_dir / f"{table}.csv").write_bytes(data)
            exported[table] = data
    finally:
        con.close()
    return exported


#: folium/branca name every element ``<kind>_<uuid4 hex>``; the hex is random per render.
FOLIUM_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


def normalise_folium_ids(page: str) -> str:
    """Replace folium's random element ids by their order of first appearance."""
    seen: dict[str, str] = {}
    return FOLIUM_ID.sub(lambda m: seen.setdefault(m.group(0), f"ID{len(seen):04d}"), page)


def daily_pages(root: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted((root / "dashboards" / "daily").glob("*.html"))}


def incomplete_pages(dashboards: Path) -> list[str]:
    """Published files that are not whole (a torn write would show here): HTML that is not
    a complete document, JSON/GeoJSON that does not parse, CSV that does not end with a
    line break or whose rows are not all as wide as its header."""
    problems = []
    for path in sorted(dashboards.rglob("*")) if dashboards.is_dir() else []:
        if not path.is_file() or path.name.startswith("."):
            continue
        data = path.read_bytes()
        where = f"{path.relative_to(dashboards)} ({len(data):,} bytes)"
        if path.suffix == ".html":
            text = data.decode("utf-8", errors="replace").strip().lower()
            if not text.startswith(("<!doctype html", "<html")) or not text.endswith("</html>"):
                problems.append(f"{where} is not a complete HTML document")
        elif path.suffix in (".json", ".geojson"):
            try:
                json.loads(data)
            except ValueError:
                problems.append(f"{where} is not valid JSON")
        elif path.suffix == ".csv":
            rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"), newline="")))
            if not data.endswith(b"\n") or len({len(r) for r in rows}) > 1:
                problems.append(f"{where} is a torn CSV")
    return problems


#: Lines of the open-data catalogue that hold the wall-clock time of the export.
_ISO_DATETIME = re.compile(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)?")


def open_data(root: Path) -> dict[str, bytes]:
    """Every file under dashboards/exports; in the catalogue (catalogue.json, index.html)
    the export's own timestamps (generated_at, file modification times) are masked."""
    folder = root / "dashboards" / "exports"
    files = {}
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if path.is_file() and not path.name.startswith("."):
            data = path.read_bytes()
            if path.name in ("catalogue.json", "index.html"):
                data = _ISO_DATETIME.sub(b"<time>", data)
            files[path.relative_to(folder).as_posix()] = data
    return files


# --------------------------------------------------------------------------- killing runs


@dataclass
class KillableRun:
    """The CLI in a subprocess, its log lines followed live, SIGKILLed when a marker shows.

    ``trigger`` is called about every 2 ms with the log lines seen so far and returns a
    label when the process must die now. Nothing in the code under test knows about it.
    """

    root: Path
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    killed_at: str | None = None
    killed_after_s: float | None = None
    returncode: int | None = None
    stdout: str = ""

    def run(self, trigger: Callable[[list[str]], str | None] | None = None, timeout: float = 600) -> KillableRun:
        proc = subprocess.Popen(
            [PYTHON, "-m", "flowlib", *self.args],
            cwd=PROJECT_ROOT,
            env=flow_env(self.root, **self.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started = time.monotonic()
        reader = threading.Thread(target=self._follow, args=(proc,), daemon=True)
        reader.start()
        out_reader = threading.Thread(target=lambda: setattr(self, "stdout", proc.stdout.read()), daemon=True)
        out_reader.start()
        try:
            while proc.poll() is None:
                if time.monotonic() - started > timeout:
                    raise TimeoutError(f"flowlib {' '.join(self.args)} ran over {timeout} s")
                label = trigger(list(self.lines)) if trigger else None
                if label:
                    os.kill(proc.pid, signal.SIGKILL)
                    self.killed_at, self.killed_after_s = label, time.monotonic() - started
                    break
                time.sleep(0.002)
        finally:
            if proc.poll() is None and self.killed_at is None:
                proc.kill()
            proc.wait()
            reader.join(5)
            out_reader.join(5)
        self.returncode = proc.returncode
        return self

    def _follow(self, proc: subprocess.Popen) -> None:
        for line in proc.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        return "\n".join(self.lines)


def after_line(pattern: str, label: str) -> Callable[[list[str]], str | None]:
    """Kill as soon as a log line matches ``pattern`` (the step after it is then in flight)."""
    regex = re.compile(pattern)
    return lambda lines: label if any(regex.search(line) for line in lines) else None


def when_file(
    folder: Path, glob: str, label: str, also: Callable[[list[str]], bool] | None = None
) -> Callable[[list[str]], str | None]:
    """Kill as soon as a file matching ``glob`` exists under ``folder`` (e.g. a page's temp file)."""

    def check(lines: list[str]) -> str | None:
        if also is not None and not also(lines):
            return None
        return label if folder.is_dir() and any(folder.glob(glob)) else None

    return check


def first_of(*triggers: Callable[[list[str]], str | None]) -> Callable[[list[str]], str | None]:
    def check(lines: list[str]) -> str | None:
        for trigger in triggers:
            label = trigger(lines)
            if label:
                return label
        return None

    return check


def after_seconds(seconds: float, label: str) -> Callable[[list[str]], str | None]:
    start: list[float] = []

    def check(lines: list[str]) -> str | None:
        if not start:
            start.append(time.monotonic())
        return label if time.monotonic() - start[0] >= seconds else None

    return check


# --------------------------------------------------------------------------- privacy scans


@dataclass
class Needles:
    """What betrays an id, found in one pass over a blob of any size.

    Ids made of digits (card numbers) and SHA-256 hex digests are looked up in sets while
    the blob is tokenised into long digit runs and 64+ hex runs (every window of a longer
    run is checked, so an id inside a longer run is still found; hex in either case);
    anything else (ids with letters, UTF-16 forms and binary digests of the planted ids)
    is a plain substring search.
    """

    digits: dict[bytes, str] = field(default_factory=dict)
    hexes: dict[bytes, str] = field(default_factory=dict)
    literals: dict[bytes, str] = field(default_factory=dict)

    def search(self, blob: bytes) -> list[str]:
        found: set[str] = set()
        lengths = sorted({len(d) for d in self.digits})
        if lengths:
            for match in re.finditer(rb"[0-9]{%d,}" % lengths[0], blob):
                run = match.group(0)
                for length in lengths:
                    for i in range(len(run) - length + 1):
                        label = self.digits.get(run[i : i + length])
                        if label:
                            found.add(label)
        if self.hexes:
            for match in re.finditer(rb"[0-9a-fA-F]{64,}", blob):
                run = match.group(0).lower()
                for i in range(len(run) - 63):
                    label = self.hexes.get(run[i : i + 64])
                    if label:
                        found.add(label)
        found.update(label for needle, label in self.literals.items() if needle in blob)
        return sorted(found)


def needles_for(ids: Iterable[str]) -> Needles:
    """The ids themselves and their unkeyed SHA-256 (hex in either case); for the planted
    ids also their UTF-16 form and the binary digest."""
    needles = Needles()
    planted = planted_ids()
    for raw in ids:
        encoded = raw.encode("utf-8")
        digest = hashlib.sha256(encoded).digest()
        (needles.digits if raw.isdigit() else needles.literals)[encoded] = f"raw id {raw}"
        needles.hexes[digest.hex().encode()] = f"sha256({raw})"
        if raw in planted:
            needles.literals[raw.encode("utf-16-le")] = f"raw id {raw} (UTF-16)"
            needles.literals[digest] = f"sha256({raw}) as binary"
    return needles


def scan_files(paths: Iterable[Path], needles: Needles) -> list[str]:
    """Every (file, needle) hit, reading each file whole."""
    hits = []
    for path in paths:
        if not path.is_file() or path.is_symlink():
            continue
        hits.extend(f"{path}: {label}" for label in needles.search(path.read_bytes()))
    return hits


def scan_text(name: str, text: str, needles: Needles) -> list[str]:
    return [f"{name}: {label}" for label in needles.search(text.encode("utf-8", errors="surrogateescape"))]


def scan_warehouse(warehouse: Path, ids: Iterable[str]) -> list[str]:
    """Every value of every table and view, read back through DuckDB as text: the file is
    compressed, so a byte scan alone could miss an id stored in a compressed block."""
    needles = needles_for(ids)
    hits = []
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "select table_schema || '.' || table_name from information_schema.tables "
                "where table_schema not in ('information_schema', 'pg_catalog') order by 1"
            ).fetchall()
        ]
        for table in tables:
            cols = _columns(con, table)
            if not cols:
                continue
            text = " || chr(31) || ".join(f"coalesce(cast(\"{c}\" as varchar), '')" for c in cols)
            values = "\x1e".join(r[0] for r in con.execute(f"select {text} from {table}").fetchall())
            hits.extend(f"{warehouse.name}:{table}: {label}" for label in needles.search(values.encode("utf-8")))
    finally:
        con.close()
    return hits


class CapturingHandler(logging.Handler):
    """Keeps every log record of a run, formatted with its arguments and traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.records.append(self.format(record))
        except Exception as exc:  # a record that cannot be formatted is itself a finding
            self.records.append(f"UNFORMATTABLE {record.name}: {exc!r}")

    @property
    def text(self) -> str:
        return "\n".join(self.records)


def capture_logging() -> tuple[CapturingHandler, Callable[[], None]]:
    """Attach a DEBUG handler to the root logger; returns it and a function to detach it."""
    handler = CapturingHandler()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    quiet = {name: logging.getLogger(name).level for name in ("great_expectations", "matplotlib", "PIL")}

    def detach() -> None:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)

    return handler, detach


def run_outputs(root: Path) -> list[Path]:
    """Every file a run produced: warehouse (+ WAL), run files, validation results, pages,
    data docs and exports. The landing folder (the producer's own files) and the
    declarations are left out."""
    skip = [(root / "data" / "landing").resolve(), (root / "sources").resolve()]
    return sorted(
        p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and not any(p.resolve().is_relative_to(s) for s in skip)
    )


#: What a write replaces as a whole: a (source, day) of raw.* and ops.quarantine, a day of
#: the daily models, a period of the roll-up marts.
PARTITION_KEYS = ("source", "service_date", "period_grain", "period_start")


def partitions(warehouse: Path, tables: Iterable[str] | None = None) -> dict[tuple[str, ...], list[tuple]]:
    """Rows per partition (PARTITION_KEYS present in the table). A crash may leave a
    partition absent, never half there."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        wanted = set(tables) if tables is not None else None
        out: dict[tuple[str, ...], list[tuple]] = {}
        for table in _tables(con):
            if wanted is not None and table not in wanted:
                continue
            cols = [c for c in _columns(con, table) if c not in LOAD_TIME_COLUMNS]
            keys = [cols.index(k) for k in PARTITION_KEYS if k in cols]
            select = ", ".join(f'"{c}"' for c in cols)
            for row in con.execute(f"select {select} from {table} order by all").fetchall():
                out.setdefault((table, *(str(row[i]) for i in keys)), []).append(row)
        return out
    finally:
        con.close()


def torn_partitions(current: dict[tuple[str, ...], list[tuple]], reference: dict[tuple[str, ...], list[tuple]]) -> list[str]:
    """Partitions present after a crash that differ from the uninterrupted run's."""
    problems = []
    for key, rows in sorted(current.items()):
        expected = reference.get(key)
        if expected is None:
            problems.append(f"{key}: {len(rows)} rows that the uninterrupted run does not have")
        elif rows != expected:
            problems.append(f"{key}: {len(rows)} rows, the uninterrupted run has {len(expected)} (or other values)")
    return problems


# --------------------------------------------------------------------------- contention

LOCK_ERRORS = ("Conflicting lock", "Could not set lock", "database is locked", "IOException", "Traceback")
WAITED = "warehouse locked by another process; retrying"


def _start(root: Path, log: Path, *args: str, **env: str) -> subprocess.Popen:
    with log.open("w") as handle:  # the child keeps its own descriptor
        return subprocess.Popen(
            [PYTHON, "-m", "flowlib", *args],
            cwd=PROJECT_ROOT,
            env=flow_env(root, **env),
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )


def _wait_for(paths: list[Path], text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(p.exists() and text in p.read_text(errors="replace") for p in paths):
            return True
        time.sleep(0.1)
    return False


def run_contention(root: Path) -> dict:
    """Two ingest processes of different sources (and one with a 1 s lock timeout) start
    while this process holds the warehouse write lock; released once both have logged that
    they wait. Returns exit codes, logs and whether both met the lock."""
    warehouse = root / "data" / "warehouse.duckdb"
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    logs = {name: root / f"{name}.log" for name in ("entry_pos_a", "survey_web", "impatient")}
    holder = duckdb.connect(str(warehouse))  # hold the write lock first
    try:
        day = ("--first", DEMO_DATES[0], "--last", DEMO_DATES[0])
        procs = {
            "entry_pos_a": _start(root, logs["entry_pos_a"], "ingest", "entry_pos_a", *day),
            "survey_web": _start(root, logs["survey_web"], "ingest", "survey_web", *day),
            "impatient": _start(root, logs["impatient"], "ingest", "wifi_vendor_a", *day, FLOW_LOCK_TIMEOUT_SECONDS="1"),
        }
        both_waited = _wait_for([logs["entry_pos_a"], logs["survey_web"]], WAITED, timeout=180)
        procs["impatient"].wait(timeout=180)  # gives up while the lock is still held
    finally:
        holder.close()
    codes = {name: proc.wait(timeout=600) for name, proc in procs.items()}
    return {
        "root": root,
        "codes": codes,
        "both_waited": both_waited,
        "logs": {name: path.read_text(errors="replace") for name, path in logs.items()},
    }


def demo_card_ids(root, limit: int = 300) -> set[str]:
    """Card ids the demo generator wrote (read without the project's parsers)."""
    import csv
    import io

    ids: set[str] = set()
    for path in sorted((root / "data" / "landing" / "entry_log").rglob("*.csv")):
        data = path.read_bytes()
        text = data.decode("utf-8-sig") if "pos_b" in path.parts else data.decode("cp932")
        for row in csv.DictReader(io.StringIO(text)):
            value = row.get("カードID") or row.get("カード番号")
            if value and value.isdigit():
                ids.add(value)
    return set(sorted(ids)[:limit])
