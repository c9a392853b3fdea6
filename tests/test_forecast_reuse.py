"""A series whose inputs are unchanged keeps its forecast rows instead of being fitted again.

The forecast marts written from kept rows must equal, row for row and in order, the marts a
full fit writes from the same inputs; a change to any input of one series (a daily value, an
hourly count, the cruise timetable, the run's options) refits that series and no other.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from test_forecast import CRUISE, LAST_DAY, series, synthetic
from test_forecast_hourly import _dirichlet_hours

from flowlib import forecast as fc

TABLES = (*fc._TABLES, fc.INPUTS_TABLE)


def _inputs() -> tuple[list[fc.Series], pd.DataFrame]:
    items, hours = [], []
    for i, (facility, level) in enumerate((("glover", 900), ("dejima", 1600))):
        values = synthetic(level, seed=70 + i)
        items.append(series(facility, values))
        hours.append(_dirichlet_hours(values, facility, concentration=30.0, seed=80 + i))
    # too little history: stated-reason rows, no hours, no backtest points
    items.append(series("oura", synthetic(500, seed=90).tail(10)))
    return items, pd.concat(hours, ignore_index=True)


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    return {table: con.execute(f"select * from {table}").df() for table in TABLES}


def _assert_same_tables(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    for table in TABLES:
        pd.testing.assert_frame_equal(got[table], want[table], check_exact=True, obj=table)


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    return con


def _written(run: fc.ForecastRun) -> dict[str, pd.DataFrame]:
    con = _warehouse()
    fc.write_forecast(con, run)
    return _tables(con)


@pytest.fixture(scope="module")
def first_run() -> tuple[list[fc.Series], pd.DataFrame, duckdb.DuckDBPyConnection]:
    items, hourly = _inputs()
    con = _warehouse()
    run = fc.run_forecast(items, {"entry_log": LAST_DAY}, CRUISE, hourly)
    assert run.fitted == 3
    fc.write_forecast(con, run)
    return items, hourly, con


def _copy(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    copy = _warehouse()
    copy.execute("create schema ops")
    for table, frame in _tables(con).items():
        copy.register("rows", frame)
        copy.execute(f"create table {table} as select * from rows")
        copy.unregister("rows")
    return copy


def test_unchanged_inputs_fit_nothing_and_write_the_same_tables(first_run):
    items, hourly, con = first_run
    before = _tables(con)
    con = _copy(con)
    again = fc.run_forecast(items, {"entry_log": LAST_DAY}, CRUISE, hourly, before=fc.rows_before(con))
    assert again.fitted == 0
    fc.write_forecast(con, again)
    _assert_same_tables(_tables(con), before)


@pytest.mark.parametrize("change", ["daily value", "hourly count", "cruise", "last day", "options"])
def test_a_changed_input_refits_its_series_and_the_tables_equal_a_full_fit(first_run, change):
    items, hourly, con = first_run
    con = _copy(con)
    last_days, cruise, options = {"entry_log": LAST_DAY}, CRUISE, {}
    if change == "daily value":
        values = items[1].values.copy()
        values.iloc[-20] += 50
        items = [items[0], series("dejima", values), items[2]]
        refitted = 1
    elif change == "hourly count":
        hourly = hourly.copy()
        row = hourly.index[(hourly["facility_id"] == "dejima") & (hourly["count"] > 0)][-30]
        hourly.loc[row, "count"] += 5
        refitted = 1
    elif change == "cruise":
        cruise = CRUISE * 1.5
        refitted = 3
    elif change == "last day":
        last_days = {"entry_log": LAST_DAY - pd.Timedelta(days=1)}
        items = [series(i.facility_id, i.values.iloc[:-1]) for i in items]
        refitted = 3
    else:
        options = {"min_history_days": fc.MIN_HISTORY_DAYS + 1}
        refitted = 3
    kept = fc.run_forecast(items, last_days, cruise, hourly, before=fc.rows_before(con), **options)
    assert kept.fitted == refitted
    full = fc.run_forecast(items, last_days, cruise, hourly, **options)
    _assert_same_tables(_written(kept), _written(full))
    # the change reached the tables: some forecast rows are not the first run's
    first, changed = _tables(con), _written(full)
    assert any(not first[table].equals(changed[table]) for table in fc._TABLES)


def test_a_digest_covers_every_input_of_its_series():
    items, hourly = _inputs()
    item = items[0]
    own = hourly[hourly["facility_id"] == item.facility_id][["service_date", "hour_of_day", "count"]]
    options = {"backtest": True, "horizon": fc.HORIZON_DAYS, "min_history_days": fc.MIN_HISTORY_DAYS}
    base = fc.series_digest(item, LAST_DAY, CRUISE, own, **options)
    assert base == fc.series_digest(item, LAST_DAY, CRUISE.copy(), own.copy(), **options)
    shifted = item.values.copy()
    shifted.iloc[0] += 1e-9
    variants = [
        fc.series_digest(series(item.facility_id, shifted), LAST_DAY, CRUISE, own, **options),
        fc.series_digest(
            series(item.facility_id, item.values, LAST_DAY - pd.Timedelta(days=400)), LAST_DAY, CRUISE, own, **options
        ),
        fc.series_digest(series("elsewhere", item.values), LAST_DAY, CRUISE, own, **options),
        fc.series_digest(item, LAST_DAY + pd.Timedelta(days=1), CRUISE, own, **options),
        fc.series_digest(item, LAST_DAY, None, own, **options),
        fc.series_digest(item, LAST_DAY, CRUISE, own.iloc[1:], **options),
        fc.series_digest(item, LAST_DAY, CRUISE, own, **{**options, "backtest": False}),
        fc.series_digest(item, LAST_DAY, CRUISE, own, **{**options, "horizon": 7}),
    ]
    assert base not in variants and len(set(variants)) == len(variants)
