"""flowlib.warehouse.transaction: one BEGIN ... COMMIT, and nested blocks join the outer one
(a night's build of the marts commits its ranges, KPI, action marts and settlement as one);
and the one retry of a whole write after a DuckDB internal error."""

from __future__ import annotations

import duckdb
import pytest

from flowlib.warehouse import engine_fault, transaction, write_once_more_after_engine_fault


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


def _internal_error_then_fatal() -> duckdb.FatalException:
    """What a connection raises after an engine assertion: the assertion, then (on the
    rollback or the next statement) a FatalException whose context is the assertion."""
    try:
        try:
            raise duckdb.InternalException("INTERNAL Error: dict-surviving cache: global dictionary column 0 changed identity")
        except duckdb.InternalException:
            raise duckdb.FatalException("FATAL Error: database has been invalidated because of a previous fatal error")  # noqa: B904 (DuckDB chains it implicitly too)
    except duckdb.FatalException as fatal:
        return fatal


def test_an_internal_error_is_found_behind_the_fatal_error_that_follows_it():
    assert isinstance(engine_fault(_internal_error_then_fatal()), duckdb.InternalException)
    assert engine_fault(duckdb.ConstraintException("NOT NULL constraint failed")) is None
    assert engine_fault(ValueError("no")) is None


def test_a_write_that_hit_an_engine_fault_runs_once_more_on_a_new_connection_and_commits_once(settings):
    connections = []

    def work(con):  # type: ignore[no-untyped-def]
        connections.append(con)
        with transaction(con):
            con.execute("create table if not exists t (x integer)")
            con.execute("insert into t values (1)")
            if len(connections) == 1:
                raise _internal_error_then_fatal()
        return con.execute("select count(*) from t").fetchone()[0]

    assert write_once_more_after_engine_fault(work, settings, what="test") == 1
    assert len(connections) == 2 and connections[0] is not connections[1]


def test_other_errors_and_a_second_engine_fault_are_raised_as_they_are(settings):
    calls = []

    def constraint(con):  # type: ignore[no-untyped-def]
        calls.append(con)
        raise duckdb.ConstraintException("NOT NULL constraint failed: t.x")

    with pytest.raises(duckdb.ConstraintException):
        write_once_more_after_engine_fault(constraint, settings, what="test")
    assert len(calls) == 1

    def always(con):  # type: ignore[no-untyped-def]
        calls.append(con)
        raise _internal_error_then_fatal()

    with pytest.raises(duckdb.FatalException):
        write_once_more_after_engine_fault(always, settings, what="test")
    assert len(calls) == 3
