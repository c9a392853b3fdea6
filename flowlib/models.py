"""Runs the SQL models in ``sql/`` (staging → intermediate → marts) inside DuckDB.

Each model is one file holding one ``select`` (a CTE pipeline). A header line says how
it is materialised: ``view`` (staging: rename and cast), or ``daily`` (a table keyed by
``service_date`` whose day is replaced in place). ``-- depends_on:`` lines order models
inside a layer. Run parameters reach the SQL as DuckDB variables (``getvariable('...')``),
so the files stay plain SQL that can be pasted into a DuckDB shell.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import date
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb

from flowlib.config import Settings, get_settings
from flowlib.warehouse import transaction

log = logging.getLogger(__name__)
LAYERS = ("staging", "intermediate", "marts")
_HEADER = re.compile(r"^--\s*(materialized|depends_on):\s*(.+?)\s*$", re.MULTILINE)


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

    @property
    def relation(self) -> str:
        return f"{self.layer}.{self.name}"


def discover(sql_dir: Path | None = None) -> list[Model]:
    """All models in dependency order (layers first, then declared dependencies)."""
    sql_dir = sql_dir or get_settings().sql_dir
    models: dict[str, Model] = {}
    for layer in LAYERS:
        for path in sorted((sql_dir / layer).glob("*.sql")):
            text = path.read_text(encoding="utf-8")
            headers: dict[str, list[str]] = {}
            for key, value in _HEADER.findall(text):
                headers.setdefault(key, []).extend(v.strip() for v in value.split(","))
            materialized = (headers.get("materialized") or ["view"])[0]
            if materialized not in ("view", "daily"):
                raise ModelError(f"{path}: materialized must be view or daily, not {materialized}.")
            models[path.stem] = Model(path.stem, layer, path, materialized,
                                      tuple(headers.get("depends_on", [])), text.strip().rstrip(";"))
    graph = {}
    for model in models.values():
        unknown = [d for d in model.depends_on if d not in models]
        if unknown:
            raise ModelError(f"{model.path}: depends on unknown model(s) {unknown}.")
        layer_rank = LAYERS.index(model.layer)
        earlier = [m.name for m in models.values() if LAYERS.index(m.layer) < layer_rank]
        graph[model.name] = set(model.depends_on) | set(earlier)
    return [models[name] for name in TopologicalSorter(graph).static_order()]


def set_parameters(con: duckdb.DuckDBPyConnection, settings: Settings, service_date: date | None) -> None:
    params = {
        "reentry_gap_minutes": settings.reentry_gap_minutes,
        "trip_max_gap_minutes": settings.trip_max_gap_minutes,
        "sensor_stay_gap_minutes": settings.sensor_stay_gap_minutes,
        "min_cell_count": settings.min_cell_count,
        "service_day_start_hour": settings.service_day_start.hour,
    }
    for name, value in params.items():
        con.execute(f"set variable {name} = {int(value)}")
    if service_date is not None:
        con.execute(f"set variable service_date = date '{service_date.isoformat()}'")


def _table_columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]] | None:
    schema, name = relation.split(".")
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position", [schema, name]
    ).fetchall()
    return rows or None


def _ensure_daily_table(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    """Create the table from the model's shape; rebuild it if the model's columns changed."""
    probe = f"select * from ({model.sql}) limit 0"
    shape = con.execute(f"describe {probe}").fetchall()
    wanted = [(row[0], row[1]) for row in shape]
    existing = _table_columns(con, model.relation)
    if existing is not None and existing != wanted:
        log.warning("%s changed shape; dropping it (every day must be rebuilt)", model.relation)
        con.execute(f"drop table {model.relation}")
        existing = None
    if existing is None:
        con.execute(f"create table {model.relation} as {probe}")


def build_views(con: duckdb.DuckDBPyConnection, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    with transaction(con):
        for model in discover(settings.sql_dir):
            if model.materialized == "view":
                con.execute(f"create or replace view {model.relation} as {model.sql}")


def build_day(con: duckdb.DuckDBPyConnection, service_date: date, settings: Settings | None = None) -> dict[str, int]:
    """Rebuild every daily model for one service day in one transaction; rows per model."""
    settings = settings or get_settings()
    models = discover(settings.sql_dir)
    set_parameters(con, settings, service_date)
    counts: dict[str, int] = {}
    with transaction(con):
        for model in models:
            started = time.perf_counter()
            try:
                if model.materialized == "view":
                    con.execute(f"create or replace view {model.relation} as {model.sql}")
                    continue
                _ensure_daily_table(con, model)
                con.execute(f"delete from {model.relation} where service_date = getvariable('service_date')")
                con.execute(f"insert into {model.relation} {model.sql}")
                counts[model.relation] = con.execute(
                    f"select count(*) from {model.relation} where service_date = getvariable('service_date')"
                ).fetchone()[0]
            except duckdb.Error as exc:
                raise ModelError(f"model {model.path.relative_to(settings.sql_dir.parent)} failed for "
                                 f"{service_date}: {exc}") from exc
            log.debug("%s built in %.2f s", model.relation, time.perf_counter() - started)
    return counts
