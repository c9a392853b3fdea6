"""The crowding forecast: calendar regressors, intervals that cover, the backtest's figures
(checked against an independent computation) and a stated reason instead of a fit."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from flowlib import forecast as fc

LAST_DAY = pd.Timestamp("2026-11-14")
#: days scored per facility: the origins are the last four Sundays at least a week before
#: Saturday 14 November (11, 18, 25 October, 1 November), 14 days after each, the newest 13
SCORED_DAYS = 14 + 14 + 14 + 13
FIRST_DAY = pd.Timestamp("2026-09-06")
WEEKDAY_FACTOR = np.array([1.0, 0.95, 1.0, 1.05, 1.1, 1.6, 1.4])


def _cruise(days: list[str], capacity: float = 2500.0) -> pd.Series:
    return pd.Series(capacity, index=pd.DatetimeIndex(pd.to_datetime(days)))


CRUISE = _cruise(["2026-09-10", "2026-09-24", "2026-10-07", "2026-10-15", "2026-10-22", "2026-11-11", "2026-11-17"])


def synthetic(
    level: float,
    seed: int,
    *,
    first: pd.Timestamp = FIRST_DAY,
    last: pd.Timestamp = LAST_DAY,
    cruise_lift: float = 0.5,
    alpha: float = 0.01,
    cruise: pd.Series | None = CRUISE,
) -> pd.Series:
    """Negative-binomial counts with a weekday pattern, holidays like Saturdays and a cruise lift."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(first, last, freq="D")
    features = fc.calendar_features(days, cruise)
    mu = level * WEEKDAY_FACTOR[days.weekday] * np.where(features["holiday"] > 0, 1.6, 1.0)
    mu = mu * np.exp(cruise_lift * features["cruise_thousands"].to_numpy())
    size = 1 / alpha
    return pd.Series(rng.negative_binomial(size, size / (size + mu)).astype(float), index=days)


def series(facility: str, values: pd.Series, kind_first: pd.Timestamp = FIRST_DAY) -> fc.Series:
    return fc.Series("entry_log", facility, values, kind_first)


def test_calendar_features_mark_holidays_bridge_days_and_cruise_calls():
    days = pd.date_range("2026-11-01", "2026-11-14", freq="D")
    features = fc.calendar_features(days, CRUISE)
    flagged = lambda column: [d.strftime("%m-%d") for d in days[features[column] > 0]]  # noqa: E731
    assert flagged("holiday") == ["11-03"]  # Culture Day, a Tuesday
    assert flagged("bridge_day") == ["11-02"]  # Monday between Sunday and the holiday
    assert flagged("cruise_thousands") == ["11-11"]
    assert features.loc["2026-11-11", "cruise_thousands"] == 2.5
    assert fc.day_class(features).loc["2026-11-03"] == "weekend_holiday"
    assert fc.day_class(features).loc["2026-11-11"] == "cruise"
    # Silver Week 2026: Mon 21 (holiday), Tue 22 (national holiday), Wed 23 (equinox)
    september = fc.calendar_features(pd.date_range("2026-09-21", "2026-09-24", freq="D"))
    assert september["holiday"].tolist() == [1.0, 1.0, 1.0, 0.0]


def test_mase_matches_an_independent_computation():
    rng = np.random.default_rng(3)
    history = rng.poisson(100, size=40).astype(float)
    naive_errors = [abs(history[t] - history[t - 7]) for t in range(7, 40)]
    assert fc.mase_scale(history) == pytest.approx(sum(naive_errors) / len(naive_errors))
    points = pd.DataFrame(
        {
            "source_kind": "entry_log",
            "facility_id": "x",
            "origin_date": date(2026, 11, 1),
            "actual": [10.0, 20.0, 30.0],
            "forecast": [12.0, 18.0, 33.0],
            "seasonal_naive": [5.0, 25.0, 30.0],
            "mase_scale": [4.0, 4.0, 4.0],
            "lo80": [9.0, 19.0, 31.0],
            "hi80": [11.0, 21.0, 35.0],
            "lo95": [5.0, 15.0, 25.0],
            "hi95": [15.0, 25.0, 35.0],
        }
    )
    overall = fc.summarise_backtest(points).set_index("facility_id").loc["(all)"]
    assert overall["mase"] == pytest.approx((2 + 2 + 3) / 3 / 4)
    assert overall["relative_mae"] == pytest.approx((2 + 2 + 3) / (5 + 5 + 0))
    assert overall["coverage80"] == pytest.approx(2 / 3)
    assert overall["coverage95"] == 1.0


