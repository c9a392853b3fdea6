"""Runs the SQL models in ``sql/`` (staging → intermediate → marts) inside DuckDB.

Each model is one file holding one ``select`` (a CTE pipeline). A header line says how
it is materialised:

``view``
    staging: rename and cast.
``daily``
    a table keyed by ``service_date`` whose days are replaced in place. A model that reads
    ``getvariable('first_service_date')`` / ``getvariable('last_service_date')`` is built
    for a whole range of days in one statement; one that reads
    ``getvariable('service_date')`` is built day by day. One that reads
    ``getvariable('visitor_batches')`` keeps only the visitors whose id hashes to
    ``getvariable('visitor_batch')`` modulo that number, and the runner builds it in as many
    batches of visitors as ``FLOW_STOP_BATCH_EVENTS`` asks for the days' events
    (``int_stop_rows``, which holds a batch's stops in memory and computes each batch as two
    parts side by side; the same rows in any number of batches).
``rollup``
    a table keyed by ``period_grain`` (``day``, ``iso_week``, ``month``, ``fiscal_year``)
    and ``period_start``. The model reads the days ``getvariable('period_first_day')`` ..
    ``getvariable('period_last_day')`` and groups them into the periods of
    ``getvariable('period_grain')`` (via ``ref.calendar_periods``). Building a day rebuilds
    the day and every week, month and fiscal year containing it that is complete, i.e.
    whose last day has been built (so no half period is ever published: a half period
    minus the days already published would give back the newest day).

``-- depends_on:`` lines order models inside a layer. Privacy headers (``-- keys:``,
``-- counts:``, ``-- suppress:``, ``-- margin:``, ``-- additive:``, ``-- share:``,
``-- rank:``; see ``flowlib.privacy``) make the runner stage the model's output and apply
secondary suppression before the rows are published. Run parameters reach the SQL as
DuckDB variables (``getvariable('...')``), so the files stay plain SQL that can be pasted
into a DuckDB shell after a few ``set variable`` lines (and, for the marts, after
``sql/macros/*.sql``, the steps they share as DuckDB macros, which this module creates on
the build connection). The runner's own queries (build log, table shapes, row checks) are
named files in ``sql/runner/``; what stays in Python is the SQL it composes around a
model (``create table ... as``, ``insert into ... <model>``, ``delete ... where``) and the
``set variable`` lines.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb

from flowlib.calendar import GRAINS, ensure_calendar
from flowlib.config import Settings, get_settings
from flowlib.privacy import FLAG_COLUMNS, PrivacySpec, PrivacySpecError, protect
from flowlib.visitor_ids import VisitorIdCollision, store_visitor_ids
from flowlib.warehouse import transaction

log = logging.getLogger(__name__)
LAYERS = ("staging", "intermediate", "marts")
MATERIALIZATIONS = ("view", "daily", "rollup")
_HEADER = re.compile(
    r"^--\s*(materialized|depends_on|keys|counts|suppress|margin|additive|share|rank):\s*(.+?)\s*$",
    re.MULTILINE,
)
_RANGED = re.compile(r"getvariable\(\s*'(first|last)_service_date'\s*\)")
_BATCHED = re.compile(r"getvariable\(\s*'visitor_batches'\s*\)")
_STAGE = "__flow_stage"
#: The runner's own queries (build log, table shapes, row checks), one named file each.
#: They belong to this module, not to the models, so they are read from the project even
#: when Settings.sql_dir points at another set of models.
RUNNER_SQL = Path(__file__).resolve().parents[1] / "sql" / "runner"


class ModelError(RuntimeError):
    """A model failed; the message names the model file."""


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    path: Path
    materialized: str
    depends_on: tuple[str, ...]
    sql: str
    privacy: PrivacySpec | None = None

    @property
    def relation(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def ranged(self) -> bool:
        """True when the model builds a range of days in one statement."""
        return bool(_RANGED.search(self.sql))

    @property
    def batched(self) -> bool:
        """True when the model is built in batches of visitors (``visitor_batches``)."""
        return bool(_BATCHED.search(self.sql))


def _headers(text: str) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for key, value in _HEADER.findall(text):
        headers.setdefault(key, []).append(value)
    return headers


def discover(sql_dir: Path | None = None) -> list[Model]:
    """All models in dependency order (layers first, then declared dependencies)."""
    sql_dir = sql_dir or get_settings().sql_dir
    models: dict[str, Model] = {}
    for layer in LAYERS:
        for path in sorted((sql_dir / layer).glob("*.sql")):
            text = path.read_text(encoding="utf-8")
            headers = _headers(text)
            materialized = (headers.get("materialized") or ["view"])[0].strip()
            if materialized not in MATERIALIZATIONS:
                raise ModelError(f"{path}: materialized must be one of {', '.join(MATERIALIZATIONS)}, not {materialized}.")
            depends_on = tuple(v.strip() for line in headers.get("depends_on", []) for v in line.split(",") if v.strip())
            try:
                privacy = PrivacySpec.from_headers(headers, str(path))
            except PrivacySpecError as exc:
                raise ModelError(str(exc)) from exc
            model = Model(path.stem, layer, path, materialized, depends_on, text.strip().rstrip(";"), privacy)
            if model.batched and (materialized != "daily" or privacy is not None):
                # a protected or rolled-up model must see every visitor of a cell at once
                raise ModelError(f"{path}: only a daily model without privacy headers can be built in batches of visitors.")
            models[path.stem] = model
    graph = {}
    for model in models.values():
        unknown = [d for d in model.depends_on if d not in models]
        if unknown:
            raise ModelError(f"{model.path}: depends on unknown model(s) {unknown}.")
        layer_rank = LAYERS.index(model.layer)
        earlier = [m.name for m in models.values() if LAYERS.index(m.layer) < layer_rank]
        graph[model.name] = set(model.depends_on) | set(earlier)
    return [models[name] for name in TopologicalSorter(graph).static_order()]


def dependants(models: Collection[Model], relations: Collection[str]) -> set[str]:
    """``relations`` (``layer.name``) and every model that reads one of them, directly or
    through other models: what must be rebuilt when their rows change (the settlement's
    rounds rebuild these marts only). A model reads what its ``depends_on`` lines name and
    every other model its SQL names as ``layer.name``, declared or not."""
    by_name = {model.name: model for model in models}
    reads = {
        model.relation: {by_name[name].relation for name in model.depends_on}
        | {other.relation for other in models if other is not model and re.search(rf"\b{re.escape(other.relation)}\b", model.sql)}
        for model in models
    }
    found = set(relations)
    grew = True
    while grew:
        more = {relation for relation, inputs in reads.items() if relation not in found and inputs & found}
        found |= more
        grew = bool(more)
    return found


def set_parameters(
    con: duckdb.DuckDBPyConnection, settings: Settings, service_date: date | None, last_service_date: date | None = None
) -> None:
    params = {
        "reentry_gap_minutes": settings.reentry_gap_minutes,
        "trip_max_gap_minutes": settings.trip_max_gap_minutes,
        "sensor_stay_gap_minutes": settings.sensor_stay_gap_minutes,
        "min_cell_count": settings.min_cell_count,
        "service_day_start_hour": settings.service_day_start.hour,
        "sensor_resident_min_days": settings.sensor_resident_min_days,
        "sensor_resident_window_days": settings.sensor_resident_window_days,
        "resident_device_rule": settings.resident_device_rule,
        # how far apart two visits to one facility may be and still be one stop: the
        # re-entry gap, or under the revisit rule the trip gap (a return is a revisit)
        "same_facility_gap_minutes": settings.reentry_gap_minutes
        if settings.self_transitions == "keep"
        else max(settings.reentry_gap_minutes, settings.trip_max_gap_minutes),
    }
    for name, value in params.items():
        con.execute(f"set variable {name} = {int(value)}")
    _set_batch(con, 0, 1)
    if service_date is not None:
        last = last_service_date or service_date
        _set_dates(con, service_date=service_date, first_service_date=service_date, last_service_date=last)


def _set_batch(con: duckdb.DuckDBPyConnection, batch: int, batches: int) -> None:
    """Which of ``batches`` batches of visitors a batched model builds (all: batch 0 of 1)."""
    con.execute(f"set variable visitor_batches = {int(batches)}")
    con.execute(f"set variable visitor_batch = {int(batch)}")


def load_macros(con: duckdb.DuckDBPyConnection, sql_dir: Path) -> None:
    """Create the macros in ``sql/macros/`` (steps the models share) on this connection."""
    for path in sorted((sql_dir / "macros").glob("*.sql")):
        con.execute(path.read_text(encoding="utf-8"))


def _set_dates(con: duckdb.DuckDBPyConnection, **values: date) -> None:
    for name, value in values.items():
        con.execute(f"set variable {name} = date '{value.isoformat()}'")


@cache
def runner_sql(name: str) -> str:
    """The runner's query ``sql/runner/<name>.sql``."""
    return (RUNNER_SQL / f"{name}.sql").read_text(encoding="utf-8")


