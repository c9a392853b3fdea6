"""Hourly forecast bands: the day-to-day variation of the hourly shares (a Dirichlet-multinomial
concentration, checked against a hand-written likelihood) is in the bands, and the backtest's
hourly coverage is right on shares that vary and on the demo's own simulation."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.special import gammaln
from test_forecast import CRUISE, LAST_DAY, SCORED_DAYS, series, synthetic

from flowlib import demo
from flowlib import forecast as fc

SHARES = np.array([1, 2, 3, 3, 2, 2, 1, 1], dtype=float) / 15
HOURS = range(9, 17)


def _dirichlet_hours(values: pd.Series, facility: str, concentration: float, seed: int) -> pd.DataFrame:
    """Each day's count split over hours 9-16 with shares drawn from Dirichlet(concentration * SHARES)."""
    rng = np.random.default_rng(seed)
    rows = []
    for day, total in values.items():
        split = rng.multinomial(int(total), rng.dirichlet(concentration * SHARES))
        rows += [
            {"service_date": day, "source_kind": "entry_log", "facility_id": facility, "hour_of_day": h, "count": float(c)}
            for h, c in zip(HOURS, split)
        ]
    return pd.DataFrame(rows)


def _hand_loglik(matrix: np.ndarray, shares: np.ndarray, a: float) -> float:
    """Dirichlet-multinomial log-likelihood written out with log-gamma functions."""
    alpha = a * shares
    n = matrix.sum(axis=1)
    return float(
        np.sum(
            gammaln(n + 1)
            + gammaln(a)
            - gammaln(n + a)
            + np.sum(gammaln(matrix + alpha) - gammaln(alpha) - gammaln(matrix + 1), axis=1)
        )
    )


def test_share_concentration_is_the_maximum_of_a_hand_written_likelihood_and_recovers_the_planted_one():
    values = synthetic(1500, seed=31)
    hourly = _dirichlet_hours(values, "glover", concentration=40.0, seed=32)
    hourly = hourly.assign(service_date=pd.to_datetime(hourly["service_date"]))
    # one day class for every day, so the profile is the pooled one
    classes = pd.Series("weekday", index=pd.DatetimeIndex(values.index))
    profiles = fc.hourly_profiles(hourly[["service_date", "hour_of_day", "count"]], classes)
    fitted = fc.share_concentration(hourly, classes, profiles)
    assert fitted == pytest.approx(40.0, rel=0.3)
    matrix = hourly.pivot(index="service_date", columns="hour_of_day", values="count").to_numpy()
    grid = np.exp(np.linspace(np.log(5), np.log(500), 2001))
    best = grid[np.argmax([_hand_loglik(matrix, profiles["weekday"][9:17], a) for a in grid])]
    assert fitted == pytest.approx(best, rel=0.01)


def test_day_classes_with_different_open_hours_are_fitted_together():
    """Weekdays open 8 hours and weekends 10: the likelihood is evaluated in blocks of equal
    open hours (one scipy call each) and must be the sum over every day, in its class."""
    values = synthetic(1500, seed=35)
    rng = np.random.default_rng(36)
    weekend_shares = np.array([1, 2, 3, 3, 2, 2, 1, 1, 2, 1], dtype=float) / 18
    rows, classes = [], {}
    for day, total in values.items():
        weekend = pd.Timestamp(day).dayofweek >= 5
        shares, hours = (weekend_shares, range(9, 19)) if weekend else (SHARES, HOURS)
        classes[pd.Timestamp(day)] = "weekend_holiday" if weekend else "weekday"
        split = rng.multinomial(int(total), rng.dirichlet(25.0 * shares))
        rows += [{"service_date": pd.Timestamp(day), "hour_of_day": h, "count": float(c)} for h, c in zip(hours, split)]
    hourly = pd.DataFrame(rows)
    day_classes = pd.Series(classes)
    profiles = fc.hourly_profiles(hourly, day_classes)
    fitted = fc.share_concentration(hourly, day_classes, profiles)
    matrix = hourly.pivot(index="service_date", columns="hour_of_day", values="count").fillna(0.0)
    weekend_days = [day_classes[day] == "weekend_holiday" for day in matrix.index]
    blocks = [
        (matrix[~np.array(weekend_days)][list(HOURS)].to_numpy(), profiles["weekday"][9:17]),
        (matrix[np.array(weekend_days)][list(range(9, 19))].to_numpy(), profiles["weekend_holiday"][9:19]),
    ]
    assert all(len(counts) for counts, _ in blocks)
    grid = np.exp(np.linspace(np.log(5), np.log(500), 2001))
    best = grid[np.argmax([sum(_hand_loglik(counts, shares, a) for counts, shares in blocks) for a in grid])]
    assert fitted == pytest.approx(best, rel=0.01)
    assert fitted == pytest.approx(25.0, rel=0.3)


