"""Crowding forecast: visitors per facility per day and per hour for the next 14 days.

What is modelled (docs/forecast.md says more): per facility and source kind, the daily count
(admissions for entry logs, distinct devices for Wi-Fi sensors) is a negative-binomial
regression with a log link (``statsmodels.discrete.discrete_model.NegativeBinomial``, NB2)
on the day of the week, a public holiday on a weekday, a bridge day (a working day between
two days off, ``holidays``) and the passenger capacity of the day's cruise-ship calls
(``staging.stg_cruise_call``, in thousands). Intervals are predictive quantiles of the
fitted distribution: ``SIMULATIONS`` coefficient vectors are drawn from the estimate's
asymptotic normal distribution, and one negative-binomial count from each (so both the
parameter uncertainty and the day's own noise are in the band). The hourly forecast splits
each simulated day into hours with a Dirichlet-multinomial draw around the facility's hourly
profile (weekday / weekend-holiday / cruise day, from the same history; the concentration by
maximum likelihood, ``share_concentration``), so hours add up to the day and the hourly bands
carry the day-to-day variation of the hourly shares.

Why statsmodels and not Nixtla: ``statsforecast`` and ``mlforecast`` both require pandas
< 3 (``uv pip install --dry-run`` downgrades the pinned pandas 3.1.1); statsmodels is
already pinned. A count GLM also suits counts in the tens with exogenous events better
than an ETS/ARIMA on ten weeks of data.

No fit but a stated reason (``status`` + ``reason_ja`` / ``reason_en``) when a series has
fewer than ``MIN_HISTORY_DAYS`` observed days (履歴不足), when a facility's data begins after
its source's (開業から日が浅い, recently opened) with too little history, and for a day of the
week on which the facility has admitted nobody on each of its last ``CLOSED_WEEKS``
occurrences (休館日, a regular closing day). Without a cruise timetable the forecast still
runs, without the cruise regressor, and every row says so.

The backtest refits at ``BACKTEST_ORIGINS`` rolling origins, the last Sundays at least a
week before the last day (``backtest_origins``), and scores each following day up to the
horizon: MASE (scaled by the in-sample seasonal-naive error, the
same weekday a week earlier; hand-written because statsmodels has no MASE, checked against
an independent computation in tests/test_forecast.py), the MAE relative to the
seasonal-naive forecast of the same days, and the share of days (and of hours) inside each
interval. What the model said at an origin is kept (``ops.forecast_origin_daily`` /
``_hourly``) and refitted only when the data up to it change; a series whose inputs are all
unchanged keeps all its rows (``ops.forecast_inputs``; docs/forecast.md).
"""

from __future__ import annotations

import functools
import logging
import warnings
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import duckdb
import holidays
import numpy as np
import pandas as pd

from flowlib.input_digest import code_fingerprint, input_digest
from flowlib.queries import run
from flowlib.warehouse import replace_with_frame, transaction

log = logging.getLogger(__name__)

MODEL = "statsmodels NegativeBinomial (NB2, log link): weekday + holiday + bridge day + cruise capacity"
HORIZON_DAYS = 14
MIN_HISTORY_DAYS = 28
#: A regressor enters a facility's model only if this many training days carry it.
MIN_EVENT_DAYS = 2
#: Upper bound of the hourly shares' Dirichlet concentration; at it the split is a plain multinomial.
MAX_SHARE_CONCENTRATION = 1e5
#: A weekday with no admissions on each of its last this many occurrences is a closing day.
CLOSED_WEEKS = 3
BACKTEST_ORIGINS = 4
BACKTEST_STEP_DAYS = 7
SIMULATIONS = 2000
LEVELS = (0.80, 0.95)
SEED = 20261118
#: The count each source kind forecasts: admissions at gates, distinct devices at sensors.
TARGET_COLUMN = {"entry_log": "entries", "wifi_sensor": "visitors"}
NO_CRUISE_NOTE = (
    "客船入港予定が未読込のため、クルーズ寄港は考慮していません",
    "no cruise timetable loaded: cruise calls are not modelled",
)

_WEEKDAYS_JA = "月火水木金土日"
_WEEKDAYS_EN = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


# ----------------------------------------------------------------------------- calendar


@functools.cache
def _japan_holidays(years: tuple[int, ...]) -> frozenset[date]:
    """Japan's public holidays in ``years``; built once per set of years (holidays computes
    each year's calendar on construction, which the backtest's refits repeated thousands of times)."""
    return frozenset(holidays.Japan(years=list(years)))


def _days_off(days: pd.DatetimeIndex) -> np.ndarray:
    jp = _japan_holidays(tuple(sorted({d.year for d in days} | {d.year + 1 for d in days} | {d.year - 1 for d in days})))
    return np.array([d.weekday() >= 5 or d.date() in jp for d in days], dtype=bool)


def calendar_features(days: pd.DatetimeIndex, cruise_capacity: pd.Series | None = None) -> pd.DataFrame:
    """Regressors per day: weekday dummies (Monday = base), weekday holiday, bridge day, cruise.

    A bridge day (飛び石の平日) is a working day whose previous and next days are both off.
    ``cruise_capacity`` is passengers by day (missing days have no call), used in thousands.
    """
    days = pd.DatetimeIndex(days)
    jp = _japan_holidays(tuple(sorted({d.year for d in days})))
    weekday = days.weekday.to_numpy()
    holiday = np.array([d.date() in jp for d in days], dtype=bool)
    before = _days_off(days - pd.Timedelta(days=1))
    after = _days_off(days + pd.Timedelta(days=1))
    off = (weekday >= 5) | holiday
    frame = pd.DataFrame({"const": 1.0}, index=days)
    for number, name in enumerate(("tue", "wed", "thu", "fri", "sat", "sun"), start=1):
        frame[f"dow_{name}"] = (weekday == number).astype(float)
    frame["holiday"] = (holiday & (weekday < 5)).astype(float)
    frame["bridge_day"] = (~off & before & after).astype(float)
    capacity = (
        cruise_capacity.reindex(days).fillna(0.0).to_numpy(dtype=float) if cruise_capacity is not None else np.zeros(len(days))
    )
    frame["cruise_thousands"] = capacity / 1000.0
    return frame


def day_class(features: pd.DataFrame) -> pd.Series:
    """weekday / weekend_holiday / cruise: which hourly profile a day follows."""
    weekend = (features["dow_sat"] + features["dow_sun"] + features["holiday"]) > 0
    return pd.Series(
        np.where(features["cruise_thousands"] > 0, "cruise", np.where(weekend, "weekend_holiday", "weekday")),
        index=features.index,
    )


