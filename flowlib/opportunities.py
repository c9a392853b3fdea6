"""Circulation opportunities (周遊促進): which sights could a facility's visitors be steered to?

A spatial-interaction (gravity) model of facility-to-facility moves, fitted per period,
source kind and residence segment as a Poisson GLM (``statsmodels``):

    log E[moves from i to j] = origin_i + destination_j + β · log(walking minutes i→j)

``origin_i`` absorbs how many moves leave i (its outflow), ``destination_j`` how strongly j
pulls, and β how fast moves fall off with walking time (from the facility coordinates:
great-circle distance × 1.3 detour at 4.5 km/h, as ``int_transitions``). Every ordered pair
of facilities that send and receive moves in the period is a row, zero moves included.
Overdispersion is allowed for (quasi-Poisson: standard errors scaled by Pearson χ²/df). The
nightly fit uses the period's published day cells with day effects (a hidden day cell is left
out), and sums each pair's expected moves over the days.

A pair is **under-connected** when it is close (walking ≤ ``CLOSE_MINUTES``), the model
expects at least ``MIN_EXPECTED`` moves: visitors of i go to places like j, at that
distance, but not to j: its observed count lies below the 95 % prediction interval of
the count (negative binomial NB2 with the fitted mean and an overdispersion estimated from
the fit's residuals, over the interval of the mean) and below ``UNDER_RATIO`` × expected. A destination reached almost only from one origin (≥ 90 % of its
moves: the summit observatory from the ropeway station) is one attraction behind two
gates and is left out of the model. For each origin those pairs, by moves missing, are the sights to
promote to its visitors; close pairs at most half the expected moves but inside the interval
form a watch list (要観察, tier ``watch``), never called under-connected. Goodness of fit is reported with every fit: deviance, null
deviance, the share of deviance explained (pseudo-R²) and McFadden's R².

Privacy: the model is fitted on the published ``transitions_by_period`` cells only (zero
moves: no cell; a hidden cell is left out of the fit and only predicted), so no fitted value
carries information about a hidden count. A primary-suppressed cell (fewer than k people) is judged at k − 1 moves, the most
it can hold, so a flag never says more than the suppression already does; a secondary one,
or a period count withheld because one of its days is hidden (``partial``), is not judged.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import duckdb
import numpy as np
import pandas as pd

from flowlib.input_digest import code_fingerprint, input_digest
from flowlib.queries import run
from flowlib.warehouse import replace_with_frame

log = logging.getLogger(__name__)

CLOSE_MINUTES = 20.0
MIN_EXPECTED = 5.0
UNDER_RATIO = 0.67
#: close pairs below this share of expected but inside the interval: watch list (要観察)
WATCH_RATIO = 0.5
MIN_MOVES = 30
#: a destination getting this share of its moves from one origin is captive
CAPTIVE_SHARE = 0.9
DETOUR_FACTOR, WALKING_KMH, EARTH_RADIUS_KM = 1.3, 4.5, 6371.0088
Z95 = 1.959963984540054
#: a pair's mean above this (a billion moves) is an unusable fit, not a forecast
MAX_INTERVAL_MEAN = 1e9
FIT_TABLE = "marts.opportunity_fit"
#: each fitted cut's input digest (_input_digest), beside its rows in the two marts
INPUTS_TABLE = "ops.opportunity_inputs"
CUT_KEYS = ["period_grain", "period_start", "source_kind", "segment"]
INPUT_TYPES = {
    "period_grain": "varchar",
    "period_start": "date",
    "source_kind": "varchar",
    "segment": "varchar",
    "input_digest": "varchar",
}
PAIRS_TABLE = "marts.opportunity_pairs"
PERIOD_GRAINS = ("iso_week", "month")


@dataclass(frozen=True)
class GravityFit:
    status: str  # fitted | too_few_moves | too_few_facilities
    n_facilities: int
    n_pairs: int
    moves: int
    deviance: float | None = None
    null_deviance: float | None = None
    pseudo_r2: float | None = None  # 1 − deviance ÷ null deviance
    mcfadden_r2: float | None = None
    dispersion: float | None = None  # Pearson χ² ÷ residual df
    nb_alpha: float | None = None  # NB2 overdispersion of the counts (prediction intervals)
    distance_coefficient: float | None = None
    distance_ci_low: float | None = None
    distance_ci_high: float | None = None


def walking_minutes(coordinates: pd.DataFrame) -> pd.DataFrame:
    """All ordered pairs of located facilities with their walking minutes."""
    located = coordinates.dropna(subset=["lat", "lon"])
    a = located.rename(columns={"facility_id": "from_facility_id", "lat": "lat1", "lon": "lon1"})
    b = located.rename(columns={"facility_id": "to_facility_id", "lat": "lat2", "lon": "lon2"})
    pairs = a.merge(b, how="cross")
    pairs = pairs[pairs["from_facility_id"] != pairs["to_facility_id"]]
    lat1, lon1, lat2, lon2 = (np.radians(pairs[c].to_numpy(float)) for c in ("lat1", "lon1", "lat2", "lon2"))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(h))
    pairs = pairs.assign(walking_minutes=km * DETOUR_FACTOR / WALKING_KMH * 60)
    return pairs[["from_facility_id", "to_facility_id", "walking_minutes"]].reset_index(drop=True)


def captive_destinations(moves: pd.DataFrame) -> set[str]:
    """Destinations reached almost only from one origin (a summit reached by its ropeway).

    Such a pair is one attraction in two gates: it would dominate the fit, and the place
    cannot be promoted from anywhere else, so the destination is left out.
    """
    inflow = moves.groupby("to_facility_id")["moves"].agg(["sum", "max"])
    inflow = inflow[inflow["sum"] >= MIN_MOVES]
    return set(inflow.index[inflow["max"] >= CAPTIVE_SHARE * inflow["sum"]])


def fit_gravity(moves: pd.DataFrame, coordinates: pd.DataFrame) -> tuple[GravityFit, pd.DataFrame]:
    """Fit the model to ``moves`` (from_facility_id, to_facility_id, moves[, day]).

    A pair absent from ``moves`` has zero moves; a pair whose ``moves`` is missing (NaN:
    a hidden published cell) is left out of the fit and only predicted, so that the fitted
    values depend on published counts alone. With a ``day`` column the model is fitted on
    pair-days with day effects as well, and each pair's expected moves are summed over the
    days (its standard error by the delta method). Returns the fit and one row per ordered
    pair: ``moves`` (the sum of the known counts; NaN when one is missing), expected moves,
    the standard error of their log and the pair's NB2 overdispersion for its sum.
    """
    import statsmodels.api as sm

    by_day = "day" in moves.columns
    moves = moves[moves["from_facility_id"] != moves["to_facility_id"]]
    known = moves[moves["moves"].notna()]
    moves = moves[~moves["to_facility_id"].isin(captive_destinations(known))]
    known = moves[moves["moves"].notna()]
    senders = set(known.loc[known["moves"] > 0, "from_facility_id"])
    receivers = set(known.loc[known["moves"] > 0, "to_facility_id"])
    pairs = walking_minutes(coordinates)
    pairs = pairs[pairs["from_facility_id"].isin(senders) & pairs["to_facility_id"].isin(receivers)]
    keys = ["from_facility_id", "to_facility_id"]
    if by_day:
        pairs = pairs.merge(pd.DataFrame({"day": sorted(moves["day"].unique())}), how="cross")
        keys.append("day")
    rows = pairs.merge(moves.assign(listed=True), how="left", on=keys)
    rows["moves"] = rows["moves"].where(rows["listed"].notna(), 0.0)
    rows = rows.drop(columns="listed").sort_values(keys, ignore_index=True)
    fitted = rows["moves"].notna().to_numpy()
    total = int(rows["moves"].sum())
    facilities = sorted(set(rows["from_facility_id"]) | set(rows["to_facility_id"]))
    n_pairs = len(rows.drop_duplicates(["from_facility_id", "to_facility_id"]))
    empty = rows.iloc[0:0][["from_facility_id", "to_facility_id", "walking_minutes", "moves"]]
    if len(senders & set(facilities)) < 2 or len(receivers & set(facilities)) < 2 or fitted.sum() < 6:
        return GravityFit("too_few_facilities", len(facilities), n_pairs, total), empty
    if total < MIN_MOVES:
        return GravityFit("too_few_moves", len(facilities), n_pairs, total), empty

    parts = [
        pd.get_dummies(rows["from_facility_id"], prefix="o", drop_first=True, dtype=float),
        pd.get_dummies(rows["to_facility_id"], prefix="d", drop_first=True, dtype=float),
    ]
    if by_day:
        parts.append(pd.get_dummies(rows["day"].astype(str), prefix="t", drop_first=True, dtype=float))
    exog = pd.concat(parts, axis=1)
    exog.insert(0, "log_walking_minutes", np.log(np.maximum(rows["walking_minutes"], 1.0)))
    exog.insert(0, "const", 1.0)
    y = rows["moves"].to_numpy(float)[fitted]
    result = sm.GLM(y, exog[fitted], family=sm.families.Poisson()).fit(scale="X2")
    x = exog.to_numpy(float)
    mu = np.exp(x @ result.params.to_numpy())
    covariance = result.cov_params().to_numpy()
    alpha = nb2_alpha(y, mu[fitted])
    beta = float(result.params["log_walking_minutes"])
    beta_se = float(result.bse["log_walking_minutes"])
    llf = float(result.family.loglike(y, mu[fitted], scale=1.0))
    llnull = float(result.family.loglike(y, np.full(len(y), y.mean()), scale=1.0))
    fit = GravityFit(
        "fitted",
        len(facilities),
        n_pairs,
        total,
        deviance=float(result.deviance),
        null_deviance=float(result.null_deviance),
        pseudo_r2=1 - float(result.deviance) / float(result.null_deviance),
        mcfadden_r2=1 - llf / llnull,
        dispersion=float(result.scale),
        nb_alpha=alpha,
        distance_coefficient=beta,
        distance_ci_low=beta - Z95 * beta_se,
        distance_ci_high=beta + Z95 * beta_se,
    )
    # per pair: expected = Σ μ over its rows; d expected / d params = Σ μ x (delta method)
    pair_index, pair_keys = pd.factorize(pd.MultiIndex.from_frame(rows[["from_facility_id", "to_facility_id"]]), sort=True)
    n = len(pair_keys)
    expected = np.bincount(pair_index, weights=mu, minlength=n)
    gradient = np.zeros((n, x.shape[1]))
    np.add.at(gradient, pair_index, mu[:, None] * x)
    se_log = np.sqrt(np.einsum("ij,jk,ik->i", gradient, covariance, gradient)) / expected
    squares = np.bincount(pair_index, weights=mu**2, minlength=n)
    observed = rows.groupby(pair_index)["moves"].apply(lambda v: v.sum() if v.notna().all() else np.nan).to_numpy()
    walking = rows.groupby(pair_index)["walking_minutes"].first().to_numpy()
    out = pd.DataFrame(
        {
            "from_facility_id": pair_keys.get_level_values(0),
            "to_facility_id": pair_keys.get_level_values(1),
            "walking_minutes": walking,
            "moves": observed,
            "expected_moves": expected,
            "log_expected_se": se_log,
            "pair_alpha": alpha * squares / expected**2,
        }
    )
    return fit, out


def prediction_interval(expected: np.ndarray, log_expected_se: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95 % prediction interval of a pair's count under the fitted model.

    The count is negative-binomial (NB2: variance mean + alpha × mean², so small counts
    scatter nearly like Poisson and large ones more); the interval takes the 2.5 % quantile
    at the low end of the mean's 95 % interval and the 97.5 % quantile at its high end.
    """
    from scipy.stats import nbinom, poisson

    with np.errstate(over="ignore", invalid="ignore"):
        low_mean = expected * np.exp(-Z95 * log_expected_se)
        high_mean = expected * np.exp(Z95 * log_expected_se)
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), np.shape(expected))
    # A fit too uncertain to bound a count (a mean beyond any count of people, or not a
    # number) has no interval; Boost's quantile search also spins for minutes on such means.
    usable = np.isfinite(low_mean) & np.isfinite(high_mean) & (high_mean <= MAX_INTERVAL_MEAN)
    low_mean = np.where(usable, low_mean, 1.0)
    high_mean = np.where(usable, high_mean, 1.0)
    poisson_like = alpha <= 1e-9
    size = 1.0 / np.where(poisson_like | ~np.isfinite(alpha), 1.0, alpha)
    low = np.where(poisson_like, poisson.ppf(0.025, low_mean), nbinom.ppf(0.025, size, size / (size + low_mean)))
    high = np.where(poisson_like, poisson.ppf(0.975, high_mean), nbinom.ppf(0.975, size, size / (size + high_mean)))
    return np.where(usable, low, np.nan), np.where(usable, high, np.nan)