def test_multinomial_shares_give_an_infinite_concentration_and_hidden_hours_are_left_out():
    values = synthetic(1500, seed=33)
    rng = np.random.default_rng(34)
    hourly = pd.DataFrame(
        [
            {"service_date": d, "hour_of_day": h, "count": float(c)}
            for d, total in values.items()
            for h, c in zip(HOURS, rng.multinomial(int(total), SHARES))
        ]
    )
    classes = pd.Series("weekday", index=pd.DatetimeIndex(values.index))
    profiles = fc.hourly_profiles(hourly, classes)
    assert fc.share_concentration(hourly, classes, profiles) > 2000
    # A hidden hour is NaN: its day says nothing about the shares and it is not counted as 0.
    hidden = hourly.copy()
    hidden.loc[hidden["hour_of_day"] == 9, "count"] = np.nan
    assert fc.share_concentration(hidden, classes, fc.hourly_profiles(hidden, classes)) == float("inf")
    assert fc.hourly_profiles(hidden, classes)["weekday"][9] == 0.0


def _overdispersed_run() -> fc.ForecastRun:
    items, hours = [], []
    for i, level in enumerate((800, 1500, 2500)):
        values = synthetic(level, seed=40 + i)
        items.append(series(f"f{i}", values))
        hours.append(_dirichlet_hours(values, f"f{i}", concentration=30.0, seed=50 + i))
    return fc.run_forecast(items, {"entry_log": LAST_DAY}, CRUISE, pd.concat(hours, ignore_index=True))


def test_hourly_bands_cover_when_the_shares_vary_from_day_to_day(monkeypatch):
    overall = _overdispersed_run().backtest.set_index("facility_id").loc["(all)"]
    assert overall["hourly_points"] == 3 * SCORED_DAYS * 8
    assert 0.70 <= overall["hourly_coverage80"] <= 0.90
    assert 0.88 <= overall["hourly_coverage95"] <= 0.99
    # The mechanism: splitting by the profile alone (a multinomial) gives bands far too narrow.
    monkeypatch.setattr(fc, "share_concentration", lambda *args: float("inf"))
    multinomial = _overdispersed_run().backtest.set_index("facility_id").loc["(all)"]
    assert multinomial["hourly_coverage80"] < 0.6


def test_hourly_coverage_is_the_share_of_hours_inside_each_band():
    points = pd.DataFrame(
        {
            "source_kind": "entry_log",
            "facility_id": ["a", "a", "a", "b"],
            "origin_date": date(2026, 11, 1),
            "forecast_date": date(2026, 11, 2),
            "hour_of_day": [9, 10, 11, 9],
            "actual": [5.0, 9.0, 20.0, 3.0],
            "forecast": [6.0, 8.0, 10.0, 3.0],
            "lo80": [4.0, 7.0, 8.0, 4.0],
            "hi80": [8.0, 9.0, 12.0, 6.0],
            "lo95": [3.0, 6.0, 7.0, 2.0],
            "hi95": [9.0, 10.0, 14.0, 7.0],
        }
    )
    cover = fc.hourly_coverage(points).set_index("facility_id")
    assert cover.loc["a", "hourly_coverage80"] == pytest.approx(2 / 3)
    assert cover.loc["a", "hourly_coverage95"] == pytest.approx(2 / 3)
    assert cover.loc["(all)", "hourly_coverage80"] == pytest.approx(2 / 4)
    assert cover.loc["(all)", "hourly_coverage95"] == pytest.approx(3 / 4)
    assert cover.loc["(all)", "hourly_points"] == 4


