"""Counts for all visitors, not only card payers (推計 / estimate).

Every flow count of the project comes from cashless admissions. Facilities also report
their day's admissions over every payment type (入館者数, kind ``admission_count``). Per
facility and day the *cashless share* is the distinct cards admitted ÷ the reported
admissions; dividing a card count by the share estimates the count for all visitors.

- A facility-day with a report: the share is that day's (Wilson 95 % interval,
  ``statsmodels``), and the facility's visitors are the reported total itself (no estimate).
- A facility-day without a report: the share is pooled over the facility's reported days
  (Σ cards ÷ Σ admissions), and the day's total is estimated with a 95 % predictive
  interval: given ``n`` card payers and a share ``p``, the people paying otherwise are
  negative-binomial (``scipy.stats.nbinom``), evaluated at the ends of the share's interval.
- A facility that never reported: no share, no estimate, status ``no_totals`` (we do not
  borrow another facility's share).
- Moves, routes and the visitors behind the circulation rate are expanded the same way,
  with the mean share of the facilities involved (moves: origin and destination; routes:
  every stop; the city: Σ cards ÷ Σ admissions of the day's reporting facilities). This
  assumes people who pay cash move like card payers; docs/decisions.md says what that means.

Privacy: only *published* card counts are expanded (the marts after suppression); a hidden
card cell gives a hidden estimate, so no estimate can be divided back into a hidden count.
The reported totals are the facilities' own aggregates, not counts of ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from flowlib.queries import run
from flowlib.warehouse import replace_with_frame

log = logging.getLogger(__name__)

FACILITY_TABLE = "marts.all_visitors_facility_daily"
FLOWS_TABLE = "marts.all_visitors_flows_daily"
ALPHA = 0.05


@dataclass(frozen=True)
class Share:
    value: float
    low: float
    high: float
    basis: str  # same_day | other_days
    days: int


def share_interval(cards: int, admissions: int) -> tuple[float, float]:
    """Wilson 95 % interval of cards ÷ admissions (cards are a subset of everyone admitted)."""
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(min(cards, admissions), admissions, alpha=ALPHA, method="wilson")
    return float(low), float(high)


def expand(cards: int, share: Share) -> tuple[int, int, int]:
    """Point estimate and 95 % interval of everyone behind ``cards`` card payers.

    Those paying otherwise are negative-binomial (failures before the n-th card payer);
    the interval takes its 2.5 % quantile at the high end of the share and its 97.5 %
    quantile at the low end, so it covers both the day's chance and the share's uncertainty.
    """
    point, low, high = expand_many(np.array([cards]), [share])
    return int(point[0]), int(low[0]), int(high[0])


def expand_many(cards: np.ndarray, shares: list[Share]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``expand`` for many cells at once: two quantile calls in all, not two per cell (scipy's
    per-call overhead was most of the night's all-visitor flows). Elementwise the same values."""
    from scipy.stats import nbinom

    cards = np.asarray(cards, dtype=np.int64)
    if not len(cards):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    value = np.array([share.value for share in shares], dtype=float)
    high_share = np.minimum(np.array([share.high for share in shares], dtype=float), 1.0)
    low_share = np.maximum(np.array([share.low for share in shares], dtype=float), 1e-6)
    none = cards == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        point = np.where(none, 0, np.round(cards / np.where(none, 1.0, value)))
    low = cards + nbinom.ppf(ALPHA / 2, np.where(none, 1, cards), high_share)
    high = cards + nbinom.ppf(1 - ALPHA / 2, np.where(none, 1, cards), low_share)
    return (
        point.astype(np.int64),
        np.where(none, 0, low).astype(np.int64),
        np.where(none, 0, high).astype(np.int64),
    )


def _exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
        ).fetchone()[0]
    )


