"""The pseudonyms ingest computes inside DuckDB are Python's HMAC-SHA-256, for any id and key.

Ingest hashes a chunk's delivered ids as it stages them (``flow_pseudonym`` in
sql/ingest/stage_rows.sql, from ``flowlib.pseudonym.hmac_pads``). Every pseudonym already
in a warehouse, every test that builds one with ``pseudonymise`` and the quarantine's
``hmac:`` values (still hashed in Python) must agree with it to the character. Checked
here through the real staging statements against ``hmac.digest`` itself, which is the
independent computation: keys shorter than, exactly, and longer than SHA-256's 64-byte
block (hashed first) and ids of any text.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from pathlib import Path

import duckdb
import pandas as pd
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from flowlib.config import Settings
from flowlib.ingest import _sql, stage
from flowlib.pseudonym import hmac_pads, pseudonymise
from flowlib.sources import load_registry
from flowlib.warehouse import ensure_schema

#: ids as a delivery can hold them: any text (a lone surrogate is not text a file decodes to)
IDS = st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",))), max_size=20)
#: keys as FLOW_HMAC_KEY gives them (text, UTF-8 encoded): up to a few hundred bytes
KEYS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=90).filter(str.strip)


def _staged(con: duckdb.DuckDBPyConnection, settings: Settings, key: str, ids: list[str | None]) -> list[str | None]:
    """``ids`` staged as the card ids of a POS delivery under ``key``: the pseudonyms staged."""
    keyed = dataclasses.replace(settings, hmac_key_env=key)
    spec = load_registry(keyed)["entry_pos_a"]
    stage(con, spec, keyed)
    chunk = pd.DataFrame({"card_key": pd.Series(ids, dtype="object"), "line_number": range(2, len(ids) + 2), "file_index": 0})
    con.register("ingest_chunk", chunk)
    con.execute(_sql("stage_pseudonymised_chunk", keyed))
    con.unregister("ingest_chunk")
    staged = [row[0] for row in con.execute("select card_key from ingest_rows order by line_number").fetchall()]
    con.execute(_sql("unstage", keyed))
    return staged


def _connection(settings: Settings) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ensure_schema(con, settings)
    return con


def test_pads_give_hmac_for_keys_around_the_block_size() -> None:
    for size in (1, 32, 63, 64, 65, 200):
        key = bytes((i * 7 + size) % 256 for i in range(size))
        inner, outer = hmac_pads(key)
        message = "カード-12345".encode()
        by_pads = hashlib.sha256(outer + hashlib.sha256(inner + message).digest()).hexdigest()
        assert by_pads == hmac.digest(key, message, "sha256").hex(), size


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=KEYS, ids=IDS)
def test_staged_pseudonyms_are_python_hmac(settings: Settings, key: str, ids: list[str]) -> None:
    with _connection(settings) as con:
        staged = _staged(con, settings, key, ids)
    assert staged == [hmac.digest(key.encode("utf-8"), i.encode("utf-8"), "sha256").hex() for i in ids]


def test_missing_ids_stay_missing_and_the_session_forgets_the_key(settings: Settings) -> None:
    key = "a" * 80  # longer than the block: hashed first
    with _connection(settings) as con:
        staged = _staged(con, settings, key, ["4000000000000001", None, "4000000000000001", "旅"])
        assert con.execute("select getvariable('hmac_inner_pad'), getvariable('hmac_outer_pad')").fetchone() == (None, None)
        assert not con.execute("select * from duckdb_functions() where function_name = 'flow_pseudonym'").fetchall()
    one = pseudonymise("4000000000000001", key.encode())
    assert staged == [one, None, one, pseudonymise("旅", key.encode())]


def test_a_delivered_card_number_never_reaches_the_staging_table(settings: Settings, tmp_path: Path) -> None:
    """The staging table may spill to disk: it holds the pseudonym, never the number."""
    with _connection(settings) as con:
        spec = load_registry(settings)["entry_pos_a"]
        stage(con, spec, settings)
        con.register("ingest_chunk", pd.DataFrame({"card_key": ["4000000000000042"], "line_number": [2], "file_index": [0]}))
        con.execute(_sql("stage_pseudonymised_chunk", settings))
        rows = con.execute("select * from ingest_rows").fetchall()
    assert not any("4000000000000042" in str(value) for row in rows for value in row)
    assert pseudonymise("4000000000000042", settings.hmac_key) in rows[0]
