"""The indicator marts: 旅ナカでの情報取得満足度 per period and segment, and its drivers.

Unlike the daily marts in ``sql/marts/`` (one service day at a time), the indicator is a
statement about months, quarters and fiscal years, so it is rebuilt whole from every
loaded survey answer (``staging.stg_survey_response``) each night, in one transaction:

- ``marts.info_satisfaction_indicator``: one row per period x segment;
- ``marts.info_satisfaction_drivers``: one row per driver period x segment x driver value.

The statistics live in :mod:`flowlib.indicator`; the definition in
``config/indicator.yaml``; the method for readers in ``docs/indicator.md``.

Example
-------
>>> from flowlib.warehouse import writer
>>> with writer(settings) as con:                            # doctest: +SKIP
...     build_indicator(con, settings)
...     export_indicator_csv(con, settings.dashboards_dir / "exports")
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

# the open data's one atomic writer and one cell-escaping rule
from flowlib.atomic import atomic_write
from flowlib.config import Settings, get_settings
from flowlib.exports import CSV_ENCODING, neutralise_cell
from flowlib.indicator import (
    DRIVER_MART_TYPES,
    INDICATOR_MART_TYPES,
    ITEM_COLUMNS,
    IndicatorDefinition,
    estimate_drivers,
    estimate_indicator,
    load_definition,
    prepare_answers,
)
from flowlib.queries import run
from flowlib.warehouse import transaction

log = logging.getLogger(__name__)

INDICATOR_TABLE = "marts.info_satisfaction_indicator"
DRIVERS_TABLE = "marts.info_satisfaction_drivers"


class IndicatorError(RuntimeError):
    """The indicator cannot be built; the message says what is missing."""


def _read_answers(con: duckdb.DuckDBPyConnection, definition: IndicatorDefinition) -> pd.DataFrame:
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'staging' and table_name = 'stg_survey_response'"
    ).fetchone()[0]
    if not exists:
        raise IndicatorError(
            "staging.stg_survey_response does not exist: build the SQL models first "
            "(flowlib.pipeline.prepare_warehouse or flowlib.models.build_views)."
        )
    # the file reads every item the definition may name (ITEM_COLUMNS); keep the chosen one
    answers = run(con, "indicator/survey_answers").df()
    others = [item for item in ITEM_COLUMNS if item != definition.item]
    return answers.drop(columns=others)


def _replace_table(con: duckdb.DuckDBPyConnection, table: str, types: dict[str, str], frame: pd.DataFrame) -> None:
    """Replace all rows of ``table`` (recreated if its columns changed); caller holds the transaction."""
    schema, name = table.split(".")
    existing = [
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, name],
        ).fetchall()
    ]
    if existing and existing != list(types):
        log.warning("%s changed shape; recreating it", table)
        con.execute(f"drop table {table}")
    columns = ",\n    ".join(f"{column} {kind}" for column, kind in types.items())
    con.execute(f"create table if not exists {table} (\n    {columns}\n)")
    con.execute(f"delete from {table}")
    con.register("incoming_indicator_rows", frame[list(types)])
    try:
        con.execute(f"insert into {table} by name select * from incoming_indicator_rows")
    finally:
        con.unregister("incoming_indicator_rows")


def build_indicator(
    con: duckdb.DuckDBPyConnection, settings: Settings | None = None, definition: IndicatorDefinition | None = None
) -> dict[str, int]:
    """Rebuild both indicator marts from all loaded survey answers, in one transaction.

    Reads ``staging.stg_survey_response`` and the definition (``config/indicator.yaml``
    unless ``definition`` is given); on any error the previous marts stay as they were.
    Returns row counts per table (no personal data: safe for XCom and logs).
    """
    settings = settings or get_settings()
    definition = definition or load_definition(settings.indicator_file)
    with transaction(con):
        rows = _read_answers(con, definition)
        answers = prepare_answers(rows, definition)
        indicator = estimate_indicator(answers, definition, settings.min_cell_count)
        drivers = estimate_drivers(answers, definition, settings.min_cell_count)
        _replace_table(con, INDICATOR_TABLE, INDICATOR_MART_TYPES, indicator)
        _replace_table(con, DRIVERS_TABLE, DRIVER_MART_TYPES, drivers)
    counts = {
        INDICATOR_TABLE: len(indicator),
        DRIVERS_TABLE: len(drivers),
        "answers_used": len(answers),
        "answers_read": len(rows),
    }
    log.info("indicator built: %s", counts)
    return counts


# ----------------------------------------------------------------------------- CSV export


def _percent(value: Any, digits: int = 1) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return round(float(value) * 100, digits)


def _rounded(value: Any, digits: int) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return round(float(value), digits)


def _status(too_few: bool) -> str:
    return "回答数不足 too few answers" if too_few else ""


def _cell_text(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(neutralise_cell(value) if isinstance(value, str) else value)


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """UTF-8 with BOM (Excel opens it as UTF-8), CRLF, text cells neutralised; atomic replace."""

    def write(out) -> None:  # type: ignore[no-untyped-def]
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([_cell_text(h) for h in header])
        for row in rows:
            writer.writerow([_cell_text(v) for v in row])

    atomic_write(path, write, encoding=CSV_ENCODING, newline="")  # the open data's one writer
    return path


def export_indicator_csv(con: duckdb.DuckDBPyConnection, out_dir: Path) -> list[Path]:
    """Write the two marts as CSV for the city's reports; returns the files written.

    Shares are in percent (one decimal), gaps in percentage points; cells with too few
    answers carry the status 回答数不足 and no share.
    """
    indicator = run(con, "indicator/indicator_export").df()
    drivers = run(con, "indicator/drivers_export").df()
    indicator_header = [
        "period_type",
        "period",
        "period_start",
        "period_end",
        "segment",
        "respondents",
        "satisfied",
        "share_percent",
        "ci_low_percent",
        "ci_high_percent",
        "effective_n",
        "weighted",
        "status",
        "baseline_percent",
        "target_percent",
        "progress_to_target_percent",
        "change_vs_baseline_p_value",
        "change_significant",
        "months_with_answers",
    ]
    indicator_rows = [
        [
            r.period_type,
            r.period_label,
            r.period_start,
            r.period_end,
            r.segment,
            _int(r.respondents),
            _int(r.satisfied),
            _percent(r.share),
            _percent(r.ci_low),
            _percent(r.ci_high),
            _rounded(r.effective_n, 1),
            bool(r.weighted),
            _status(bool(r.too_few_answers)),
            _percent(r.baseline_share),
            _percent(r.target_share),
            _percent(r.progress_to_target),
            _rounded(r.change_vs_baseline_p_value, 4),
            None if pd.isna(r.change_significant) else bool(r.change_significant),
            _int(r.months_with_answers),
        ]
        for r in indicator.itertuples(index=False)
    ]
    driver_header = [
        "period_type",
        "period",
        "segment",
        "driver_type",
        "driver_value",
        "respondents",
        "satisfied",
        "share_percent",
        "ci_low_percent",
        "ci_high_percent",
        "gap_vs_segment_points",
        "largest_gap",
        "weighted",
        "status",
    ]
    driver_rows = [
        [
            r.period_type,
            r.period,
            r.segment,
            r.driver_type,
            r.driver_value,
            _int(r.respondents),
            _int(r.satisfied),
            _percent(r.share),
            _percent(r.ci_low),
            _percent(r.ci_high),
            _percent(r.gap_vs_segment),
            bool(r.largest_gap),
            bool(r.weighted),
            _status(bool(r.too_few_answers)),
        ]
        for r in drivers.itertuples(index=False)
    ]
    return [
        _write_csv(out_dir / "info_satisfaction_indicator.csv", indicator_header, indicator_rows),
        _write_csv(out_dir / "info_satisfaction_drivers.csv", driver_header, driver_rows),
    ]


def _int(value: Any) -> int | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)
