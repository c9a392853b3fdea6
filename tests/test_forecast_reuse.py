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

TABLES = (*fc._TABLES, fc.INPUTS_TABLE, *fc._ORIGIN_TABLES)


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


@pytest.mark.parametrize("change", ["daily value", "hourly count", "early hourly count", "cruise", "last day", "options"])
def test_a_changed_input_refits_its_series_and_the_tables_equal_a_full_fit(first_run, change):
    items, hourly, con = first_run
    con = _copy(con)
    last_days, cruise, options = {"entry_log": LAST_DAY}, CRUISE, {}
    if change == "daily value":
        values = items[1].values.copy()
        values.iloc[-14] += 50  # 1 November, the newest origin itself
        items = [items[0], series("dejima", values), items[2]]
        refitted = 1
    elif change in ("hourly count", "early hourly count"):
        hourly = hourly.copy()
        # a count of the last days (after every backtest origin), or of September (before all)
        row = hourly.index[(hourly["facility_id"] == "dejima") & (hourly["count"] > 0)][-30 if change == "hourly count" else 30]
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
    # the backtest origins refitted: those whose data up to them changed (the count of 1
    # November: that origin only; a September hour: all four of that series)
    assert (
        kept.origins_fitted
        == {
            "daily value": 1,
            "hourly count": 0,
            "early hourly count": 4,
            "cruise": 8,
            "last day": 0,
            "options": 8,
        }[change]
    )
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


@pytest.mark.parametrize(
    ("last_day", "newest"),
    [
        ("2026-11-14", "2026-11-01"),  # a Saturday: the Sunday 13 days before
        ("2026-11-15", "2026-11-08"),  # a Sunday: exactly a week before
        ("2026-11-16", "2026-11-08"),  # a Monday: 8 days before
        ("2026-11-21", "2026-11-08"),  # the next Saturday: the same origins all week
    ],
)
def test_backtest_origins_are_the_last_four_sundays_at_least_a_week_before_the_last_day(last_day, newest):
    origins = fc.backtest_origins(pd.Timestamp(last_day))
    assert origins[-1] == pd.Timestamp(newest)
    assert [o.weekday() for o in origins] == [6, 6, 6, 6]
    assert [(b - a).days for a, b in zip(origins, origins[1:])] == [7, 7, 7]
    assert (pd.Timestamp(last_day) - origins[-1]).days >= 7


@pytest.mark.parametrize(("extra_days", "origins_fitted"), [(0, 0), (1, 2), (2, 2), (8, 4)])
def test_a_new_night_refits_only_the_origins_whose_data_changed(first_run, extra_days, origins_fitted):
    """The first run ends on Saturday 14 November, its newest origin 1 November. A corrected
    count on the last day refits each series but keeps all four origins; the nights of Sunday
    15 and Monday 16 November add the origin of 8 November (one fit for each of the two series
    with a backtest, the other origins kept); Sunday 22 November adds 8 and 15 November. The
    tables always equal a run that kept nothing."""
    items, hourly, con = first_run
    con = _copy(con)
    last_day = LAST_DAY + pd.Timedelta(days=extra_days)
    longer, hours = [], [hourly]
    for number, item in enumerate(items):
        if extra_days == 0:
            more = pd.Series(dtype=float)
            values = item.values.copy()
            values.iloc[-1] += 7
        else:
            more = synthetic(1000, seed=200 + number, first=LAST_DAY + pd.Timedelta(days=1), last=last_day)
            values = pd.concat([item.values, more])
        longer.append(series(item.facility_id, values))
        if item.facility_id != "oura" and len(more):
            hours.append(_dirichlet_hours(more, item.facility_id, concentration=30.0, seed=300 + number))
    hourly = pd.concat(hours, ignore_index=True)
    kept = fc.run_forecast(longer, {"entry_log": last_day}, CRUISE, hourly, before=fc.rows_before(con))
    assert kept.fitted == 3
    assert kept.origins_fitted == origins_fitted
    full = fc.run_forecast(longer, {"entry_log": last_day}, CRUISE, hourly)
    assert full.origins_fitted == 8
    _assert_same_tables(_written(kept), _written(full))
    assert _written(kept)["marts.forecast_backtest_points"]["forecast_date"].max() == last_day