def nb2_alpha(observed: np.ndarray, expected: np.ndarray) -> float:
    """Overdispersion alpha of NB2 by the Cameron-Trivedi auxiliary regression (statsmodels OLS):
    ((y − μ)² − y) ÷ μ = alpha · μ + error, without intercept; 0 when negative."""
    import statsmodels.api as sm

    response = ((observed - expected) ** 2 - observed) / expected
    return max(float(sm.OLS(response, expected).fit().params[0]), 0.0)


def judge(pairs: pd.DataFrame, observed: pd.Series) -> pd.DataFrame:
    """Ratio observed ÷ expected, the 95 % prediction interval of the count, the flag.

    Under-connected: close, at least ``MIN_EXPECTED`` expected, observed below the
    interval's lower end and below ``UNDER_RATIO`` × expected. ``observed`` may hold NaN
    (not judged).
    """
    expected = pairs["expected_moves"].to_numpy(float)
    low, high = prediction_interval(expected, pairs["log_expected_se"].to_numpy(float), pairs["pair_alpha"].to_numpy(float))
    count = observed.to_numpy(float)
    with np.errstate(invalid="ignore"):
        under = (
            (pairs["walking_minutes"].to_numpy(float) <= CLOSE_MINUTES)
            & (expected >= MIN_EXPECTED)
            & (count < low)
            & (count <= UNDER_RATIO * expected)
        )
        watch = (
            (pairs["walking_minutes"].to_numpy(float) <= CLOSE_MINUTES)
            & (expected >= MIN_EXPECTED)
            & (count <= WATCH_RATIO * expected)
            & ~under
        )
    tier = np.where(np.isnan(count), None, np.where(under, "under_connected", np.where(watch, "watch", None)))
    return pd.DataFrame(
        {
            "ratio": count / expected,
            "expected_low": low,
            "expected_high": high,
            "under_connected": np.where(np.isnan(count), None, under),
            "tier": tier,
        },
        index=pairs.index,
    )