def test_the_model_recovers_weekday_and_cruise_effects():
    values = synthetic(800, seed=1, first=pd.Timestamp("2026-03-01"), cruise=CRUISE)
    features = fc.calendar_features(pd.DatetimeIndex(values.index), CRUISE)
    fitted = fc.fit(values.to_numpy(), features)
    coef = dict(zip(fitted.columns, fitted.params))
    assert np.exp(coef["dow_sat"]) == pytest.approx(1.6, rel=0.08)
    assert coef["cruise_thousands"] == pytest.approx(0.5, abs=0.08)
    assert np.exp(coef["holiday"]) == pytest.approx(1.6, rel=0.15)


def test_backtest_beats_seasonal_naive_and_intervals_cover():
    items = [series(f"f{i}", synthetic(level, seed=i)) for i, level in enumerate((60, 150, 400, 900, 1500, 2500))]
    run = fc.run_forecast(items, {"entry_log": LAST_DAY}, CRUISE, _no_hours())
    overall = run.backtest.set_index("facility_id").loc["(all)"]
    assert overall["points"] == 6 * SCORED_DAYS
    assert overall["mase"] < 0.9
    assert overall["relative_mae"] < 0.9
    assert 0.7 <= overall["coverage80"] <= 0.92
    assert overall["coverage95"] >= 0.88


def _no_hours() -> pd.DataFrame:
    return pd.DataFrame(columns=["service_date", "source_kind", "facility_id", "hour_of_day", "count"])


def test_forecast_rows_next_14_days_with_nested_intervals_and_cruise_marked():
    result = fc.forecast_series(series("glover", synthetic(1000, seed=5)), LAST_DAY, CRUISE)
    daily = result.daily
    assert list(daily["forecast_date"]) == [date(2026, 11, 15 + i) for i in range(14)]
    assert (daily["status"] == "forecast").all()
    assert (daily["lo95"] <= daily["lo80"]).all() and (daily["lo80"] <= daily["forecast"]).all()
    assert (daily["forecast"] <= daily["hi80"]).all() and (daily["hi80"] <= daily["hi95"]).all()
    cruise_day = daily.set_index("forecast_date").loc[date(2026, 11, 17)]
    plain_tuesday = daily.set_index("forecast_date").loc[date(2026, 11, 24)]
    assert cruise_day["day_class"] == "cruise" and cruise_day["cruise_capacity"] == 2500
    assert cruise_day["forecast"] > 2.5 * plain_tuesday["forecast"]  # true lift exp(1.25) = 3.5


def test_hours_add_up_to_the_day_and_follow_the_profile():
    values = synthetic(1000, seed=6)
    days = pd.DatetimeIndex(values.index)
    shares = np.zeros(24)
    shares[9:17] = [1, 2, 3, 3, 2, 2, 1, 1]
    shares /= shares.sum()
    hourly = pd.DataFrame(
        [
            {
                "service_date": d,
                "source_kind": "entry_log",
                "facility_id": "glover",
                "hour_of_day": h,
                "count": round(values[d] * shares[h]),
            }
            for d in days
            for h in range(9, 17)
        ]
    )
    run = fc.run_forecast([series("glover", values)], {"entry_log": LAST_DAY}, CRUISE, hourly, backtest=False)
    per_day = run.hourly.groupby("forecast_date")["forecast"].sum()
    daily = run.daily.set_index("forecast_date")["forecast"]
    assert np.allclose(per_day.to_numpy(), daily.loc[per_day.index].to_numpy(), rtol=0.01)
    assert sorted(run.hourly["hour_of_day"].unique()) == list(range(9, 17))
    peak = run.hourly[run.hourly["forecast_date"] == date(2026, 11, 16)].set_index("hour_of_day")
    assert peak["forecast"].idxmax() in (11, 12)
    assert (peak["lo80"] <= peak["forecast"] + 1).all() and (peak["forecast"] <= peak["hi80"] + 1).all()


def test_too_little_history_gives_a_stated_reason_not_a_fit():
    short = synthetic(500, seed=7, first=LAST_DAY - pd.Timedelta(days=19), cruise=None)
    result = fc.forecast_series(series("new_gate", short, kind_first=short.index.min()), LAST_DAY, CRUISE)
    assert result.counts is None
    assert set(result.daily["status"]) == {"insufficient_history"}
    assert result.daily["forecast"].isna().all()
    assert result.daily["reason_ja"].iloc[0].startswith("履歴不足")
    assert "insufficient history (20 observed days" in result.daily["reason_en"].iloc[0]