# ----------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Fitted:
    columns: list[str]
    params: np.ndarray
    cov: np.ndarray
    alpha: float


def fit(y: np.ndarray, features: pd.DataFrame) -> Fitted:
    """NB2 regression of the counts on the regressors that vary enough in the training days."""
    from statsmodels.discrete.discrete_model import NegativeBinomial

    candidates = ["const"] + [c for c in features.columns if c != "const" and (features[c] != 0).sum() >= MIN_EVENT_DAYS]
    # Keep a column only if it adds a dimension: when a weekday never occurs in the training
    # days (a closing day) the other dummies would otherwise add up to the constant.
    keep: list[str] = []
    for column in candidates:
        if np.linalg.matrix_rank(features[[*keep, column]].to_numpy(dtype=float)) == len(keep) + 1:
            keep.append(column)
    x = features[keep].to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on near-Poisson series; checked below
        try:
            result = NegativeBinomial(y, x, loglike_method="nb2").fit(disp=0, maxiter=300, method="bfgs")
            params = np.asarray(result.params, dtype=float)
            cov = np.asarray(result.cov_params(), dtype=float)
            if np.all(np.isfinite(cov)) and np.all(np.isfinite(params)) and np.all(np.diag(cov) >= 0):
                return Fitted(keep, params[:-1], cov[:-1, :-1], max(float(params[-1]), 0.0))
        except (ValueError, np.linalg.LinAlgError):
            pass
        return _quasi_poisson(y, x, keep)


def _quasi_poisson(y: np.ndarray, x: np.ndarray, columns: list[str]) -> Fitted:
    """Fallback when the NB likelihood has no usable Hessian (near-Poisson or tiny counts):
    a Poisson GLM with Pearson-scaled covariance, its over-dispersion mapped to NB2's alpha
    by moments (Var = mu + alpha mu^2 at the mean count)."""
    import statsmodels.api as sm

    result = sm.GLM(y, x, family=sm.families.Poisson()).fit(scale="X2")
    mean = float(np.mean(result.fittedvalues)) or 1.0
    alpha = max((float(result.scale) - 1.0) / mean, 0.0)
    return Fitted(columns, np.asarray(result.params, dtype=float), np.asarray(result.cov_params(), dtype=float), alpha)


def simulate(
    fitted: Fitted, features: pd.DataFrame, rng: np.random.Generator, simulations: int = SIMULATIONS
) -> tuple[np.ndarray, np.ndarray]:
    """(point forecast per day, simulated counts [days, simulations]) from the fitted model."""
    x = features[fitted.columns].to_numpy(dtype=float)
    point = np.exp(x @ fitted.params)
    cov = (fitted.cov + fitted.cov.T) / 2
    draws = rng.multivariate_normal(fitted.params, cov, size=simulations, method="eigh", check_valid="ignore")
    mu = np.exp(np.clip(x @ draws.T, -20, 20))
    if fitted.alpha < 1e-8:
        counts = rng.poisson(mu)
    else:
        size = 1.0 / fitted.alpha
        counts = rng.negative_binomial(size, size / (size + mu))
    return point, counts.astype(float)


def interval_columns(counts: np.ndarray) -> dict[str, np.ndarray]:
    """The simulated counts' interval bounds per level (lo80, hi80, lo95, hi95) along the last
    axis. One quantile call for all four: one partition of the simulations instead of four,
    the same values as four calls (each quantile is still the same two order statistics,
    interpolated alike)."""
    names, probabilities = [], []
    for level in LEVELS:
        tail = (1 - level) / 2
        names += [f"lo{round(level * 100)}", f"hi{round(level * 100)}"]
        probabilities += [tail, 1 - tail]
    return dict(zip(names, np.quantile(counts, probabilities, axis=-1)))


def mase_scale(history: np.ndarray, season: int = 7) -> float:
    """Mean absolute error of the in-sample seasonal-naive forecast (NaNs skipped)."""
    diffs = np.abs(history[season:] - history[:-season])
    diffs = diffs[np.isfinite(diffs)]
    return float(diffs.mean()) if len(diffs) else float("nan")


# ----------------------------------------------------------------------------- series


@dataclass
class Series:
    source_kind: str
    facility_id: str
    #: one value per day from the facility's first observed day to the source's last day (NaN = hidden)
    values: pd.Series
    kind_first_day: pd.Timestamp


def _stated(facility_rows: Series, min_history_days: int) -> tuple[str, str, str] | None:
    observed = int(facility_rows.values.notna().sum())
    if observed >= min_history_days:
        return None
    first = facility_rows.values.index.min()
    if first > facility_rows.kind_first_day:
        return (
            "recently_opened",
            f"開業から日が浅い（{first:%Y-%m-%d} 以降の {observed} 日のみ、{min_history_days} 日必要）",
            f"opened recently (data only since {first:%Y-%m-%d}: {observed} days, {min_history_days} needed)",
        )
    return (
        "insufficient_history",
        f"履歴不足（観測 {observed} 日、{min_history_days} 日必要）",
        f"insufficient history ({observed} observed days, {min_history_days} needed)",
    )


def closed_weekdays(values: pd.Series) -> set[int]:
    """Weekdays with zero on each of their last ``CLOSED_WEEKS`` observed occurrences."""
    closed = set()
    for weekday in range(7):
        recent = values[values.index.weekday == weekday].dropna().tail(CLOSED_WEEKS)
        if len(recent) == CLOSED_WEEKS and (recent == 0).all() and (values.dropna() > 0).any():
            closed.add(weekday)
    return closed


def _training(values: pd.Series, closed: set[int]) -> pd.Series:
    """Observed days, without closing days and without isolated zero days (an unannounced closure)."""
    kept = values.dropna()
    kept = kept[~kept.index.weekday.isin(list(closed))]
    return kept[kept > 0] if (kept > 0).mean() > 0.5 else kept


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng([SEED, *(zlib.crc32(str(p).encode()) for p in parts)])


@dataclass
class FacilityForecast:
    daily: pd.DataFrame
    #: simulated daily counts [days, simulations] for the hourly split (None without a fit)
    counts: np.ndarray | None


