"""Rows written straight into the raw tables, for tests that build marts without ingest.

One insert per raw table, so a column added to a raw table is added here once.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb


def _insert(con: duckdb.DuckDBPyConnection, sql: str, rows: Iterable[tuple]) -> None:
    rows = list(rows)
    if rows:  # executemany refuses an empty parameter list
        con.executemany(sql, rows)


def insert_taps(con: duckdb.DuckDBPyConnection, rows: Iterable[tuple]) -> None:
    """(source, service_date, facility_id, entered_at, card_key, ticket_type, amount_jpy,
    issuer_country, file_name, line_number) rows into raw.entry_log."""
    _insert(
        con,
        "insert into raw.entry_log (source, service_date, facility_id, entered_at, card_key, ticket_type, "
        "amount_jpy, issuer_country, file_name, line_number) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def insert_detections(con: duckdb.DuckDBPyConnection, rows: Iterable[tuple]) -> None:
    """(source, service_date, facility_id, detected_at, device_key, file_name, line_number)
    rows into raw.wifi_sensor."""
    _insert(
        con,
        "insert into raw.wifi_sensor (source, service_date, facility_id, detected_at, device_key, "
        "file_name, line_number) values (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def insert_answers(con: duckdb.DuckDBPyConnection, rows: Iterable[tuple]) -> None:
    """Full survey rows (every column up to line_number) into raw.survey_response."""
    _insert(
        con,
        "insert into raw.survey_response (source, service_date, response_key, answered_at, form_language, "
        "residence_country, residence_prefecture, info_satisfaction, overall_satisfaction, recommend_score, "
        "info_sources, facilities_visited, weight, free_text, file_name, line_number) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
