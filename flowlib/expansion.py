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


def _mean_share(shares: list[Share | None]) -> Share | None:
    if not shares or any(s is None for s in shares):
        return None
    n = len(shares)
    basis = "same_day" if all(s.basis == "same_day" for s in shares) else "other_days"
    return Share(
        sum(s.value for s in shares) / n,
        sum(s.low for s in shares) / n,
        sum(s.high for s in shares) / n,
        basis,
        min(s.days for s in shares),
    )


def flow_rows(con: duckdb.DuckDBPyConnection, cells: pd.DataFrame, shares: dict[tuple, Share]) -> pd.DataFrame:
    moves = run(con, "expansion/moves").df()
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
    rows = []
    estimated: list[tuple[int, int, Share]] = []
    for row in moves.itertuples():
        if row.measure == "transition":
            involved = [row.from_facility_id, row.to_facility_id]
        elif row.measure == "route":
            involved = list(dict.fromkeys(row.route.split(" > ")))
        else:
            involved = []
        share = _mean_share([shares.get((row.service_date, f)) for f in involved]) if involved else city.get(row.service_date)
        missing = [f for f in involved if (row.service_date, f) not in shares]
        out = {
            "service_date": row.service_date,
            "measure": row.measure,
            "from_facility_id": row.from_facility_id,
            "to_facility_id": row.to_facility_id,
            "route": row.route,
            "cashless_visitors": None if row.is_suppressed or pd.isna(row.visitors) else int(row.visitors),
            "share_used": None,
            **_not_estimated(bool(row.is_suppressed)),
        }
        if row.is_suppressed:
            out["status"] = "suppressed"
        elif share is None:
            out["status"] = "no_totals: " + ", ".join(missing) if missing else "no_totals"
        elif share.value <= 0 and out["cashless_visitors"]:
            out["status"] = "zero_cashless_share"  # card payers moved, yet the ends' share is 0: no multiplier
        else:
            out.update(share_used=round(share.value, 4), is_estimate=True, status="estimated")
            estimated.append((len(rows), out["cashless_visitors"], share))
        rows.append(out)
    # every estimated cell in one vectorised call
    points, lows, highs = expand_many(np.array([e[1] for e in estimated]), [e[2] for e in estimated])
    for (index, _, _), point, low, high in zip(estimated, points, lows, highs):
        rows[index].update(all_visitors_estimate=int(point), estimate_ci_low=int(low), estimate_ci_high=int(high))
    return pd.DataFrame(rows)


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