def _stated_rows(base: pd.DataFrame, stated: tuple[str, str, str]) -> FacilityForecast:
    """Rows that give a reason instead of figures: every number empty, no simulation."""
    nan = np.full(len(base), np.nan)
    return FacilityForecast(
        base.assign(
            status=stated[0], reason_ja=stated[1], reason_en=stated[2], forecast=nan, lo80=nan, hi80=nan, lo95=nan, hi95=nan
        ),
        None,
    )


def forecast_series(
    series: Series,
    last_day: pd.Timestamp,
    cruise: pd.Series | None,
    horizon: int = HORIZON_DAYS,
    min_history_days: int = MIN_HISTORY_DAYS,
) -> FacilityForecast:
    """The next ``horizon`` days after ``last_day`` for one facility, or stated-reason rows."""
    days = pd.date_range(last_day + pd.Timedelta(days=1), periods=horizon, freq="D")
    features = calendar_features(days, cruise)
    base = pd.DataFrame(
        {
            "source_kind": series.source_kind,
            "facility_id": series.facility_id,
            "forecast_date": days.date,
            "horizon_days": np.arange(1, horizon + 1),
            "day_class": day_class(features).to_numpy(),
            "cruise_capacity": (features["cruise_thousands"] * 1000).round().astype(int).to_numpy(),
        }
    )
    stated = _stated(series, min_history_days)
    if stated is not None:
        return _stated_rows(base, stated)
    closed = closed_weekdays(series.values)
    train = _training(series.values, closed)
    if len(closed) == 7:
        stated = (
            "no_recent_data",
            f"直近 {CLOSED_WEEKS} 週間の計数なし（休止中または欠測）",
            f"no counts in the last {CLOSED_WEEKS} weeks (closed or not delivering)",
        )
    elif len(train) < min_history_days:
        stated = (
            "insufficient_history",
            f"履歴不足（休館日を除く観測 {len(train)} 日、{min_history_days} 日必要）",
            f"insufficient history ({len(train)} observed open days, {min_history_days} needed)",
        )
    if stated is not None:
        return _stated_rows(base, stated)
    train_features = calendar_features(pd.DatetimeIndex(train.index), cruise)
    fitted = fit(train.to_numpy(dtype=float), train_features)
    point, counts = simulate(fitted, features, _rng(series.source_kind, series.facility_id, last_day.date()))
    bands = interval_columns(counts)
    is_closed = np.isin(days.weekday, list(closed))
    status = np.where(is_closed, "closed", "forecast")
    reason_ja = np.array(
        [
            f"休館日（直近 {CLOSED_WEEKS} 回の{_WEEKDAYS_JA[d.weekday()]}曜日は入場なし）" if c else ""
            for d, c in zip(days, is_closed)
        ],
        dtype=object,
    )
    reason_en = np.array(
        [
            f"closing day (no admissions on the last {CLOSED_WEEKS} {_WEEKDAYS_EN[d.weekday()]})" if c else ""
            for d, c in zip(days, is_closed)
        ],
        dtype=object,
    )
    daily = base.assign(
        status=status,
        reason_ja=reason_ja,
        reason_en=reason_en,
        forecast=np.where(is_closed, np.nan, point),
        **{k: np.where(is_closed, np.nan, v) for k, v in bands.items()},
    )
    counts[is_closed] = 0
    return FacilityForecast(daily, counts)


# ----------------------------------------------------------------------------- hourly


def hourly_profiles(hourly: pd.DataFrame, classes: pd.Series) -> dict[str, np.ndarray]:
    """Share of the day's count per clock hour (24) by day class; 'all' as the fallback.

    ``hourly``: service_date, hour_of_day, count for one facility; a hidden (suppressed) hour
    is NaN and left out, so where small hours are hidden the profile leans to the visible ones.
    """
    if hourly.empty:
        return {}
    frame = hourly.assign(day_class=classes.reindex(pd.DatetimeIndex(hourly["service_date"])).to_numpy())
    profiles = {}
    for name, rows in [("all", frame), *frame.groupby("day_class")]:
        if rows["service_date"].nunique() < MIN_EVENT_DAYS and name != "all":
            continue
        per_hour = rows.groupby("hour_of_day")["count"].sum().reindex(range(24), fill_value=0).to_numpy(dtype=float)
        if per_hour.sum() > 0:
            profiles[str(name)] = per_hour / per_hour.sum()
    return profiles


def _day_hour_matrix(hourly: pd.DataFrame) -> pd.DataFrame:
    """Counts as [service_date x 24 hours]: an hour without a row counts 0, a hidden hour is NaN."""
    keys = ["service_date", "hour_of_day"]
    hourly = hourly.assign(count=hourly["count"].astype(float))
    counts = hourly.groupby(keys)["count"].sum(min_count=1).unstack().reindex(columns=range(24))
    hidden = hourly["count"].isna().groupby([hourly[k] for k in keys]).any().unstack().reindex(columns=range(24))
    return counts.fillna(0.0).mask(hidden.fillna(False).astype(bool))


def share_concentration(hourly: pd.DataFrame, classes: pd.Series, profiles: dict[str, np.ndarray]) -> float:
    """Dirichlet-multinomial concentration A of a facility's hourly shares, by maximum likelihood.

    Why: a day's hourly shares are not its profile plus multinomial noise only: groups, the
    weather and a ship's shore excursions move whole hours, so the shares vary from day to day
    more than a multinomial allows, and a multinomial split gives hourly bands that are too
    narrow. Each history day's hourly counts are modelled as Dirichlet-multinomial with
    parameters ``A * profile`` of its day class (``scipy.stats.dirichlet_multinomial``); the
    profiles stay as estimated, and A (shared by the day classes) maximises the likelihood.
    ``inf`` (a plain multinomial) when the shares vary no more than a multinomial's, or when
    there is no hourly history.
    """
    from scipy.optimize import minimize_scalar
    from scipy.stats import dirichlet_multinomial

    if hourly.empty or not profiles:
        return float("inf")
    matrix = _day_hour_matrix(hourly)
    days = []
    for day, counts in matrix.iterrows():
        profile = profiles.get(str(classes.get(pd.Timestamp(day), "")), profiles.get("all"))
        # A day with a hidden hour has no known total to split: it says nothing about the shares.
        if profile is None or counts.isna().any() or counts.sum() <= 0:
            continue
        support = profile > 0
        if (counts.to_numpy()[~support] > 0).any():
            profile, support = profiles["all"], profiles["all"] > 0
        days.append((counts.to_numpy(dtype=float)[support], profile[support]))
    if len(days) < MIN_EVENT_DAYS:
        return float("inf")

    # The days in blocks of equal support size, each one call of the (broadcasting) logpmf:
    # the same value per day as a call per day, about 30x faster, summed in the days' order.
    blocks: dict[int, list[int]] = defaultdict(list)
    for number, (x, _) in enumerate(days):
        blocks[len(x)].append(number)
    stacked = [(rows, np.stack([days[i][0] for i in rows]), np.stack([days[i][1] for i in rows])) for rows in blocks.values()]

    def negative_loglik(log_a: float) -> float:
        a = float(np.exp(log_a))
        per_day = np.empty(len(days))
        for rows, counts, shares in stacked:
            per_day[rows] = dirichlet_multinomial.logpmf(counts, a * shares, counts.sum(axis=1))
        return -sum(float(value) for value in per_day)

    low, high = np.log(1.0), np.log(MAX_SHARE_CONCENTRATION)
    best = minimize_scalar(negative_loglik, bounds=(low, high), method="bounded", options={"xatol": 1e-3})
    # At the upper bound the likelihood is flat towards a plain multinomial: report it as one.
    return float("inf") if best.x >= high - 0.05 else float(np.exp(best.x))