def test_a_recently_opened_facility_gets_its_own_reason():
    opened = synthetic(500, seed=8, first=pd.Timestamp("2026-10-24"), cruise=None)
    result = fc.forecast_series(series("new_museum", opened), LAST_DAY, CRUISE)
    assert set(result.daily["status"]) == {"recently_opened"}
    assert "2026-10-24" in result.daily["reason_ja"].iloc[0] and "開業" in result.daily["reason_ja"].iloc[0]
    assert result.daily["reason_en"].iloc[0].startswith("opened recently (data only since 2026-10-24")


def test_a_regular_closing_day_is_stated_and_not_forecast():
    values = synthetic(700, seed=9)
    values[values.index.weekday == 0] = 0.0  # closed on Mondays (月曜休館)
    result = fc.forecast_series(series("museum", values), LAST_DAY, CRUISE)
    daily = result.daily.set_index("forecast_date")
    mondays = [date(2026, 11, 16), date(2026, 11, 23)]
    assert (daily.loc[mondays, "status"] == "closed").all()
    assert daily.loc[mondays, "forecast"].isna().all()
    assert daily.loc[date(2026, 11, 16), "reason_ja"] == "休館日（直近 3 回の月曜日は入場なし）"
    others = daily.drop(index=mondays)
    assert (others["status"] == "forecast").all()
    # the zeros did not drag the level down: Tuesdays are forecast near their true mean
    assert others.loc[date(2026, 11, 17), "forecast"] == pytest.approx(700 * 0.95 * np.exp(1.25), rel=0.2)


def test_without_a_cruise_timetable_the_forecast_runs_and_says_so():
    run = fc.run_forecast(
        [series("glover", synthetic(1000, seed=10, cruise=None))], {"entry_log": LAST_DAY}, None, _no_hours(), backtest=False
    )
    assert (run.daily["status"] == "forecast").all()
    assert (run.daily["cruise_capacity"] == 0).all()
    assert set(run.daily["note_en"]) == {"no cruise timetable loaded: cruise calls are not modelled"}


def test_the_same_input_gives_the_same_forecast():
    item = series("glover", synthetic(1000, seed=11))
    first = fc.run_forecast([item], {"entry_log": LAST_DAY}, CRUISE, _no_hours())
    second = fc.run_forecast([item], {"entry_log": LAST_DAY}, CRUISE, _no_hours())
    pd.testing.assert_frame_equal(first.daily, second.daily)
    pd.testing.assert_frame_equal(first.backtest, second.backtest)


def test_an_empty_cruise_timetable_is_a_warning_not_a_failure(caplog):
    import duckdb

    con = duckdb.connect()
    con.execute("create schema staging")
    con.execute("create table staging.stg_cruise_call (service_date date, passenger_capacity bigint)")
    with caplog.at_level("WARNING", logger="flowlib.forecast"):
        assert fc.read_cruise(con) is None
    assert "no cruise timetable loaded" in caplog.text
    con.execute("insert into staging.stg_cruise_call values (DATE '2026-11-17', 3090)")
    assert fc.read_cruise(con).to_dict() == {pd.Timestamp("2026-11-17"): 3090.0}


def test_a_facility_silent_for_three_weeks_is_stated_not_forecast():
    values = synthetic(700, seed=12)
    values[values.index > LAST_DAY - pd.Timedelta(days=21)] = 0.0  # closed for works, or the gate stopped delivering
    result = fc.forecast_series(series("museum", values), LAST_DAY, CRUISE)
    assert set(result.daily["status"]) == {"no_recent_data"}
    assert result.daily["forecast"].isna().all() and result.counts is None
    assert result.daily["reason_en"].iloc[0] == "no counts in the last 3 weeks (closed or not delivering)"


def test_interval_bounds_are_the_quantiles_of_each_level():
    """interval_columns takes the four bounds in one call: each must equal its own quantile."""
    from flowlib.forecast import LEVELS, interval_columns

    rng = np.random.default_rng(5)
    for shape in ((2000,), (14, 2000), (3, 24, 500)):
        counts = rng.negative_binomial(4, 0.05, size=shape).astype(float)
        bands = interval_columns(counts)
        expected = {}
        for level in LEVELS:
            tail = (1 - level) / 2
            expected[f"lo{round(level * 100)}"] = np.quantile(counts, tail, axis=-1)
            expected[f"hi{round(level * 100)}"] = np.quantile(counts, 1 - tail, axis=-1)
        assert list(bands) == ["lo80", "hi80", "lo95", "hi95"]
        for name, values in expected.items():
            assert np.array_equal(bands[name], values), name
