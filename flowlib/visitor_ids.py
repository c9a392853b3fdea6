"""The 64-bit visitor id stored beside every pseudonym in the raw tables.

The route models sort and join millions of events per visitor; on the 64-hex text of the
keyed HMAC that is about 3.5 times slower than on a 64-bit integer. So the raw tables keep,
beside the pseudonym, its first 64 bits as an integer (``raw.pseudonym_id``, defined in
``sql/warehouse/04_migrations.sql``): stable across DuckDB versions, revealing nothing the
pseudonym does not, and the same for a card on every day (periods count distinct visitors
over many days).

Two different pseudonyms with the same first 64 bits would be counted as one visitor. The
chance is about n² / 2⁶⁵ for n ids on a day (3e-5 for 50 M), and such a day is refused
rather than miscounted, in the caller's transaction: ingest computes the ids while staging
(``key_pattern``) and calls ``check_collisions`` for the days it has written; the model
runner calls ``store_visitor_ids`` before a build, which fills and checks the rows without
an id (written before the column existed, or by tools other than ingest).
"""

from __future__ import annotations

from datetime import date

import duckdb

#: raw table -> (pseudonym column, id column)
ID_COLUMNS = {
    "raw.entry_log": ("card_key", "card_id"),
    "raw.wifi_sensor": ("device_key", "device_id"),
}


def key_pattern(table: str) -> str:
    """A regular expression matching the pseudonym column of ``table`` that has an id beside
    it, capturing the name the two share (``card`` of card_key and card_id): ingest computes
    the id while staging (sql/ingest/stage_identified_chunk.sql names it by that capture)."""
    key, id_column = ID_COLUMNS[table]
    name = key.removesuffix("_key")
    if key != f"{name}_key" or id_column != f"{name}_id":
        raise ValueError(f"{table}: the id beside pseudonym {key} must be called {name}_id, not {id_column}.")
    return f"^({name})_key$"


class VisitorIdCollision(RuntimeError):
    """Two pseudonyms share a 64-bit id on one service day."""


def store_visitor_ids(
    con: duckdb.DuckDBPyConnection, first: date | None = None, last: date | None = None, tables: list[str] | None = None
) -> int:
    """Fill missing ids for the service days first..last (all days when None); returns days filled.

    Checks every day that received ids for two pseudonyms behind one id (reading only
    those days' pseudonyms), and raises VisitorIdCollision naming the day and table.
    """
    days = "service_date between coalesce(?::date, date '0001-01-01') and coalesce(?::date, date '9999-12-31')"
    filled = 0
    for table in tables or list(ID_COLUMNS):
        key, id_column = ID_COLUMNS[table]
        missing = con.execute(
            f"select distinct service_date from {table} where {id_column} is null and {days}", [first, last]
        ).fetchall()
        if not missing:
            continue
        con.execute(
            f"update {table} set {id_column} = raw.pseudonym_id({key}) where {id_column} is null and {days}", [first, last]
        )
        filled += len(missing)
        check_collisions(con, table, [day for (day,) in missing])
    return filled


def check_collisions(con: duckdb.DuckDBPyConnection, table: str, days: list[date]) -> None:
    """Raise VisitorIdCollision if two pseudonyms share an id on one of ``days`` in ``table``.

    The pseudonyms of an id are compared by their hash(): 64-bit numbers, not 64-character
    texts (0.85 → 0.52 s for a 3 M-row day, single runs), and an id has two when its smallest
    and largest hash differ, which needs no set of distinct hashes per id (a 3 M-row day
    0.67 → 0.39 s against ``count(distinct hash(...)) > 1``, medians of 3 in turns, load 0.9-1.0). Two
    pseudonyms of one id whose hashes are also equal would go unseen: a chance of 2^-64 on
    top of the collision itself."""
    key, id_column = ID_COLUMNS[table]
    clash = con.execute(
        f"select service_date, {id_column} from {table} where service_date in (select unnest(?::date[])) "
        f"group by service_date, {id_column} having min(hash({key})) <> max(hash({key})) order by all limit 1",
        [list(days)],
    ).fetchone()
    if clash:
        raise VisitorIdCollision(
            f"{table}: two pseudonyms share the 64-bit id {clash[1]} on {clash[0]}; they would be counted as one "
            "visitor. Nothing was built; see docs/routes.md (keys) for what to do."
        )