def forecast_hours(
    daily: pd.DataFrame,
    counts: np.ndarray | None,
    profiles: dict[str, np.ndarray],
    rng: np.random.Generator,
    concentration: float = float("inf"),
) -> pd.DataFrame:
    """Per hour with intervals: each simulated day split over its profile's hours.

    Each simulation draws the day's hourly shares from a Dirichlet with parameters
    ``concentration * profile`` (the day-to-day variation of the shares, see
    ``share_concentration``) and splits the simulated day count multinomially over them, so the
    hours add up to the day and the bands carry the uncertainty of the day, of its shares and
    of the counts. An infinite concentration is a plain multinomial split over the profile.
    """
    rows = []
    for index, day in enumerate(daily.itertuples(index=False)):
        profile = profiles.get(day.day_class, profiles.get("all"))
        if day.status != "forecast" or counts is None or profile is None:
            continue
        hours = np.flatnonzero(profile > 0)
        day_counts = counts[index].astype(np.int64)
        if np.isfinite(concentration):
            shares = rng.dirichlet(concentration * profile[hours], size=len(day_counts))
            split = rng.multinomial(day_counts, shares)  # [simulations, hours]
        else:
            split = rng.multinomial(day_counts, profile[hours])
        bands = interval_columns(split.T)
        for j, hour in enumerate(hours):
            rows.append(
                {
                    "source_kind": day.source_kind,
                    "facility_id": day.facility_id,
                    "forecast_date": day.forecast_date,
                    "hour_of_day": int(hour),
                    "day_class": day.day_class,
                    "cruise_capacity": day.cruise_capacity,
                    "forecast": float(day.forecast * profile[hour]),
                    **{k: float(v[j]) for k, v in bands.items()},
                }
            )
    return pd.DataFrame(rows, columns=HOURLY_COLUMNS)


HOURLY_COLUMNS = [
    "source_kind",
    "facility_id",
    "forecast_date",
    "hour_of_day",
    "day_class",
    "cruise_capacity",
    "forecast",
    "lo80",
    "hi80",
    "lo95",
    "hi95",
]


@dataclass(frozen=True)
class HourlyModel:
    profiles: dict[str, np.ndarray]
    concentration: float


def hourly_model(own: pd.DataFrame, cruise: pd.Series | None) -> HourlyModel:
    """Profiles and share concentration from one facility's hourly history (service_date, hour_of_day, count)."""
    own = own.assign(service_date=pd.to_datetime(own["service_date"]), count=own["count"].astype(float))[
        ["service_date", "hour_of_day", "count"]
    ]
    history_days = pd.DatetimeIndex(sorted(own["service_date"].unique()))
    classes = day_class(calendar_features(history_days, cruise))
    profiles = hourly_profiles(own, classes)
    return HourlyModel(profiles, share_concentration(own, classes, profiles))


# ----------------------------------------------------------------------------- backtest


@dataclass
class OriginForecast:
    """What the model said at one backtest origin, before any scoring: its daily rows (the
    forecast frame of ``forecast_series``) and its hourly rows (``forecast_hours``). A function
    of the data up to the origin only, so kept while those are unchanged (``origin_digest``)."""

    daily: pd.DataFrame
    hourly: pd.DataFrame
    #: whether a model was fitted (else the daily rows state a reason and there are no hours)
    fitted: bool = True


@dataclass
class Backtest:
    #: one row per scored day
    daily: pd.DataFrame
    #: one row per scored hour (the hours of the day class's profile)
    hourly: pd.DataFrame
    #: per origin: (origin date, input digest, what the model said there)
    origins: list[tuple[date, str, OriginForecast]] = field(default_factory=list)
    #: how many origins were fitted (the others' data up to them were unchanged)
    fitted: int = 0


HOURLY_POINT_COLUMNS = [
    "source_kind",
    "facility_id",
    "origin_date",
    "forecast_date",
    "hour_of_day",
    "actual",
    "forecast",
    "lo80",
    "hi80",
    "lo95",
    "hi95",
]


def backtest_origins(
    last_day: pd.Timestamp, origins: int = BACKTEST_ORIGINS, step: int = BACKTEST_STEP_DAYS
) -> list[pd.Timestamp]:
    """The rolling origins, oldest first: the last ``origins`` Sundays (ends of ISO weeks) at
    least ``step`` days before the last day, ``step`` days apart.

    Why Sundays and not "7, 14, 21, 28 days before the last day": an origin that stays put for a
    week is refitted only when the data up to it change, so a night refits at most the newest
    origin (once a week) instead of all of them (docs/forecast.md).
    """
    newest = last_day - pd.Timedelta(days=step)
    newest -= pd.Timedelta(days=(newest.weekday() + 1) % 7)
    return [newest - pd.Timedelta(days=step * k) for k in range(origins - 1, -1, -1)]


def origin_digest(
    series: Series,
    origin: pd.Timestamp,
    cruise: pd.Series | None,
    hours: pd.DataFrame | None,
    horizon: int,
    min_history_days: int,
) -> str:
    """Everything the model at ``origin`` reads: the series and its hours up to the origin, its
    source's first day, the cruise timetable (known ahead), the options and the code."""
    return input_digest(
        _code(),
        "origin",
        series.source_kind,
        series.facility_id,
        series.values,
        str(series.kind_first_day),
        str(origin),
        cruise,
        None if hours is None else hours.reset_index(drop=True),
        (horizon, min_history_days),
    )