def under_connected(pairs: pd.DataFrame, fit: GravityFit) -> pd.DataFrame:
    """Judge every pair on its own observed count (no suppression: tests and analysis)."""
    if fit.status != "fitted":
        return pairs.assign(ratio=None, expected_low=None, expected_high=None, under_connected=None, tier=None)
    return pd.concat([pairs, judge(pairs, pairs["moves"])], axis=1)


# ------------------------------------------------------------------ nightly marts

FIT_TYPES = {
    "period_grain": "varchar",
    "period_start": "date",
    "period_label": "varchar",
    "source_kind": "varchar",
    "segment": "varchar",
    "status": "varchar",
    "n_facilities": "integer",
    "n_pairs": "integer",
    "moves": "bigint",
    "deviance": "double",
    "null_deviance": "double",
    "pseudo_r2": "double",
    "mcfadden_r2": "double",
    "dispersion": "double",
    "nb_alpha": "double",
    "distance_coefficient": "double",
    "distance_ci_low": "double",
    "distance_ci_high": "double",
}
PAIR_TYPES = {
    "period_grain": "varchar",
    "period_start": "date",
    "period_label": "varchar",
    "source_kind": "varchar",
    "segment": "varchar",
    "from_facility_id": "varchar",
    "to_facility_id": "varchar",
    "walking_minutes": "double",
    "observed_moves": "bigint",
    "observed_below_k": "boolean",
    "expected_moves": "double",
    "expected_low": "double",
    "expected_high": "double",
    "ratio": "double",
    "under_connected": "boolean",
    "tier": "varchar",
    "promote_rank": "integer",
    "is_suppressed": "boolean",
    "suppression": "varchar",
}


