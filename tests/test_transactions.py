"""flowlib.warehouse.transaction: one BEGIN ... COMMIT, and nested blocks join the outer one
(a night's build of the marts commits its ranges, KPI, action marts and settlement as one)."""

from __future__ import annotations

import duckdb
import pytest

from flowlib.warehouse import transaction


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create table t (x integer)")
    return con


def test_a_nested_block_commits_only_with_the_outer_one():
    con = _con()
    with pytest.raises(RuntimeError):
        with transaction(con):
            with transaction(con):
                con.execute("insert into t values (1)")
            con.execute("insert into t values (2)")
            raise RuntimeError("the night stops after the inner block finished")
    assert con.execute("select count(*) from t").fetchone() == (0,)


def test_a_failing_nested_block_rolls_back_the_outer_one():
    con = _con()
    with pytest.raises(RuntimeError):
        with transaction(con):
            con.execute("insert into t values (1)")
            with transaction(con):
                raise RuntimeError("inner")
    assert con.execute("select count(*) from t").fetchone() == (0,)
    with transaction(con):  # and the connection takes a new transaction afterwards
        con.execute("insert into t values (3)")
    assert con.execute("select x from t").fetchall() == [(3,)]


def test_nested_blocks_commit_together():
    con = _con()
    with transaction(con):
        with transaction(con):
            con.execute("insert into t values (1)")
        with transaction(con):
            con.execute("insert into t values (2)")
    assert con.execute("select count(*) from t").fetchone() == (2,)
    other = _con()
    with transaction(other):  # another connection is not joined to a finished one
        other.execute("insert into t values (9)")
    assert other.execute("select count(*) from t").fetchone() == (1,)