def _origin_forecast(
    series: Series,
    origin: pd.Timestamp,
    cruise: pd.Series | None,
    hours: pd.DataFrame | None,
    horizon: int,
    min_history_days: int,
) -> OriginForecast:
    """The model refitted on the days (and hours) up to ``origin``, forecasting what followed."""
    full = forecast_series(series, origin, cruise, horizon, min_history_days)
    hourly = pd.DataFrame(columns=HOURLY_COLUMNS)
    if hours is not None and not hours.empty and full.counts is not None:
        model = hourly_model(hours, cruise)
        hourly = forecast_hours(
            full.daily,
            full.counts,
            model.profiles,
            _rng("hourly", series.source_kind, series.facility_id, origin.date()),
            model.concentration,
        )
    return OriginForecast(full.daily, hourly, full.counts is not None)


def _hourly_points(
    origin: pd.Timestamp, forecast: pd.DataFrame, hourly: pd.DataFrame, last_day: pd.Timestamp
) -> list[pd.DataFrame]:
    """The origin's hourly forecast against the hours that came after it, up to the last day."""
    if hourly.empty or forecast.empty:
        return []
    dates = pd.to_datetime(hourly["service_date"])
    after = hourly[(dates > origin) & (dates <= last_day)]
    if after.empty:
        return []
    actual = _day_hour_matrix(after.assign(service_date=pd.to_datetime(after["service_date"]).dt.date)).stack().dropna()
    actual.index.names = ["forecast_date", "hour_of_day"]
    scored = forecast.join(actual.rename("actual"), on=["forecast_date", "hour_of_day"], how="inner")
    return [scored.assign(origin_date=origin.date())[HOURLY_POINT_COLUMNS]]


def backtest_series(
    series: Series,
    cruise: pd.Series | None,
    origins: int = BACKTEST_ORIGINS,
    step: int = BACKTEST_STEP_DAYS,
    horizon: int = HORIZON_DAYS,
    min_history_days: int = MIN_HISTORY_DAYS,
    hourly: pd.DataFrame | None = None,
    before: dict[date, tuple[str, OriginForecast]] | None = None,
) -> Backtest:
    """Rolling-origin points: each origin refits on the days up to it and forecasts what followed.

    ``hourly`` (service_date, hour_of_day, count of this facility) adds the hourly points.
    ``before``: each origin's input digest and forecast from the last run; an origin whose
    digest is unchanged keeps its forecast and is only scored again, against the days since.
    """
    values = series.values
    last_day = values.index.max()
    rows = []
    hour_rows: list[pd.DataFrame] = []
    made: list[tuple[date, str, OriginForecast]] = []
    fitted = 0
    hour_dates = pd.to_datetime(hourly["service_date"]) if hourly is not None else None
    for origin in backtest_origins(last_day, origins, step):
        history = values[values.index <= origin]
        if history.empty:
            continue
        part = Series(series.source_kind, series.facility_id, history, series.kind_first_day)
        hours = hourly[hour_dates <= origin] if hourly is not None else None
        digest = origin_digest(part, origin, cruise, hours, horizon, min_history_days)
        kept = (before or {}).get(origin.date())
        if kept is not None and kept[0] == digest:
            said = kept[1]
        else:
            fitted += 1
            said = _origin_forecast(part, origin, cruise, hours, horizon, min_history_days)
        made.append((origin.date(), digest, said))
        if hourly is not None:
            hour_rows += _hourly_points(origin, said.hourly, hourly, last_day)
        result = said.daily[said.daily["status"] == "forecast"]
        if result.empty:
            continue
        scale = mase_scale(history.to_numpy(dtype=float))
        for row in result.itertuples(index=False):
            when = pd.Timestamp(row.forecast_date)
            actual = values.get(when, np.nan)
            if when > last_day or not np.isfinite(actual):
                continue
            back = 7 * int(np.ceil(row.horizon_days / 7))
            naive = values.get(when - pd.Timedelta(days=back), np.nan)
            rows.append(
                {
                    "source_kind": series.source_kind,
                    "facility_id": series.facility_id,
                    "origin_date": origin.date(),
                    "forecast_date": row.forecast_date,
                    "horizon_days": int(row.horizon_days),
                    "day_class": row.day_class,
                    "actual": float(actual),
                    "forecast": float(row.forecast),
                    "seasonal_naive": float(naive),
                    "mase_scale": scale,
                    "lo80": float(row.lo80),
                    "hi80": float(row.hi80),
                    "lo95": float(row.lo95),
                    "hi95": float(row.hi95),
                }
            )
    hours_out = pd.concat(hour_rows, ignore_index=True) if hour_rows else pd.DataFrame(columns=HOURLY_POINT_COLUMNS)
    return Backtest(pd.DataFrame(rows), hours_out, made, fitted)


def _by_facility_and_overall(
    frame: pd.DataFrame, summary: Callable[[pd.DataFrame], dict[str, float | int]]
) -> list[dict[str, object]]:
    """`summary` of each (source kind, facility), then of each source kind as facility '(all)'."""
    out = [
        {"source_kind": kind, "facility_id": facility, **summary(rows)}
        for (kind, facility), rows in frame.groupby(["source_kind", "facility_id"], sort=True)
    ]
    out += [
        {"source_kind": kind, "facility_id": "(all)", **summary(rows)} for kind, rows in frame.groupby("source_kind", sort=True)
    ]
    return out


def hourly_coverage(hour_points: pd.DataFrame) -> pd.DataFrame:
    """Per facility and overall ('(all)'): scored hours and the share inside each hourly interval."""
    columns = ["source_kind", "facility_id", "hourly_points", "hourly_coverage80", "hourly_coverage95"]
    if hour_points.empty:
        return pd.DataFrame(columns=columns)
    frame = hour_points.assign(
        in80=(hour_points["actual"] >= hour_points["lo80"]) & (hour_points["actual"] <= hour_points["hi80"]),
        in95=(hour_points["actual"] >= hour_points["lo95"]) & (hour_points["actual"] <= hour_points["hi95"]),
    )

    def summary(rows: pd.DataFrame) -> dict[str, float | int]:
        return {
            "hourly_points": len(rows),
            "hourly_coverage80": float(rows["in80"].mean()),
            "hourly_coverage95": float(rows["in95"].mean()),
        }

    return pd.DataFrame(_by_facility_and_overall(frame, summary), columns=columns)