def facility_shares(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, dict[tuple, Share]]:
    """Per published facility-day: cards, reported admissions, the share used and its basis."""
    cells = run(con, "expansion/facility_cells").df()
    usable = cells[cells["cashless_visitors"].notna() & (cells["reported_admissions"] > 0)]
    usable = usable[usable["cashless_visitors"] <= usable["reported_admissions"]]
    pooled = usable.groupby("facility_id").agg(
        cards=("cashless_visitors", "sum"), admissions=("reported_admissions", "sum"), days=("service_date", "nunique")
    )
    shares: dict[tuple, Share] = {}
    for row in cells.itertuples():
        key = (row.service_date, row.facility_id)
        if row.cashless_visitors is None or pd.isna(row.cashless_visitors):
            continue
        cards, reported = int(row.cashless_visitors), row.reported_admissions
        if not pd.isna(reported) and reported > 0 and cards <= reported:
            low, high = share_interval(cards, int(reported))
            shares[key] = Share(cards / reported, low, high, "same_day", 1)
        elif row.facility_id in pooled.index and pooled.loc[row.facility_id].cards > 0:
            # no card payer on any reported day gives no multiplier at all (a share of 0)
            p = pooled.loc[row.facility_id]
            low, high = share_interval(int(p.cards), int(p.admissions))
            shares[key] = Share(p.cards / p.admissions, low, high, "other_days", int(p.days))
    return cells, shares


def _not_estimated(is_suppressed: bool) -> dict[str, object]:
    """A cell's estimate columns before (or without) an estimate; a suppressed cell stays marked."""
    return {
        "all_visitors_estimate": None,
        "estimate_ci_low": None,
        "estimate_ci_high": None,
        "is_estimate": False,
        "status": None,
        "is_suppressed": is_suppressed,
        "suppression": "primary" if is_suppressed else None,
    }


def facility_rows(cells: pd.DataFrame, shares: dict[tuple, Share]) -> pd.DataFrame:
    rows = []
    for row in cells.itertuples():
        share = shares.get((row.service_date, row.facility_id))
        reported = None if pd.isna(row.reported_admissions) else int(row.reported_admissions)
        cards = None if pd.isna(row.cashless_visitors) else int(row.cashless_visitors)
        out = {
            "service_date": row.service_date,
            "facility_id": row.facility_id,
            "cashless_visitors": cards,
            "reported_admissions": reported,
            "cashless_share": None,
            "share_ci_low": None,
            "share_ci_high": None,
            "share_basis": None,
            "share_days": None,
            **_not_estimated(bool(row.is_suppressed)),
        }
        if share:
            out.update(
                cashless_share=round(share.value, 4),
                share_ci_low=round(share.low, 4),
                share_ci_high=round(share.high, 4),
                share_basis=share.basis,
                share_days=share.days,
            )
        if reported is not None and share is not None and share.basis == "same_day":
            out.update(all_visitors_estimate=reported, estimate_ci_low=reported, estimate_ci_high=reported, status="reported")
        elif row.is_suppressed:
            out.update(status="suppressed", reported_admissions=reported)
        elif share is not None and share.value > 0:
            point, low, high = expand(cards, share)
            out.update(
                all_visitors_estimate=point, estimate_ci_low=low, estimate_ci_high=high, is_estimate=True, status="estimated"
            )
        elif reported is not None:
            out.update(status="inconsistent_report")  # more cards than reported admissions
        else:
            out.update(status="no_totals")
        rows.append(out)
    return pd.DataFrame(rows)


def _city_shares(cells: pd.DataFrame) -> dict[object, Share]:
    """Per day: Σ cards ÷ Σ admissions of the day's reporting facilities (the share that
    scales the circulation's visitors, which involve no facility in particular)."""
    reported = cells[
        cells["cashless_visitors"].notna()
        & (cells["reported_admissions"] > 0)
        & (cells["cashless_visitors"] <= cells["reported_admissions"])
    ]
    city: dict[object, Share] = {}
    for day, group in reported.groupby("service_date"):
        cards, admissions = int(group["cashless_visitors"].sum()), int(group["reported_admissions"].sum())
        low, high = share_interval(cards, admissions)
        city[day] = Share(cards / admissions, low, high, "same_day", 1)
    return city


