"""Circulation opportunities: the gravity model on planted data and on the real Kanazawa stays.

* Planted: moves drawn from a known gravity model with one close pair cut to a tenth; the
  fit must recover the distance coefficient, agree with an independent maximum-likelihood
  fit (scipy.optimize on the Poisson log-likelihood, written here), flag the cut pair and
  no other.
* Kanazawa: the consortium's stays loaded through sources/examples/hokuriku_stays.yaml
  and the real ingest, moves from the pipeline's int_transitions, facility coordinates from
  the publisher's facility list. The fit is recorded (printed) and checked against its own
  definition; the listed pairs are the same when the input rows come in another order.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import load_kanazawa_stays

from flowlib.opportunities import CLOSE_MINUTES, fit_gravity, under_connected, walking_minutes


def planted(seed: int = 3, cut: float = 0.1) -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, str]]:
    rng = np.random.default_rng(seed)
    n = 12
    coordinates = pd.DataFrame(
        {
            "facility_id": [f"f{i:02d}" for i in range(n)],
            "lat": 32.74 + rng.uniform(-0.02, 0.02, n),
            "lon": 129.87 + rng.uniform(-0.02, 0.02, n),
        }
    )
    pairs = walking_minutes(coordinates)
    origin = dict(zip(coordinates["facility_id"], rng.uniform(5.5, 7.0, n)))
    pull = dict(zip(coordinates["facility_id"], rng.uniform(0.0, 1.5, n)))
    mean = np.exp(
        pairs["from_facility_id"].map(origin) + pairs["to_facility_id"].map(pull) - 1.0 * np.log(pairs["walking_minutes"])
    )
    close = pairs[(pairs["walking_minutes"] <= CLOSE_MINUTES) & (mean >= 60)]
    target = close.index[0]
    mean = mean.where(pairs.index != target, mean * cut)
    moves = pairs.assign(moves=rng.poisson(mean))[["from_facility_id", "to_facility_id", "moves"]]
    cut_pair = (pairs.at[target, "from_facility_id"], pairs.at[target, "to_facility_id"])
    return moves, coordinates, cut_pair


def independent_fit(pairs: pd.DataFrame) -> np.ndarray:
    """Maximum likelihood of the same Poisson model with scipy.optimize (no statsmodels)."""
    from scipy.optimize import minimize

    origins = sorted(pairs["from_facility_id"].unique())
    destinations = sorted(pairs["to_facility_id"].unique())
    o = pairs["from_facility_id"].map({f: i for i, f in enumerate(origins)}).to_numpy()
    d = pairs["to_facility_id"].map({f: i for i, f in enumerate(destinations)}).to_numpy()
    x = np.log(np.maximum(pairs["walking_minutes"].to_numpy(), 1.0))
    y = pairs["moves"].to_numpy(float)

    def split(theta):
        a = np.concatenate([[0.0], theta[1 : len(origins)]])
        b = np.concatenate([[0.0], theta[len(origins) : len(origins) + len(destinations) - 1]])
        return theta[0] + a[o] + b[d] + theta[-1] * x

    def loss(theta):
        eta = split(theta)
        mu = np.exp(eta)
        residual = y - mu
        grad_eta = -residual
        grad = np.zeros_like(theta)
        grad[0] = grad_eta.sum()
        np.add.at(grad, 1 + (o[o > 0] - 1), grad_eta[o > 0])
        np.add.at(grad, len(origins) + (d[d > 0] - 1), grad_eta[d > 0])
        grad[-1] = (grad_eta * x).sum()
        return float((mu - y * eta).sum()), grad

    theta0 = np.zeros(len(origins) + len(destinations))
    theta0[0] = np.log(y.mean())
    result = minimize(loss, theta0, jac=True, method="BFGS", options={"gtol": 1e-8, "maxiter": 5000})
    return np.exp(split(result.x))


def test_planted_under_connection_is_found_and_nothing_else():
    moves, coordinates, cut_pair = planted()
    fit, pairs = fit_gravity(moves, coordinates)
    assert fit.status == "fitted"
    assert fit.distance_ci_low < -1.0 < fit.distance_ci_high or abs(fit.distance_coefficient + 1.0) < 0.15
    judged = under_connected(pairs, fit)
    flagged = {(r.from_facility_id, r.to_facility_id) for r in judged.itertuples() if r.under_connected}
    assert flagged == {cut_pair}
    # without the cut, nothing is flagged
    moves_uncut, coordinates, _ = planted(cut=1.0)
    fit_uncut, pairs_uncut = fit_gravity(moves_uncut, coordinates)
    assert not under_connected(pairs_uncut, fit_uncut)["under_connected"].any()


def test_glm_agrees_with_an_independent_maximum_likelihood_fit():
    moves, coordinates, _ = planted(seed=11)
    fit, pairs = fit_gravity(moves, coordinates)
    assert pairs["expected_moves"].to_numpy() == pytest.approx(independent_fit(pairs), rel=1e-4)
    y, mu = pairs["moves"].to_numpy(float), pairs["expected_moves"].to_numpy()
    deviance = 2 * np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0.0) - (y - mu))
    assert fit.deviance == pytest.approx(deviance, rel=1e-6)
    assert fit.pseudo_r2 == pytest.approx(1 - deviance / fit.null_deviance, rel=1e-9)


def test_too_little_data_is_a_stated_reason_not_a_fit():
    coordinates = pd.DataFrame({"facility_id": ["a", "b", "c"], "lat": [32.74, 32.75, 32.76], "lon": [129.87] * 3})
    moves = pd.DataFrame({"from_facility_id": ["a", "b"], "to_facility_id": ["b", "c"], "moves": [3, 2]})
    fit, pairs = fit_gravity(moves, coordinates)
    assert fit.status in ("too_few_moves", "too_few_facilities") and pairs.empty and fit.pseudo_r2 is None


def test_a_fit_too_uncertain_for_an_interval_gets_none_and_is_not_flagged():
    """A mean of 1e300 (a pair the fit cannot bound) once kept Boost's quantile search busy
    for minutes per pair; it has no interval and flags nothing."""
    from flowlib.opportunities import prediction_interval

    expected = np.array([12.0, 1e300, 40.0, np.nan])
    low, high = prediction_interval(expected, np.array([0.1, 0.1, 400.0, 0.1]), np.array([0.3, 0.3, 0.3, 0.3]))
    assert np.isfinite(low[0]) and np.isfinite(high[0]) and low[0] < 12 < high[0]
    assert np.isnan(low[1:]).all() and np.isnan(high[1:]).all()


# ------------------------------------------------------------------ Kanazawa

KANAZAWA_FIRST, KANAZAWA_LAST = date(2024, 8, 26), date(2024, 10, 30)


@pytest.fixture(scope="module")
def kanazawa(tmp_path_factory, realdata: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from flowlib.models import build_range
    from flowlib.warehouse import writer

    folder = realdata / "hokuriku_wifi_sensor"
    settings = load_kanazawa_stays(realdata, tmp_path_factory.mktemp("kanazawa"), "kanazawa-test")
    with writer(settings) as con:
        build_range(
            con,
            KANAZAWA_FIRST,
            KANAZAWA_LAST,
            settings,
            only=["int_sensor_stays", "int_codes", "int_stop_rows", "int_stops", "int_transitions"],
        )
        moves = con.execute(
            "select strftime(service_date, '%Y-%m') as month, from_facility_id, to_facility_id, "
            "count(*) as moves from intermediate.int_transitions group by all order by all"
        ).df()
    listing = pd.read_csv(folder / "facility_list.csv", encoding="utf-8-sig")
    coordinates = pd.DataFrame({"facility_id": listing["No."].astype(str), "lat": listing["緯度"], "lon": listing["経度"]})
    return moves, coordinates


def test_kanazawa_fit_is_recorded_and_its_listed_pairs_are_reproducible(kanazawa):
    moves, coordinates = kanazawa
    whole = moves.groupby(["from_facility_id", "to_facility_id"], as_index=False)["moves"].sum().assign(month="all")
    for month in ("all", "2024-09", "2024-10"):
        month_moves = pd.concat([moves, whole])
        month_moves = month_moves[month_moves["month"] == month].drop(columns="month")
        fit, pairs = fit_gravity(month_moves, coordinates)
        print(f"Kanazawa {month}: {fit}")  # the record (pytest -s)
        assert fit.status == "fitted" and fit.n_facilities >= 8 and fit.moves > 1000
        if month == "all":  # over ten weeks, moves fall off with walking time
            assert fit.n_facilities >= 12 and fit.distance_ci_high < 0
        assert 0.5 < fit.pseudo_r2 <= 1 and fit.pseudo_r2 == pytest.approx(1 - fit.deviance / fit.null_deviance)
        listed = under_connected(pairs, fit)
        listed = listed[listed["tier"].notna()][["from_facility_id", "to_facility_id", "tier"]]
        shuffled = month_moves.sample(frac=1.0, random_state=5)
        fit_again, pairs_again = fit_gravity(shuffled, coordinates.sample(frac=1.0, random_state=6))
        again = under_connected(pairs_again, fit_again)
        again = again[again["tier"].notna()][["from_facility_id", "to_facility_id", "tier"]]
        assert fit_again.deviance == pytest.approx(fit.deviance, rel=1e-9)
        assert listed.reset_index(drop=True).equals(again.reset_index(drop=True))
        print(f"Kanazawa {month} listed pairs: {listed.to_dict('records')}")