def summarise_backtest(points: pd.DataFrame, hour_points: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per facility and overall ('(all)'): MASE, MAE relative to seasonal naive, interval coverage
    of the days and (with ``hour_points``) of the hours."""
    columns = [
        "source_kind",
        "facility_id",
        "origins",
        "points",
        "mase",
        "relative_mae",
        "coverage80",
        "coverage95",
        "hourly_points",
        "hourly_coverage80",
        "hourly_coverage95",
    ]
    if points.empty:
        return pd.DataFrame(columns=columns)
    frame = points[np.isfinite(points["seasonal_naive"]) & (points["mase_scale"] > 0)].copy()
    frame["abs_error"] = (frame["actual"] - frame["forecast"]).abs()
    frame["naive_error"] = (frame["actual"] - frame["seasonal_naive"]).abs()
    frame["scaled_error"] = frame["abs_error"] / frame["mase_scale"]
    frame["in80"] = (frame["actual"] >= frame["lo80"]) & (frame["actual"] <= frame["hi80"])
    frame["in95"] = (frame["actual"] >= frame["lo95"]) & (frame["actual"] <= frame["hi95"])

    def summary(rows: pd.DataFrame) -> dict[str, float | int]:
        return {
            "origins": int(rows["origin_date"].nunique()),
            "points": len(rows),
            "mase": float(rows["scaled_error"].mean()),
            "relative_mae": float(rows["abs_error"].sum() / rows["naive_error"].sum())
            if rows["naive_error"].sum()
            else float("nan"),
            "coverage80": float(rows["in80"].mean()),
            "coverage95": float(rows["in95"].mean()),
        }

    daily = pd.DataFrame(_by_facility_and_overall(frame, summary))
    hours = hourly_coverage(hour_points if hour_points is not None else pd.DataFrame())
    merged = daily.merge(hours, on=["source_kind", "facility_id"], how="left")
    merged["hourly_points"] = merged["hourly_points"].fillna(0).astype(int)
    return merged.reindex(columns=columns)


# ----------------------------------------------------------------------------- warehouse


def read_series(con: duckdb.DuckDBPyConnection) -> tuple[list[Series], dict[str, pd.Timestamp]]:
    """Daily counts per facility from marts.facility_daily, zero-filled between first and last day."""
    frame = run(con, "forecast/daily_counts").df()
    series, last_days = [], {}
    for kind, rows in frame.groupby("source_kind", sort=True):
        column = TARGET_COLUMN.get(str(kind))
        if column is None:
            continue
        rows = rows.assign(service_date=pd.to_datetime(rows["service_date"]))
        first_day, last_day = rows["service_date"].min(), rows["service_date"].max()
        last_days[str(kind)] = last_day
        # A day on which no facility of the source counted anything was not delivered: missing, not zero.
        totals = rows.groupby("service_date")[column].sum(min_count=1)
        silent = totals.index[totals.fillna(0) == 0]
        for facility, own in rows.groupby("facility_id", sort=True):
            value = own[column].astype(float).where(~own["is_suppressed"].fillna(False).astype(bool))
            values = pd.Series(value.to_numpy(), index=pd.DatetimeIndex(own["service_date"]))
            counted = values.index[values.fillna(0) > 0]
            if counted.empty:
                continue
            # A facility starts with its first count (a sensor installed, a gate opened).
            values = values.reindex(pd.date_range(counted.min(), last_day, freq="D"), fill_value=0.0)
            values[values.index.isin(silent)] = np.nan
            series.append(Series(str(kind), str(facility), values, first_day))
    return series, last_days


def read_cruise(con: duckdb.DuckDBPyConnection) -> pd.Series | None:
    """Passenger capacity by day, or None when no timetable is loaded (a warning, not a failure)."""
    frame = run(con, "forecast/cruise_calls").df()
    if frame.empty:
        log.warning("no cruise timetable loaded (source kind cruise_call): forecasting without cruise calls")
        return None
    return pd.Series(
        frame["passenger_capacity"].astype(float).to_numpy(), index=pd.DatetimeIndex(pd.to_datetime(frame["service_date"]))
    )


def read_hourly(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Hourly entries per facility; a hidden (suppressed) hour is NULL, neither fitted nor scored."""
    return run(con, "forecast/hourly_counts").df()


@dataclass
class ForecastRun:
    daily: pd.DataFrame
    hourly: pd.DataFrame
    backtest_points: pd.DataFrame
    backtest_hourly_points: pd.DataFrame
    backtest: pd.DataFrame
    #: per series: source_kind, facility_id, input_digest (ops.forecast_inputs)
    digests: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(INPUT_TYPES)))
    #: how many series were fitted (the others kept their rows: their inputs were unchanged)
    fitted: int = 0
    #: what the model said at each backtest origin (ops.forecast_origin_daily / _hourly)
    origin_daily: pd.DataFrame = field(default_factory=pd.DataFrame)
    origin_hourly: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: how many backtest origins were fitted (the others' data up to them were unchanged)
    origins_fitted: int = 0


@dataclass
class SeriesRows:
    """One series' rows in each forecast table: what its input digest describes."""

    daily: pd.DataFrame
    hourly: pd.DataFrame
    points: pd.DataFrame
    hour_points: pd.DataFrame
    #: per backtest origin: (origin date, input digest, what the model said there)
    origins: list[tuple[date, str, OriginForecast]] = field(default_factory=list)
    origins_fitted: int = 0


#: each series' input digest (series_digest), written with the forecast marts
INPUTS_TABLE = "ops.forecast_inputs"
INPUT_TYPES = {"source_kind": "varchar", "facility_id": "varchar", "input_digest": "varchar"}


def _code() -> bytes:
    """This module, its queries and the libraries that fit and draw."""
    return code_fingerprint(__file__, "forecast", ("statsmodels", "scipy", "numpy", "pandas", "holidays"))


def series_digest(
    item: Series,
    last_day: pd.Timestamp,
    cruise: pd.Series | None,
    own_hours: pd.DataFrame,
    *,
    backtest: bool,
    horizon: int,
    min_history_days: int,
) -> str:
    """Everything one series' rows depend on: its daily values, its source's first and last
    days, the cruise timetable, its hourly counts, the run's options, this module, its queries
    and the libraries that fit and draw (the draws are seeded from the series and its days)."""
    return input_digest(
        _code(),
        item.source_kind,
        item.facility_id,
        item.values,
        str(item.kind_first_day),
        str(last_day),
        cruise,
        own_hours.reset_index(drop=True),
        (backtest, horizon, min_history_days),
    )


def forecast_one(
    item: Series,
    last_day: pd.Timestamp,
    cruise: pd.Series | None,
    own_hours: pd.DataFrame,
    *,
    backtest: bool = True,
    horizon: int = HORIZON_DAYS,
    min_history_days: int = MIN_HISTORY_DAYS,
    origins_before: dict[date, tuple[str, OriginForecast]] | None = None,
) -> SeriesRows:
    """One series forecast (daily and hourly) and, with ``backtest``, scored at the rolling
    origins (``origins_before``: the last run's, kept where the data up to them are unchanged)."""
    note = NO_CRUISE_NOTE if cruise is None else ("", "")
    # the forecast from the last day is what a backtest origin on the last day would say
    said = _origin_forecast(item, last_day, cruise, own_hours, horizon, min_history_days)
    daily, hourly = said.daily, said.hourly
    daily.insert(0, "forecast_origin", last_day.date())
    daily["note_ja"], daily["note_en"], daily["model"] = note[0], note[1], MODEL
    points = hour_points = pd.DataFrame()
    origins: list[tuple[date, str, OriginForecast]] = []
    origins_fitted = 0
    if said.fitted:
        if backtest:
            scored = backtest_series(
                item, cruise, horizon=horizon, min_history_days=min_history_days, hourly=own_hours, before=origins_before
            )
            points, hour_points = scored.daily, scored.hourly
            origins, origins_fitted = scored.origins, scored.fitted
    return SeriesRows(daily, hourly, points, hour_points, origins, origins_fitted)


def _concat(frames: list[pd.DataFrame], columns: list[str] | None = None) -> pd.DataFrame:
    kept = [frame for frame in frames if len(frame)]
    if kept:
        return pd.concat(kept, ignore_index=True)
    return pd.DataFrame(columns=columns) if columns else pd.DataFrame()


def run_forecast(
    series: list[Series],
    last_days: dict[str, pd.Timestamp],
    cruise: pd.Series | None,
    hourly: pd.DataFrame,
    *,
    backtest: bool = True,
    horizon: int = HORIZON_DAYS,
    min_history_days: int = MIN_HISTORY_DAYS,
    before: dict[tuple[str, str], tuple[str, SeriesRows]] | None = None,
) -> ForecastRun:
    """Forecast and backtest every series; plain frames, no warehouse.

    ``before`` (``rows_before``): each series' input digest and rows from the last run; a
    series whose digest is unchanged keeps its rows instead of being fitted again (they are
    what the fit would give, bit for bit: nothing in it is random but the seeded draws).
    """
    parts: list[SeriesRows] = []
    digests = []
    fitted = 0
    for item in series:
        last_day = last_days[item.source_kind]
        own = hourly[(hourly["source_kind"] == item.source_kind) & (hourly["facility_id"] == item.facility_id)]
        own = own[["service_date", "hour_of_day", "count"]]
        options = {"backtest": backtest, "horizon": horizon, "min_history_days": min_history_days}
        digest = series_digest(item, last_day, cruise, own, **options)
        digests.append({"source_kind": item.source_kind, "facility_id": item.facility_id, "input_digest": digest})
        kept = (before or {}).get((item.source_kind, item.facility_id))
        if kept is not None and kept[0] == digest:
            parts.append(kept[1])
            continue
        fitted += 1
        origins_before = {when: (key, said) for when, key, said in kept[1].origins} if kept is not None else None
        parts.append(forecast_one(item, last_day, cruise, own, origins_before=origins_before, **options))
    points = _concat([part.points for part in parts])
    hour_points = _concat([part.hour_points for part in parts], HOURLY_POINT_COLUMNS)
    origin_daily = _concat(
        [said.daily.assign(origin_date=when, input_digest=key) for part in parts for when, key, said in part.origins]
    )
    origin_hourly = _concat([said.hourly.assign(origin_date=when) for part in parts for when, _, said in part.origins])
    return ForecastRun(
        _concat([part.daily for part in parts]),
        _concat([part.hourly for part in parts], HOURLY_COLUMNS),
        points,
        hour_points,
        summarise_backtest(points, hour_points),
        pd.DataFrame(digests, columns=list(INPUT_TYPES)),
        fitted,
        origin_daily,
        origin_hourly,
        sum(part.origins_fitted for part in parts),
    )


_TABLES = {
    "marts.forecast_daily": (
        "forecast_origin date, source_kind varchar, facility_id varchar, forecast_date date, horizon_days integer, "
        "day_class varchar, cruise_capacity integer, status varchar, reason_ja varchar, reason_en varchar, "
        "forecast double, lo80 double, hi80 double, lo95 double, hi95 double, note_ja varchar, note_en varchar, "
        "model varchar"
    ),
    "marts.forecast_hourly": (
        "source_kind varchar, facility_id varchar, forecast_date date, hour_of_day integer, day_class varchar, "
        "cruise_capacity integer, forecast double, lo80 double, hi80 double, lo95 double, hi95 double"
    ),
    "marts.forecast_backtest_points": (
        "source_kind varchar, facility_id varchar, origin_date date, forecast_date date, horizon_days integer, "
        "day_class varchar, actual double, forecast double, seasonal_naive double, mase_scale double, "
        "lo80 double, hi80 double, lo95 double, hi95 double"
    ),
    "marts.forecast_backtest_hourly_points": (
        "source_kind varchar, facility_id varchar, origin_date date, forecast_date date, hour_of_day integer, "
        "actual double, forecast double, lo80 double, hi80 double, lo95 double, hi95 double"
    ),
    "marts.forecast_backtest": (
        "source_kind varchar, facility_id varchar, origins integer, points integer, mase double, "
        "relative_mae double, coverage80 double, coverage95 double, hourly_points integer, "
        "hourly_coverage80 double, hourly_coverage95 double"
    ),
}


def _columns(ddl: str) -> list[str]:
    return [part.strip().split(" ")[0] for part in ddl.split(",")]


#: what the model said at each backtest origin, kept for the next night (backtest_series)
_ORIGIN_TABLES = {
    "ops.forecast_origin_daily": (
        "source_kind varchar, facility_id varchar, origin_date date, input_digest varchar, forecast_date date, "
        "horizon_days integer, day_class varchar, cruise_capacity integer, status varchar, reason_ja varchar, "
        "reason_en varchar, forecast double, lo80 double, hi80 double, lo95 double, hi95 double"
    ),
    "ops.forecast_origin_hourly": (
        "source_kind varchar, facility_id varchar, origin_date date, forecast_date date, hour_of_day integer, "
        "day_class varchar, cruise_capacity integer, forecast double, lo80 double, hi80 double, lo95 double, hi95 double"
    ),
}
#: every table the forecast writes (flowlib.build_state: the marts' build neither reads nor writes them)
WRITTEN_TABLES = frozenset({*_TABLES, *_ORIGIN_TABLES, INPUTS_TABLE})


def _replace_in_order(con: duckdb.DuckDBPyConnection, table: str, ddl: str, frame: pd.DataFrame) -> int:
    columns = _columns(ddl)
    frame = frame.reindex(columns=columns) if not frame.empty else pd.DataFrame(columns=columns)
    con.execute(f"create or replace table {table} ({ddl})")
    if len(frame):
        con.register("incoming_forecast_rows", frame)
        try:
            con.execute(f"insert into {table} by name select * from incoming_forecast_rows")
        finally:
            con.unregister("incoming_forecast_rows")
    return len(frame)


def write_forecast(con: duckdb.DuckDBPyConnection, run: ForecastRun) -> dict[str, int]:
    """Replace the forecast marts whole, with each series' input digest and what the model
    said at each backtest origin, in one transaction (a rerun gives the same rows, and a digest
    always describes the rows beside it)."""
    frames = {
        "marts.forecast_daily": run.daily,
        "marts.forecast_hourly": run.hourly,
        "marts.forecast_backtest_points": run.backtest_points,
        "marts.forecast_backtest_hourly_points": run.backtest_hourly_points,
        "marts.forecast_backtest": run.backtest,
        "ops.forecast_origin_daily": run.origin_daily,
        "ops.forecast_origin_hourly": run.origin_hourly,
    }
    counts = {}
    with transaction(con):
        con.execute("create schema if not exists ops")  # a warehouse has it; a bare test file may not
        for table, ddl in {**_TABLES, **_ORIGIN_TABLES}.items():
            written = _replace_in_order(con, table, ddl, frames[table])
            if table in _TABLES:
                counts[table] = written
        replace_with_frame(con, INPUTS_TABLE, INPUT_TYPES, run.digests)
    return counts


#: the forecast tables' date columns, read back as the datetime.date values a fit writes
_DATE_COLUMNS = ("forecast_origin", "forecast_date", "origin_date")


def rows_before(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple[str, SeriesRows]]:
    """Each series of the last run: (its input digest, its rows in each forecast table, and
    what the model said at each of its backtest origins)."""
    tables = (INPUTS_TABLE, *_TABLES, *_ORIGIN_TABLES)
    present = {
        relation
        for relation in tables
        if con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", relation.split(".")
        ).fetchone()[0]
    }
    if present != set(tables):
        return {}

    def read(table: str, order: str = "") -> pd.DataFrame:
        frame = con.execute(f"select * from {table} {order}").df()
        for column in _DATE_COLUMNS:
            if column in frame:
                frame[column] = np.array([None if pd.isna(v) else v.date() for v in frame[column]], dtype=object)
        return frame

    def by_series(frame: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
        return {
            (str(k), str(f)): rows.reset_index(drop=True)
            for (k, f), rows in frame.groupby(["source_kind", "facility_id"], sort=False)
        }

    daily, hourly = by_series(read("marts.forecast_daily")), by_series(read("marts.forecast_hourly"))
    points = by_series(read("marts.forecast_backtest_points"))
    hour_points = by_series(read("marts.forecast_backtest_hourly_points"))
    # in the order the model wrote them: days by horizon, hours by day and clock hour
    said_daily = read("ops.forecast_origin_daily", "order by source_kind, facility_id, origin_date, horizon_days")
    said_hourly = read("ops.forecast_origin_hourly", "order by source_kind, facility_id, origin_date, forecast_date, hour_of_day")
    said_hourly["hour_of_day"] = said_hourly["hour_of_day"].astype("int64")
    hours_said = {key: rows for key, rows in said_hourly.groupby(["source_kind", "facility_id", "origin_date"], sort=False)}
    origins: dict[tuple[str, str], list[tuple[date, str, OriginForecast]]] = defaultdict(list)
    for (kind, facility, when, digest), rows in said_daily.groupby(
        ["source_kind", "facility_id", "origin_date", "input_digest"], sort=False
    ):
        hours = hours_said.get((kind, facility, when))
        hours = (
            hours.drop(columns="origin_date").reset_index(drop=True)
            if hours is not None
            else pd.DataFrame(columns=HOURLY_COLUMNS)
        )
        said = OriginForecast(
            rows.drop(columns=["origin_date", "input_digest"]).reset_index(drop=True),
            hours,
            bool(rows["status"].isin(["forecast", "closed"]).any()),  # stated-reason rows have neither
        )
        origins[(str(kind), str(facility))].append((when, str(digest), said))
    empty = pd.DataFrame()
    return {
        (kind, facility): (
            digest,
            SeriesRows(
                daily[key],
                hourly.get(key, empty),
                points.get(key, empty),
                hour_points.get(key, empty),
                sorted(origins.get(key, []), key=lambda item: item[0]),
            ),
        )
        for kind, facility, digest in con.execute(f"select * from {INPUTS_TABLE}").fetchall()
        if (key := (kind, facility)) in daily
    }


def build_forecast(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Read the marts, forecast every facility, backtest, write the forecast marts."""
    series, last_days = read_series(con)
    run = run_forecast(series, last_days, read_cruise(con), read_hourly(con), before=rows_before(con))
    log.info(
        "forecast: %d of %d series fitted, the others' inputs unchanged; %d backtest origins fitted, "
        "the others' data up to them unchanged",
        run.fitted,
        len(series),
        run.origins_fitted,
    )
    counts = write_forecast(con, run)
    overall = run.backtest[run.backtest["facility_id"] == "(all)"]
    for row in overall.itertuples(index=False):
        log.info(
            "forecast backtest %s: MASE %.3f, MAE vs seasonal naive %.3f, 80%% coverage %.2f, 95%% coverage %.2f",
            row.source_kind,
            row.mase,
            row.relative_mae,
            row.coverage80,
            row.coverage95,
        )
    return counts
