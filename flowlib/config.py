"""One place for configuration: read from the environment, with safe demo defaults.

Everything that differs between a laptop demo, CI and the city's production stack is an
environment variable here; nothing else in the code reads ``os.environ`` for settings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import TypeVar

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Used only when FLOW_DEMO_MODE is on; production must set FLOW_HMAC_KEY.
DEMO_HMAC_KEY = "nagasaki-tourism-flow-demo-key-not-for-production"
#: Outside demo mode a key shorter than this (in UTF-8 bytes) is refused: HMAC-SHA-256
#: pseudonyms of short card numbers are only as hard to reverse as the key is to guess.
MIN_HMAC_KEY_BYTES = 32
#: DuckDB sizes such as 4GB, 512MiB, 1.5GB or 80% (settings are checked, never spliced raw).
_MEMORY_LIMIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)\s*$", re.IGNORECASE)
#: FLOW_SELF_TRANSITIONS: what a visit to the same facility later in the day is (the first is the default).
SELF_TRANSITION_RULES = ("revisit", "keep")

T = TypeVar("T")


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message says which and what to do."""


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_number(name: str, default: T, parse: Callable[[str], T], what: str) -> T:
    """A numeric setting; a value `parse` refuses is named, with an example, not ignored."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not {what}; set it to e.g. {default}.") from exc


def _env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "a whole number")


def _env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def _env_switch(name: str, default: bool) -> bool:
    """An on/off setting; anything else is refused rather than read as off."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is neither on nor off; set it to on or off.")


def _service_day_start() -> time:
    hour = _env_int("FLOW_SERVICE_DAY_START_HOUR", 4)
    if not 0 <= hour <= 23:
        raise ConfigError(f"FLOW_SERVICE_DAY_START_HOUR={hour} is not an hour of the day (0-23).")
    return time(hour)


def _env_date(name: str) -> date | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a date (YYYY-MM-DD).") from None


def _env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