def _involved(moves: pd.DataFrame) -> pd.DataFrame:
    """The facilities whose shares scale each move (``move``: its row number), in order: a
    transition's origin and destination (both, even when the same), a route's distinct stops
    in the order first visited; the circulation's rows involve none."""
    transitions = moves.index[moves["measure"] == "transition"]
    ends = pd.DataFrame(
        {
            "move": np.repeat(transitions.to_numpy(), 2),
            "facility_id": np.column_stack(
                [moves.loc[transitions, "from_facility_id"].to_numpy(), moves.loc[transitions, "to_facility_id"].to_numpy()]
            ).ravel(),
        }
    )
    routes = moves.loc[moves["measure"] == "route", "route"].astype(object).str.split(" > ").explode()
    stops = pd.DataFrame({"move": routes.index.to_numpy(), "facility_id": routes.to_numpy()})
    stops = stops[~stops.duplicated(["move", "facility_id"])]
    involved = pd.concat([ends, stops], ignore_index=True)
    involved["position"] = involved.groupby("move").cumcount()
    return involved


def _mean_shares(moves: pd.DataFrame, shares: dict[tuple, Share]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per move: the mean (value, low, high) of its facilities' shares (NaN when one has
    none) and the facilities without one, joined for the status.

    Vectorised over every move (a loop building a Share per move took 1.2-1.5 s for the 56k
    moves of the demo's 70 days, once per settlement round); the means add the shares in
    the facilities' order, as a Python sum over them would, so the values are the same bits."""
    involved = _involved(moves)
    known = pd.DataFrame(
        [(day, facility, share.value, share.low, share.high) for (day, facility), share in shares.items()],
        columns=["service_date", "facility_id", "value", "low", "high"],
    )
    involved["service_date"] = moves["service_date"].to_numpy()[involved["move"].to_numpy()]
    # the shares' days are the cells' (pandas timestamps from the same warehouse)
    known["service_date"] = pd.to_datetime(known["service_date"]).astype(involved["service_date"].dtype)
    involved = involved.merge(known, on=["service_date", "facility_id"], how="left", sort=False)
    n = len(moves)
    count = np.bincount(involved["move"], minlength=n)
    means = np.full((n, 3), np.nan)
    width = int(count.max()) if n else 0
    for position in range(width):
        at = involved[involved["position"] == position]
        rows = at["move"].to_numpy()
        values = at[["value", "low", "high"]].to_numpy(dtype=float)
        means[rows] = values if position == 0 else means[rows] + values
    has = count > 0
    means[has] /= count[has, None]
    missing = involved[involved["value"].isna()].sort_values(["move", "position"])
    absent: dict[int, list[str]] = {}
    for move, facility in zip(missing["move"].tolist(), missing["facility_id"].tolist()):
        absent.setdefault(move, []).append(facility)
    missing_text = [""] * n
    for move, facilities in absent.items():
        missing_text[move] = ", ".join(facilities)
    return means, count, missing_text


def flow_rows(con: duckdb.DuckDBPyConnection, cells: pd.DataFrame, shares: dict[tuple, Share]) -> pd.DataFrame:
    """The all-visitor estimate of every published move: a transition scaled by the mean share
    of its two ends, a route by that of its distinct stops, the circulation's visitors by the
    day's city share; no estimate where a facility involved has no share."""
    moves = run(con, "expansion/moves").df().reset_index(drop=True)
    means, count, missing = _mean_shares(moves, shares)
    city = _city_shares(cells)
    for move in np.flatnonzero(count == 0):
        share = city.get(moves.at[move, "service_date"])
        if share is not None:
            means[move] = (share.value, share.low, share.high)
    suppressed = moves["is_suppressed"].astype(bool).to_numpy()
    visitors = moves["visitors"].to_numpy(dtype=float)
    if (np.isnan(visitors) & ~suppressed).any():
        raise ValueError("expansion: a published move has no visitor count (only suppressed cells are nulled).")
    cards = np.where(suppressed, np.nan, visitors)
    has_share = ~np.isnan(means[:, 0])
    # card payers moved, yet the share of what they moved between is 0: no multiplier
    zero_share = has_share & (means[:, 0] <= 0) & (np.nan_to_num(cards) != 0)
    estimated = ~suppressed & has_share & ~zero_share
    status = np.where(
        suppressed,
        "suppressed",
        np.where(
            ~has_share,
            [f"no_totals: {text}" if text else "no_totals" for text in missing],
            np.where(zero_share, "zero_cashless_share", "estimated"),
        ),
    )
    chosen = np.flatnonzero(estimated)
    points, lows, highs = expand_many(cards[chosen].astype(np.int64), [Share(v, lo, hi, "", 0) for v, lo, hi in means[chosen]])
    estimate = {name: pd.array([None] * len(moves), dtype="Int64") for name in ("point", "low", "high")}
    for name, values in zip(("point", "low", "high"), (points, lows, highs)):
        estimate[name][chosen] = values
    share_used = pd.array([None] * len(moves), dtype="Float64")
    share_used[chosen] = [round(float(value), 4) for value in means[chosen, 0]]
    return pd.DataFrame(
        {
            "service_date": moves["service_date"],
            "measure": moves["measure"],
            "from_facility_id": moves["from_facility_id"],
            "to_facility_id": moves["to_facility_id"],
            "route": moves["route"],
            "cashless_visitors": pd.array(np.where(np.isnan(cards), None, cards).tolist(), dtype="Int64"),
            "share_used": share_used,
            "all_visitors_estimate": estimate["point"],
            "estimate_ci_low": estimate["low"],
            "estimate_ci_high": estimate["high"],
            "is_estimate": estimated,
            "status": status,
            "is_suppressed": suppressed,
            "suppression": np.where(suppressed, "primary", None),
        }
    )


#: The estimate and its disclosure state, the same last columns in both marts.
ESTIMATE_TYPES = {
    "all_visitors_estimate": "bigint",
    "estimate_ci_low": "bigint",
    "estimate_ci_high": "bigint",
    "is_estimate": "boolean",
    "status": "varchar",
    "is_suppressed": "boolean",
    "suppression": "varchar",
}
FACILITY_TYPES = {
    "service_date": "date",
    "facility_id": "varchar",
    "cashless_visitors": "bigint",
    "reported_admissions": "bigint",
    "cashless_share": "double",
    "share_ci_low": "double",
    "share_ci_high": "double",
    "share_basis": "varchar",
    "share_days": "integer",
    **ESTIMATE_TYPES,
}
FLOW_TYPES = {
    "service_date": "date",
    "measure": "varchar",
    "from_facility_id": "varchar",
    "to_facility_id": "varchar",
    "route": "varchar",
    "cashless_visitors": "bigint",
    "share_used": "double",
    **ESTIMATE_TYPES,
}


def build_all_visitors(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rebuild both tables from the published marts and the reported totals (every day)."""
    needed = (
        "marts.facility_daily",
        "marts.transitions_daily",
        "marts.routes_daily",
        "marts.circulation_daily",
        "raw.admission_count",
    )
    if not all(_exists(con, relation) for relation in needed):
        log.info("all-visitor estimates skipped: %s not built yet", ", ".join(r for r in needed if not _exists(con, r)))
        return {}
    cells, shares = facility_shares(con)
    facilities = facility_rows(cells, shares)
    flows = flow_rows(con, cells, shares)
    return {
        FACILITY_TABLE: replace_with_frame(con, FACILITY_TABLE, FACILITY_TYPES, facilities),
        FLOWS_TABLE: replace_with_frame(con, FLOWS_TABLE, FLOW_TYPES, flows),
    }