def _table_columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]] | None:
    rows = con.execute(runner_sql("table_columns"), relation.split(".")).fetchall()
    return rows or None


def _ensure_table(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    """Create the table from the model's shape; rebuild it if the model's columns changed."""
    probe = f"select * from ({model.sql}) limit 0"
    shape = con.execute(f"describe {probe}").fetchall()
    wanted = [(row[0], row[1]) for row in shape]
    if model.privacy and not set(FLAG_COLUMNS) <= {name for name, _ in wanted}:
        raise ModelError(f"{model.path}: a model with privacy headers must output {', '.join(FLAG_COLUMNS)}.")
    existing = _table_columns(con, model.relation)
    if existing is not None and existing != wanted:
        log.warning("%s changed shape; dropping it (every day must be rebuilt)", model.relation)
        con.execute(f"drop table {model.relation}")
        existing = None
    if existing is None:
        con.execute(f"create table {model.relation} as {probe}")


def _publish(
    con: duckdb.DuckDBPyConnection,
    model: Model,
    settings: Settings,
    delete_where: str,
    rollup: bool = False,
    ensured: set[str] | None = None,
    batches: int = 1,
) -> None:
    """Replace the rows matching ``delete_where`` with the model's output, suppressed if needed
    (a batched model's output inserted batch by batch)."""
    if ensured is None or model.relation not in ensured:
        _ensure_table(con, model)
        if ensured is not None:
            ensured.add(model.relation)
    if model.privacy is None:
        con.execute(f"delete from {model.relation} where {delete_where}")
        for batch in range(batches):
            _set_batch(con, batch, batches)
            con.execute(f"insert into {model.relation} {model.sql}")
        # back to one batch of everybody (set_parameters starts every build from it: after a
        # failed statement the transaction takes no more commands, not even this one)
        _set_batch(con, 0, 1)
        return
    # the row id from DuckDB's rowid, added after: row_number() over () is a window, which
    # made the last pipeline of every protected mart's query run in one thread
    con.execute(f"create or replace temp table {_STAGE} as select * from ({model.sql})")
    con.execute(f"alter table {_STAGE} add column __rid bigint")
    con.execute(f"update {_STAGE} set __rid = rowid")
    try:
        protect(con, _STAGE, model.privacy, settings.min_cell_count, mart=model.relation, rollup=rollup)
        con.execute(f"delete from {model.relation} where {delete_where}")
        con.execute(f"insert into {model.relation} by name select * exclude (__rid) from {_STAGE}")
    finally:
        con.execute(f"drop table if exists {_STAGE}")


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _log_built_days(con: duckdb.DuckDBPyConnection) -> date:
    """Record the days being built; returns the latest day ever built (completes periods)."""
    return con.execute(runner_sql("log_built_days")).fetchone()[0]


def _periods(con: duckdb.DuckDBPyConnection, grain: str, built_through: date) -> list[tuple[date, date]]:
    """Periods of ``grain`` touching the days being built whose last day has been built."""
    return con.execute(runner_sql("complete_periods"), [grain, built_through]).fetchall()


def _build_rollup(
    con: duckdb.DuckDBPyConnection, model: Model, settings: Settings, periods_by_grain: dict[str, list[tuple[date, date]]]
) -> int:
    rows = 0
    ensured: set[str] = set()
    for grain in GRAINS:
        periods = periods_by_grain[grain]
        if not periods:
            continue
        con.execute(f"set variable period_grain = '{grain}'")
        _set_dates(con, period_first_day=periods[0][0], period_last_day=periods[-1][1])
        # every grain: a week or a month of few stops sorts its cells' minutes in a list too
        # (the week of one 2 M-tap day: transitions_by_period 8.0 s on the histogram, 3.7 s in
        # lists; the same cells)
        in_memory = _stops_in_days(con, periods[0][0], periods[-1][1]) <= settings.quartile_memory_stops
        con.execute(f"set variable quartiles_in_memory = {in_memory}")
        starts = ", ".join(f"date '{start.isoformat()}'" for start, _ in periods)
        where = f"period_grain = '{grain}' and period_start in ({starts})"
        _publish(con, model, settings, where, rollup=grain != "day", ensured=ensured)
        rows += con.execute(runner_sql("count_periods"), [model.relation, grain, [s for s, _ in periods]]).fetchone()[0]
    return rows


def _stops_in_days(con: duckdb.DuckDBPyConnection, first: date, last: date) -> int:
    """Stops built for ``first``..``last``; the quartiles of the cells of periods holding at
    most ``FLOW_QUARTILE_MEMORY_STOPS`` of them are sorted in memory, else read off a
    histogram that spills."""
    if _relation_kind(con, "intermediate.int_stop_rows") is None:
        return 0
    return int(con.execute(runner_sql("stops_in_days"), [first, last]).fetchone()[0])


def visitor_batches(con: duckdb.DuckDBPyConnection, settings: Settings, first: date, last: date) -> int:
    """In how many batches of visitors the stops of ``first``..``last`` are built: batches of
    at most ``FLOW_STOP_BATCH_EVENTS`` events (card taps and visitors' sensor stays)."""
    events = int(con.execute(runner_sql("events_in_days"), [first, last]).fetchone()[0])
    return max(1, -(-events // settings.stop_batch_events))


def _relation_kind(con: duckdb.DuckDBPyConnection, relation: str) -> str | None:
    row = con.execute(runner_sql("relation_kind"), relation.split(".")).fetchone()
    return row[0] if row else None


def _create_view(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    if _relation_kind(con, model.relation) == "BASE TABLE":
        # the model was a table in an earlier version of this project
        con.execute(f"drop table {model.relation}")
    con.execute(f"create or replace view {model.relation} as {model.sql}")


def build_views(con: duckdb.DuckDBPyConnection, settings: Settings | None = None) -> None:
    """Create every view whose inputs exist; views over built tables follow in build_range."""
    settings = settings or get_settings()
    models = discover(settings.sql_dir)
    relations = {model.name: model.relation for model in models}
    with transaction(con):
        for model in models:
            if model.materialized != "view":
                continue
            if all(_relation_kind(con, relations[name]) for name in model.depends_on):
                _create_view(con, model)


def build_range(
    con: duckdb.DuckDBPyConnection,
    first: date,
    last: date,
    settings: Settings | None = None,
    *,
    only: Collection[str] | None = None,
) -> dict[str, int]:
    """Rebuild every model for the service days ``first``..``last`` in one transaction.

    Ranged models run once over the whole range (a backfill of a month is one pass), the
    others day by day; roll-ups rebuild the days and the complete periods containing them.
    ``only`` restricts the run to the named models (their inputs must be built already).
    Returns rows per model for the range.
    """
    settings = settings or get_settings()
    if last < first:
        raise ValueError(f"last service date {last} is before the first {first}.")
    models = discover(settings.sql_dir)
    # DuckDB 2.0.0: an order-preserving parallel INSERT ... SELECT inside an explicit
    # transaction can leave a table whose scans return no rows for some columns (seen on
    # int_stops at 1 M taps; count(*) still says 629,042). Marts do not depend on
    # insertion order, so builds run without it (restored afterwards).
    preserve_order = con.execute("select current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("set preserve_insertion_order = false")
    try:
        return _build_range(con, first, last, settings, models, only)
    finally:
        con.execute(f"set preserve_insertion_order = {bool(preserve_order)}")


def _build_range(
    con: duckdb.DuckDBPyConnection, first: date, last: date, settings: Settings, models: list[Model], only: Collection[str] | None
) -> dict[str, int]:
    if only is not None:
        unknown = set(only) - {m.name for m in models}
        if unknown:
            raise ModelError(f"no such model(s): {sorted(unknown)}")
        models = [m for m in models if m.name in set(only)]
    set_parameters(con, settings, first, last)
    load_macros(con, settings.sql_dir)
    counts: dict[str, int] = {}
    with transaction(con):
        ensure_calendar(con, first, last)
        # raw rows written before ids were stored at ingest (or by other tools) get theirs;
        # the sensor models read the residency window before the first day
        try:
            store_visitor_ids(con, first - timedelta(days=settings.sensor_resident_window_days), last)
        except VisitorIdCollision as exc:
            raise ModelError(str(exc)) from exc
        built_through = _log_built_days(con)
        periods = {grain: _periods(con, grain, built_through) for grain in GRAINS}
        for model in models:
            started = time.perf_counter()
            try:
                if model.materialized == "view":
                    _create_view(con, model)
                    continue
                if model.materialized == "rollup":
                    counts[model.relation] = _build_rollup(con, model, settings, periods)
                elif model.ranged:
                    _publish(
                        con,
                        model,
                        settings,
                        "service_date between getvariable('first_service_date') and getvariable('last_service_date')",
                        batches=visitor_batches(con, settings, first, last) if model.batched else 1,
                    )
                    counts[model.relation] = _count_days(con, model)
                else:
                    ensured: set[str] = set()
                    for day in _days(first, last):
                        _set_dates(con, service_date=day)
                        batches = visitor_batches(con, settings, day, day) if model.batched else 1
                        where = "service_date = getvariable('service_date')"
                        _publish(con, model, settings, where, ensured=ensured, batches=batches)
                    _set_dates(con, service_date=first)
                    counts[model.relation] = _count_days(con, model)
            except (duckdb.Error, PrivacySpecError) as exc:
                span = first.isoformat() if first == last else f"{first}..{last}"
                raise ModelError(f"model {model.path.relative_to(settings.sql_dir.parent)} failed for {span}: {exc}") from exc
            log.debug("%s built in %.2f s", model.relation, time.perf_counter() - started)
    return counts


def _count_days(con: duckdb.DuckDBPyConnection, model: Model) -> int:
    """Rows written for the range, checked against a scan that reads every column."""
    stored, scanned = con.execute(runner_sql("count_days"), [model.relation]).fetchone()
    if stored != scanned:
        raise ModelError(
            f"{model.relation}: {stored} rows were written but a full scan reads {scanned}; "
            "the table is inconsistent (see the DuckDB note in flowlib.models.build_range)."
        )
    return stored


def build_day(con: duckdb.DuckDBPyConnection, service_date: date, settings: Settings | None = None) -> dict[str, int]:
    """Rebuild every model for one service day in one transaction; rows per model."""
    return build_range(con, service_date, service_date, settings)