@dataclass(frozen=True)
class Settings:
    """The pipeline's settings, resolved once per process from the environment."""

    project_root: Path = PROJECT_ROOT
    data_dir: Path = field(default_factory=lambda: _env_path("FLOW_DATA_DIR", PROJECT_ROOT / "data"))
    landing_dir: Path = field(default=None)  # type: ignore[assignment]
    warehouse_path: Path = field(default=None)  # type: ignore[assignment]
    dashboards_dir: Path = field(default_factory=lambda: _env_path("FLOW_DASHBOARDS_DIR", PROJECT_ROOT / "dashboards"))
    geo_dir: Path = field(default_factory=lambda: _env_path("FLOW_GEO_DIR", PROJECT_ROOT / "geo"))
    sql_dir: Path = PROJECT_ROOT / "sql"
    sources_dir: Path = field(default_factory=lambda: _env_path("FLOW_SOURCES_DIR", PROJECT_ROOT / "sources"))
    expectations_dir: Path = PROJECT_ROOT / "expectations"
    #: The satisfaction indicator's definition (item, labels, plan baseline / target): another
    #: survey's item is another YAML file, not an edit of config/indicator.yaml.
    indicator_file: Path = field(
        default_factory=lambda: _env_path("FLOW_INDICATOR_FILE", PROJECT_ROOT / "config" / "indicator.yaml")
    )
    demo_mode: bool = field(default_factory=lambda: _env_bool("FLOW_DEMO_MODE", True))
    hmac_key_env: str | None = field(default_factory=lambda: os.environ.get("FLOW_HMAC_KEY"))
    #: k-anonymity threshold: published cells counting fewer distinct ids are suppressed.
    min_cell_count: int = field(default_factory=lambda: _env_int("FLOW_MIN_CELL_COUNT", 10))
    #: The tourism day runs 04:00-04:00 JST so that late dinners belong to the same day.
    service_day_start: time = field(default_factory=lambda: _service_day_start())
    #: A gap longer than this between two entries starts a new trip.
    trip_max_gap_minutes: int = field(default_factory=lambda: _env_int("FLOW_TRIP_MAX_GAP_MINUTES", 240))
    #: A re-entry at the same facility within this gap is the same stop.
    reentry_gap_minutes: int = field(default_factory=lambda: _env_int("FLOW_REENTRY_GAP_MINUTES", 30))
    #: Sensor detections further apart than this start a new stay.
    sensor_stay_gap_minutes: int = field(default_factory=lambda: _env_int("FLOW_SENSOR_STAY_GAP_MINUTES", 30))
    #: A device a sensor sees on at least this many of the trailing window's service days is
    #: resident (staff phone, fixed equipment), not a visitor, on that day.
    sensor_resident_min_days: int = field(default_factory=lambda: _env_int("FLOW_SENSOR_RESIDENT_MIN_DAYS", 10))
    sensor_resident_window_days: int = field(default_factory=lambda: _env_int("FLOW_SENSOR_RESIDENT_WINDOW_DAYS", 28))
    #: Off: no sensor device is resident, every stay counts as a visitor's. On real feeds the
    #: rule can flag most stays (73 % of the Kanazawa stays), so its share is on the index's
    #: data-quality section and a city whose sensors see no staff can switch it off.
    resident_device_rule: bool = field(default_factory=lambda: _env_switch("FLOW_RESIDENT_DEVICE_RULE", True))
    #: A visit to the same facility later in the day (after the re-entry gap): 'revisit'
    #: counts it as a revisit and leaves the A -> A move out of transitions and routes (as
    #: scikit-mobility and the Hokuriku publisher do); 'keep' keeps it as a move (the rule
    #: before issue 15). docs/routes.md, "Self-transitions".
    self_transitions: str = field(default_factory=lambda: os.environ.get("FLOW_SELF_TRANSITIONS") or "revisit")
    #: Quartiles of a night's day cells are read off each cell's sorted minutes, held in
    #: memory, when the days being built hold at most this many stops (sensor stays and card
    #: stops); above it, and for weeks, months and years, off a histogram, which spills
    #: (sql/macros/quartiles.sql, minute_quartiles). Both give the same numbers.
    quartile_memory_stops: int = field(default_factory=lambda: _env_int("FLOW_QUARTILE_MEMORY_STOPS", 5_000_000))
    #: The stops of the days being built are computed in batches of visitors of at most this
    #: many events (card taps and visitors' sensor stays), split by a hash of the visitor id:
    #: a batch's stops are collected in memory (as two parts computed side by side), so that
    #: their columns are computed and written on every core, and a batch must fit in memory
    #: (sql/intermediate/int_stop_rows.sql; docs/routes.md, "Speed"). Any size gives the same
    #: rows.
    stop_batch_events: int = field(default_factory=lambda: _env_int("FLOW_STOP_BATCH_EVENTS", 5_000_000))
    duckdb_memory_limit: str = field(default_factory=lambda: os.environ.get("FLOW_DUCKDB_MEMORY_LIMIT") or "4GB")
    duckdb_threads: int = field(default_factory=lambda: _env_int("FLOW_DUCKDB_THREADS", 2))
    #: Seconds a writer waits for the warehouse file lock before giving up.
    lock_timeout_seconds: int = field(default_factory=lambda: _env_int("FLOW_LOCK_TIMEOUT_SECONDS", 600))
    webhook_url: str | None = field(default_factory=lambda: os.environ.get("FLOW_ALERT_WEBHOOK_URL") or None)
    #: A re-delivery leaving fewer than this share of a source-day's loaded rows is refused
    #: unless the operator allows the shrink (docs/reliability.md, "Shrinking re-deliveries").
    min_reload_share: float = field(default_factory=lambda: _env_float("FLOW_MIN_RELOAD_SHARE", 0.5))
    #: Largest delivered file (MB) read at all; bigger files are refused before parsing. Ingest
    #: holds one chunk of FLOW_INGEST_CHUNK_ROWS records in Python and stages the rest in DuckDB
    #: under FLOW_INGEST_MEMORY_LIMIT (docs/reliability.md, "Bounded resources"), so memory no
    #: longer grows with the file: 250 MB covers a 200 MB / 3 M-row POS export with room to
    #: spare; a declaration may set its own max_file_mb.
    max_file_mb: int = field(default_factory=lambda: _env_int("FLOW_MAX_FILE_MB", 250))
    #: The same for JSON and JSON Lines deliveries. Their records are read a chunk at a time,
    #: but their text is held whole (about twice the file at peak, while it is decoded): a
    #: 317 MB Wi-Fi export of 3 M records peaked at 981 MiB (median of 3), so 250 MB keeps them under 1 GB.
    max_json_file_mb: int = field(default_factory=lambda: _env_int("FLOW_MAX_JSON_FILE_MB", 250))
    #: Processes the open-data audit solves its relation components in (flowlib/disclosure_audit.py).
    audit_workers: int = field(default_factory=lambda: _env_int("FLOW_AUDIT_WORKERS", min(os.cpu_count() or 1, 4)))
    #: Records converted at a time (docs/reliability.md, "Bounded resources"): a delivery's
    #: per-record Python objects exist for one chunk only.
    ingest_chunk_rows: int = field(default_factory=lambda: _env_int("FLOW_INGEST_CHUNK_ROWS", 50_000))
    #: The same for a plain CSV file, which Arrow's reader reads (flowlib.parsing._arrow_chunks):
    #: its chunks hold Arrow arrays, no Python object per record, so they can be larger, and
    #: each chunk costs its conversion and staging a fixed overhead. A 3 M-row POS export in
    #: chunks of 200,000: 19.1 s against 21.7 s in chunks of 50,000, the same peak (904-924
    #: against 899-922 MiB; medians of 4 alternating loads, 7 December 23:51-23:59 UTC, docs/reliability.md).
    ingest_arrow_chunk_rows: int = field(default_factory=lambda: _env_int("FLOW_INGEST_ARROW_CHUNK_ROWS", 200_000))
    #: Staged rows Great Expectations validates at a time: a chunk is a pandas frame of the
    #: canonical columns, and each GX run costs about 0.1 s on top of its rows. GX's copies
    #: of a chunk's columns weigh: at 3 M entry rows, 250k a chunk peaked 954 MiB and 125k
    #: 858 MiB (one run each), against the 1 GB an ingest may use.
    validation_chunk_rows: int = field(default_factory=lambda: _env_int("FLOW_VALIDATION_CHUNK_ROWS", 200_000))
    #: DuckDB memory while a delivery is staged and checked (the rest spills to temp_dir): with
    #: one chunk in Python, what bounds an ingest's peak whatever the file's size.
    ingest_memory_limit: str = field(default_factory=lambda: os.environ.get("FLOW_INGEST_MEMORY_LIMIT") or "128MB")
    #: DuckDB memory while the checked rows are written to the warehouse: Python holds no
    #: chunk by then, so the process's peak (Great Expectations on a validation chunk, just
    #: before) allows more, and under 128MB the write spilled and read back the staged rows
    #: (3 M rows, single runs: 5.2 s at 128MB, 4.0 s at 256MB; the peak 809 against 826 MiB).
    ingest_write_memory_limit: str = field(default_factory=lambda: os.environ.get("FLOW_INGEST_WRITE_MEMORY_LIMIT") or "256MB")
    #: Nightly warehouse backups kept in data/backups (the oldest beyond this are removed).
    backups_kept: int = field(default_factory=lambda: _env_int("FLOW_BACKUPS_KEPT", 7))
    #: The first service day the city publishes open data for (unset: every day in the
    #: warehouse). Days before it stay in the warehouse (forecast training, KPI path, pages)
    #: and are never in a published file; a week, month or fiscal year is published when it
    #: ends on or after it (docs/privacy.md, "What is published").
    open_data_first: date | None = field(default_factory=lambda: _env_date("FLOW_OPEN_DATA_FIRST"))
    #: How many days back the catch-up run looks for late or corrected deliveries.
    catchup_lookback_days: int = field(default_factory=lambda: _env_int("FLOW_CATCHUP_LOOKBACK_DAYS", 14))

    def __post_init__(self) -> None:
        if self.landing_dir is None:
            object.__setattr__(self, "landing_dir", _env_path("FLOW_LANDING_DIR", self.data_dir / "landing"))
        if self.warehouse_path is None:
            object.__setattr__(self, "warehouse_path", _env_path("FLOW_WAREHOUSE", self.data_dir / "warehouse.duckdb"))
        if self.min_cell_count < 1:
            raise ConfigError("FLOW_MIN_CELL_COUNT must be at least 1.")
        for name, value, least in (
            ("FLOW_TRIP_MAX_GAP_MINUTES", self.trip_max_gap_minutes, 1),
            ("FLOW_REENTRY_GAP_MINUTES", self.reentry_gap_minutes, 0),
            ("FLOW_SENSOR_STAY_GAP_MINUTES", self.sensor_stay_gap_minutes, 0),
            ("FLOW_SENSOR_RESIDENT_MIN_DAYS", self.sensor_resident_min_days, 1),
            ("FLOW_AUDIT_WORKERS", self.audit_workers, 1),
            ("FLOW_STOP_BATCH_EVENTS", self.stop_batch_events, 1),
        ):
            if value < least:
                raise ConfigError(f"{name}={value} must be at least {least}.")
        if not _MEMORY_LIMIT.match(self.duckdb_memory_limit):
            raise ConfigError(
                f"FLOW_DUCKDB_MEMORY_LIMIT={self.duckdb_memory_limit!r} is not a size: set it to e.g. 4GB, 512MB or 80%."
            )
        for name, value in (
            ("FLOW_INGEST_MEMORY_LIMIT", self.ingest_memory_limit),
            ("FLOW_INGEST_WRITE_MEMORY_LIMIT", self.ingest_write_memory_limit),
        ):
            if not _MEMORY_LIMIT.match(value):
                raise ConfigError(f"{name}={value!r} is not a size: set it to e.g. 256MB or 1GB.")
        if not 1 <= self.duckdb_threads <= 256:
            raise ConfigError(f"FLOW_DUCKDB_THREADS={self.duckdb_threads} must be between 1 and 256.")
        if not 0.0 <= self.min_reload_share <= 1.0:
            raise ConfigError(
                f"FLOW_MIN_RELOAD_SHARE={self.min_reload_share} must be between 0 and 1 "
                "(e.g. 0.5: refuse a re-delivery that keeps less than half of the loaded rows)."
            )
        if self.max_file_mb < 1:
            raise ConfigError(f"FLOW_MAX_FILE_MB={self.max_file_mb} must be at least 1.")
        if self.max_json_file_mb < 1:
            raise ConfigError(f"FLOW_MAX_JSON_FILE_MB={self.max_json_file_mb} must be at least 1.")
        if self.ingest_chunk_rows < 1:
            raise ConfigError(f"FLOW_INGEST_CHUNK_ROWS={self.ingest_chunk_rows} must be at least 1.")
        if self.ingest_arrow_chunk_rows < 1:
            raise ConfigError(f"FLOW_INGEST_ARROW_CHUNK_ROWS={self.ingest_arrow_chunk_rows} must be at least 1.")
        if self.validation_chunk_rows < 1:
            raise ConfigError(f"FLOW_VALIDATION_CHUNK_ROWS={self.validation_chunk_rows} must be at least 1.")
        if self.backups_kept < 1:
            raise ConfigError(f"FLOW_BACKUPS_KEPT={self.backups_kept} must be at least 1.")
        if self.sensor_resident_window_days < self.sensor_resident_min_days:
            raise ConfigError(
                f"FLOW_SENSOR_RESIDENT_WINDOW_DAYS={self.sensor_resident_window_days} must be at least "
                f"FLOW_SENSOR_RESIDENT_MIN_DAYS={self.sensor_resident_min_days}."
            )
        if self.self_transitions not in SELF_TRANSITION_RULES:
            raise ConfigError(
                f"FLOW_SELF_TRANSITIONS={self.self_transitions!r} must be one of {', '.join(SELF_TRANSITION_RULES)}."
            )
        if self.catchup_lookback_days < 1:
            raise ConfigError(f"FLOW_CATCHUP_LOOKBACK_DAYS={self.catchup_lookback_days} must be at least 1.")

    @property
    def hmac_key(self) -> bytes:
        """The pseudonymisation key; outside demo mode refuses the public demo key, an empty
        or blank key and any key under MIN_HMAC_KEY_BYTES (docs/operations.md)."""
        if self.demo_mode:
            if self.hmac_key_env and self.hmac_key_env.strip():
                return self.hmac_key_env.encode("utf-8")
            return DEMO_HMAC_KEY.encode("utf-8")
        key = self.hmac_key_env
        if key is None or not key.strip():
            raise ConfigError(
                f"FLOW_HMAC_KEY is {'not set' if key is None else 'empty or blank'} and FLOW_DEMO_MODE is off: "
                "set FLOW_HMAC_KEY to the city's secret pseudonymisation key (e.g. `openssl rand -hex 32`, "
                "see docs/operations.md) and run again."
            )
        if key.strip() == DEMO_HMAC_KEY:
            raise ConfigError(
                "FLOW_HMAC_KEY is the public demo key and FLOW_DEMO_MODE is off: anyone could "
                "re-identify the pseudonyms; set the city's secret key (docs/operations.md)."
            )
        if len(key.encode("utf-8")) < MIN_HMAC_KEY_BYTES:
            raise ConfigError(
                f"FLOW_HMAC_KEY is {len(key.encode('utf-8'))} bytes long and FLOW_DEMO_MODE is off: "
                f"use a key of at least {MIN_HMAC_KEY_BYTES} bytes (`openssl rand -hex 32` gives 64)."
            )
        return key.encode("utf-8")

    @property
    def temp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @property
    def backups_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def audit_verdicts_dir(self) -> Path:
        """Passed disclosure audits by digest of the files they audited (flowlib.audit_verdicts)."""
        return self.data_dir / "audit_verdicts"

    @property
    def open_data_state_file(self) -> Path:
        """What the published open-data set was written from (flowlib.opendata)."""
        return self.data_dir / "open_data_published.json"

    @property
    def pages_state_file(self) -> Path:
        """What the pages were last written from (flowlib.pipeline.publish_dashboards)."""
        return self.data_dir / "pages_published.json"


def get_settings() -> Settings:
    """Settings from the current environment (not cached: tests change the environment)."""
    return Settings()