def _segments(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, object, str, str]]:
    """(grain, label, source_kind, period_start, segment_kind, segment) of complete published periods."""
    return run(con, "opportunities/fitted_cells", period_grains=list(PERIOD_GRAINS)).fetchall()


#: what tells the cuts apart in the rows of every cut at once (sql/opportunities/*_cells.sql)
CUT_COLUMNS = ["period_grain", "period_start", "source_kind", "segment_kind", "segment"]


def _rows_by_cut(frame: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    """Each cut's rows of ``frame`` (the rows of every cut, with their CUT_COLUMNS), without
    those columns and indexed from 0, as a query of the cut alone would return them: two
    scans of the mart for all cuts instead of two queries per cut (96-104 on the demo;
    measured in docs/routes.md)."""
    columns = [column for column in frame.columns if column not in CUT_COLUMNS]
    starts = pd.to_datetime(frame["period_start"]).dt.date  # a cut's start is a date (_segments)
    keys = frame[CUT_COLUMNS].assign(period_start=starts)
    return {
        key: frame.iloc[positions][columns].reset_index(drop=True)
        for key, positions in keys.groupby(CUT_COLUMNS, sort=False).indices.items()
    }


def _cut_cells(con: duckdb.DuckDBPyConnection, name: str, cuts: list[tuple]) -> pd.DataFrame:
    """The cells of every cut in ``cuts`` (``_segments``) from ``sql/opportunities/<name>.sql``,
    in one scan, with their CUT_COLUMNS: of the periods' grains and of the segments the cuts
    have (fitted_cells.sql alone says which segments are fitted)."""
    segments = [{"segment_kind": kind, "segment": segment} for kind, segment in sorted({cut[4:] for cut in cuts})]
    return run(con, f"opportunities/{name}", period_grains=list(PERIOD_GRAINS), segments=segments).df()


def build_opportunities(con: duckdb.DuckDBPyConnection, k: int) -> dict[str, int]:
    """Fit every complete week and month, source kind and segment; rebuild both tables."""
    needed = ("marts.transitions_by_period", "ref.facilities")
    if not all(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", r.split(".")
        ).fetchone()[0]
        for r in needed
    ):
        return {}
    coordinates = run(con, "opportunities/facility_coordinates").df()
    before = _rows_before(con)
    cuts = _segments(con)
    period_cells, day_cells = _cut_cells(con, "period_cells", cuts), _cut_cells(con, "day_cells", cuts)
    published_of, days_of = _rows_by_cut(period_cells), _rows_by_cut(day_cells)
    no_published, no_days = (frame.iloc[:0].drop(columns=CUT_COLUMNS) for frame in (period_cells, day_cells))
    # the same facilities for every cut: their text for the digests made once (48 times 3 ms)
    coordinates_text = coordinates.to_csv()
    fits, pair_frames, digests = [], [], []
    refitted = 0
    for grain, label, source_kind, start, segment_kind, segment in cuts:
        cut = (grain, start, source_kind, segment_kind, segment)
        published = published_of[cut] if cut in published_of else no_published.copy()
        # hidden: suppressed, or 'partial' (the period's count withheld because a day is hidden)
        published["hidden"] = published["is_suppressed"].astype(bool) | published["transitions"].isna()
        # the model is fitted on the period's published day cells (a hidden day cell left out)
        days = days_of[cut] if cut in days_of else no_days.copy()
        days["moves"] = days["moves"].astype(float)
        keys = {
            "period_grain": grain,
            "period_start": start,
            "period_label": label,
            "source_kind": source_kind,
            "segment": segment,
        }
        digest = _input_digest(keys, published, days, coordinates_text, k)
        digests.append({key: keys[key] for key in CUT_KEYS} | {"input_digest": digest})
        cut = tuple(str(keys[key]) for key in CUT_KEYS)
        if before.get(cut, (None,))[0] == digest:
            # the same published cells, coordinates, k and code as when these rows were
            # written: the fit would give them again, bit for bit (nothing random in it)
            fits.append(before[cut][1])
            pair_frames.append(before[cut][2])
            continue
        refitted += 1
        fit, pairs = fit_gravity(days, coordinates)
        fits.append(keys | asdict(fit))
        if fit.status != "fitted":
            continue
        pairs = pairs.merge(published, how="left", on=["from_facility_id", "to_facility_id"])
        hidden = pairs["hidden"].fillna(False).astype(bool)
        primary = hidden & pairs["is_suppressed"].fillna(False).astype(bool) & (pairs["suppression"] == "primary")
        # judged on: the published count (0 without a cell); k - 1 when hidden as fewer than k;
        # not at all when hidden to protect another cell or withheld for the period
        period_moves = pairs["transitions"].where(~hidden & pairs["hidden"].notna(), 0.0).where(~hidden)
        judged_on = np.where(primary, k - 1.0, period_moves)
        judged = judge(pairs, pd.Series(judged_on, index=pairs.index))
        out = pairs[["from_facility_id", "to_facility_id", "walking_minutes", "expected_moves"]].assign(**keys)
        out["observed_moves"] = period_moves
        out["observed_below_k"] = primary
        out["ratio"] = judged["ratio"].where(~hidden)
        out["expected_low"] = judged["expected_low"]
        out["expected_high"] = judged["expected_high"]
        out["under_connected"] = judged["under_connected"].where(~(hidden & ~primary))
        out["tier"] = judged["tier"].where(~(hidden & ~primary))
        out["is_suppressed"] = hidden
        out["suppression"] = np.where(hidden, pairs["suppression"].fillna("partial"), None)
        # under-connected pairs first, then the watch list; within each, most moves missing first
        missing = (out["expected_moves"] - judged_on) + np.where(out["tier"] == "under_connected", 1e9, 0.0)
        missing = missing.where(out["tier"].notna())
        out["promote_rank"] = missing.groupby(out["from_facility_id"]).rank(ascending=False, method="first")
        pair_frames.append(out)
    fit_frame = pd.DataFrame(fits, columns=list(FIT_TYPES))
    pair_frame = pd.concat(pair_frames, ignore_index=True) if pair_frames else pd.DataFrame(columns=list(PAIR_TYPES))
    for column in ("walking_minutes", "expected_moves", "expected_low", "expected_high", "ratio"):
        pair_frame[column] = pd.to_numeric(pair_frame[column]).round(4)
        pair_frame[column] = pair_frame[column].where(np.isfinite(pair_frame[column]))
    for column in (
        "deviance",
        "null_deviance",
        "pseudo_r2",
        "mcfadden_r2",
        "dispersion",
        "nb_alpha",
        "distance_coefficient",
        "distance_ci_low",
        "distance_ci_high",
    ):
        fit_frame[column] = pd.to_numeric(fit_frame[column]).round(6)
    log.info("opportunities: %d of %d cuts fitted, the others' inputs unchanged", refitted, len(digests))
    return {
        FIT_TABLE: replace_with_frame(con, FIT_TABLE, FIT_TYPES, fit_frame),
        PAIRS_TABLE: replace_with_frame(con, PAIRS_TABLE, PAIR_TYPES, pair_frame),
        INPUTS_TABLE: replace_with_frame(con, INPUTS_TABLE, INPUT_TYPES, pd.DataFrame(digests, columns=list(INPUT_TYPES))),
    }