def _demo_taps(first: date, last: date, scale: float) -> pd.DataFrame:
    """The demo's own visitor simulation (``flowlib.demo.generate`` without writing files): one row per gate tap."""
    net = demo._build_network()
    used: set[int] = set()
    returning = demo._Visitors.empty(len(net.facility_ids))
    frames, day = [], first
    while day <= last:
        rng = np.random.default_rng([demo.DEFAULT_SEED, day.toordinal()])
        visitors = demo._arrivals(rng, day, scale, returning, len(net.facility_ids), used)
        taps = demo._taps(rng, demo._plan_stops(rng, net, visitors))
        returning = demo._staying_another_day(rng, visitors, len(returning), taps)
        entries = demo._entry_rows(net, visitors, taps)
        frames.append(
            pd.DataFrame(
                {
                    "service_date": pd.Timestamp(day),
                    "facility_id": entries["facility_id"],
                    "hour_of_day": entries["second"] // 3600,
                }
            )
        )
        day += timedelta(days=1)
    return pd.concat(frames, ignore_index=True)


def test_hourly_coverage_on_the_demo_history():
    last = pd.Timestamp(demo.DEMO_START - timedelta(days=1))
    first = last - pd.Timedelta(weeks=8) + pd.Timedelta(days=1)
    taps = _demo_taps(first.date(), last.date(), scale=0.2)
    facilities = ["glover_garden", "dejima", "oura_cathedral", "atomic_bomb_museum", "penguin_aquarium"]
    taps = taps[taps["facility_id"].isin(facilities)]
    hourly = (
        taps.groupby(["service_date", "facility_id", "hour_of_day"])
        .size()
        .rename("count")
        .reset_index()
        .assign(source_kind="entry_log", count=lambda f: f["count"].astype(float))
    )
    days = pd.date_range(first, last, freq="D")
    items = [
        fc.Series("entry_log", f, rows.groupby("service_date").size().reindex(days, fill_value=0).astype(float), first)
        for f, rows in taps.groupby("facility_id")
    ]
    cruise = pd.Series(3000.0, index=pd.DatetimeIndex(sorted(pd.Timestamp(d) for d in demo.CRUISE_DAYS)))
    run = fc.run_forecast(items, {"entry_log": last}, cruise, hourly)
    overall = run.backtest.set_index("facility_id").loc["(all)"]
    assert overall["hourly_points"] > 1000
    assert 0.70 <= overall["hourly_coverage80"] <= 0.90
    assert 0.88 <= overall["hourly_coverage95"] <= 0.99


def test_hidden_hours_are_read_as_missing_and_the_hourly_backtest_reaches_the_mart_and_the_page():
    import duckdb

    from flowlib.dashboards.forecast_page import Lookahead, render_forecast_page

    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.facility_entries_hourly (service_date date, source_kind varchar, facility_id varchar, "
        "hour_of_day smallint, entries bigint, visitors bigint, is_suppressed boolean)"
    )
    con.execute(
        "insert into marts.facility_entries_hourly values (DATE '2026-11-01', 'entry_log', 'dejima', 9, null, null, true), "
        "(DATE '2026-11-01', 'entry_log', 'dejima', 10, 14, 14, false)"
    )
    read = fc.read_hourly(con).set_index("hour_of_day")["count"]
    assert pd.isna(read.loc[9]) and read.loc[10] == 14
    values = synthetic(1200, seed=60)
    run = fc.run_forecast(
        [series("glover", values)],
        {"entry_log": LAST_DAY},
        CRUISE,
        _dirichlet_hours(values, "glover", concentration=30.0, seed=61),
    )
    counts = fc.write_forecast(con, run)
    assert counts["marts.forecast_backtest_hourly_points"] == SCORED_DAYS * 8
    stored = con.execute(
        "select hourly_points, hourly_coverage80, hourly_coverage95 from marts.forecast_backtest where facility_id = '(all)'"
    ).fetchone()
    overall = run.backtest.set_index("facility_id").loc["(all)"]
    assert stored == (
        overall["hourly_points"],
        pytest.approx(overall["hourly_coverage80"]),
        pytest.approx(overall["hourly_coverage95"]),
    )
    page = render_forecast_page(
        Lookahead(run.daily, run.hourly, run.backtest, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    )
    assert f'<td class="num hourly-c80">{100 * overall["hourly_coverage80"]:.1f}%</td>' in page