def _input_digest(keys: dict, published: pd.DataFrame, days: pd.DataFrame, coordinates: str, k: int) -> str:
    """A cut's inputs as one digest: its keys and label, its published period and day cells,
    the facility coordinates (their frame's CSV text), k, this module, its queries and the
    libraries that fit."""
    code = code_fingerprint(__file__, "opportunities", ("statsmodels", "scipy", "numpy", "pandas", "patsy"))
    return input_digest(code, sorted((key, str(value)) for key, value in keys.items()), k, published, days, coordinates)


def _rows_before(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, ...], tuple[str, dict, pd.DataFrame]]:
    """Each cut of the last build: (its input digest, its fit row, its pair rows). Written in
    one transaction with the marts, so a digest always describes the rows beside it."""
    if not all(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", r.split(".")
        ).fetchone()[0]
        for r in (INPUTS_TABLE, FIT_TABLE, PAIRS_TABLE)
    ):
        return {}
    inputs = con.execute(f"select * from {INPUTS_TABLE}").df()
    fits = con.execute(f"select * from {FIT_TABLE}").df()
    pairs = con.execute(f"select * from {PAIRS_TABLE}").df()

    def cut_of(frame: pd.DataFrame) -> pd.Series:
        # the columns zipped, not a row-wise apply (which built a Series per row: 0.26 s against 0.014 s on the demo)
        columns = [frame[key].astype(str) for key in CUT_KEYS]
        return pd.Series(list(zip(*columns)), index=frame.index, dtype=object)

    fit_rows = {cut: row for cut, row in zip(cut_of(fits), fits.to_dict("records"))}
    pair_rows = dict(tuple(pairs.groupby(cut_of(pairs), sort=False))) if len(pairs) else {}
    empty = pairs.iloc[0:0]
    return {
        cut: (digest, fit_rows[cut], pair_rows.get(cut, empty))
        for cut, digest in zip(cut_of(inputs), inputs["input_digest"])
        if cut in fit_rows
    }


def promotions(con: duckdb.DuckDBPyConnection, period_start: object | None = None) -> dict[str, list[tuple[str, str]]]:
    """Per origin: (destination, tier) to promote, from the latest fitted week up to ``period_start``
    (all visitors, card taps), under-connected first."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' and table_name = 'opportunity_pairs'"
    ).fetchone()[0]
    if not exists:
        return {}
    row = run(con, "opportunities/latest_fitted_week", up_to=period_start or None).fetchone()
    if not row or row[0] is None:
        return {}
    found: dict[str, list[tuple[str, str]]] = {}
    for origin, target, tier in run(con, "opportunities/promoted_pairs", period_start=row[0]).fetchall():
        found.setdefault(origin, []).append((target, tier))
    return found
