"""The KPI's path to 2027: 旅ナカでの情報取得満足度 month by month, against the straight line
from the 2023 baseline to the 2027 target.

What it adds to ``flowlib.indicator`` (whose definitions, Wilson/Kish estimate and
post-stratification it reuses):

* **Weights to the measured visitor mix** (事後層化, on by default). Respondents are not the
  visitors: in the demo, international visitors answer 2.5 times as often. Each month's
  answers are post-stratified by residence (domestic / international) to the mix of
  visitor-days the entry logs measured that month (``intermediate.int_visitor_days``, cards
  whose issuer country is unknown left out: they are assumed to split like the known ones).
  A month without entry logs takes the mix of all measured days (``mix_basis`` says which).
  The weighted "all" share sits beside the unweighted one, with the Kish effective n.
  Domestic and international rows are single strata: weighting does not change them.
* **A monthly series** from the first month with answers to the current one; the current
  month is labelled month-to-date (月途中) when its last day is after the last answer day.
* **The plan's straight path**: the baseline (FY2023) and the target (FY2027) are placed at
  the middle of their fiscal years (1 October) and joined by a straight line; each month
  and fiscal year is compared with the line at its own middle.
* **On track / behind / ahead** per fiscal year and segment: a two-sided one-sample z-test
  of the fiscal year's share against the path value (``statsmodels`` ``proportions_ztest``
  at the Kish effective n, α from config/indicator.yaml): significantly above = ahead,
  significantly below = behind, otherwise on track.
* **Month-on-month and year-on-year changes** with the two-sample test
  (``statsmodels`` ``test_proportions_2indep``, score method, at effective n).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from flowlib.calendar import Period, add_months, fiscal_year_bounds, fiscal_year_of
from flowlib.indicator import IndicatorDefinition, estimate_share, post_stratify, prepare_answers
from flowlib.input_digest import code_fingerprint, input_digest
from flowlib.queries import run

log = logging.getLogger(__name__)

SEGMENTS = ("domestic", "international")
STATUS_TEST = "two-sided one-sample z-test against the path (statsmodels proportions_ztest, Kish n)"
CHANGE_TEST = "two-sample score test (statsmodels test_proportions_2indep, Kish n)"


def path_share(day: date, definition: IndicatorDefinition, segment: str) -> float:
    """The plan's straight line at ``day``: baseline at mid-FY(baseline), target at mid-FY(target)."""
    baseline = definition.baseline_share.get(segment)
    target = definition.target_share.get(segment)
    if baseline is None or target is None:
        return math.nan
    start_month = definition.fiscal_year_start_month
    anchor = lambda year: date(year, start_month, 1) + timedelta(days=182)  # noqa: E731 - middle of the FY
    x0, x1 = anchor(definition.baseline_year), anchor(definition.target_year)
    fraction = (day - x0).days / (x1 - x0).days
    return baseline + (target - baseline) * fraction


# ----------------------------------------------------------------------------- weights


def visitor_mix(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Visitor-days by month and residence segment from the entry logs (issuer country known)."""
    try:
        frame = run(con, "kpi_path/visitor_mix").df()
    except duckdb.CatalogException:
        frame = pd.DataFrame(columns=["month", "segment", "visitor_days"])
    return frame


def mix_for(months: list[date], measured: pd.DataFrame) -> dict[date, tuple[dict[str, float], str]]:
    """Mix per month: the month's own measurement, else all measured days, else none."""
    if measured.empty:
        return {m: ({}, "none") for m in months}
    table = measured.pivot_table(index="month", columns="segment", values="visitor_days", aggfunc="sum").fillna(0)
    table.index = [pd.Timestamp(m).date() for m in table.index]
    overall = table.sum()
    overall_mix = {s: float(overall.get(s, 0) / overall.sum()) for s in SEGMENTS}
    out = {}
    for month in months:
        if month in table.index and table.loc[month].sum() > 0:
            row = table.loc[month]
            out[month] = ({s: float(row.get(s, 0) / row.sum()) for s in SEGMENTS}, "entry logs of the month")
        else:
            out[month] = (overall_mix, "entry logs of all measured days")
    return out


def weighted_all(cell: pd.DataFrame, mix: dict[str, float]):
    """The 'all' share post-stratified to ``mix`` by residence segment (answers of unknown residence left out)."""
    if not mix:
        return None
    known = cell[cell["segment"].isin(list(mix))]
    weights = post_stratify(known["segment"].tolist(), mix, known["base_weight"].to_numpy())
    keep = weights > 0
    return estimate_share(known["is_satisfied"].to_numpy()[keep], weights[keep])


# ----------------------------------------------------------------------------- tests


def _z_against(share: float, n_eff: float, value: float) -> float:
    from statsmodels.stats.proportion import proportions_ztest

    if not (n_eff > 0 and np.isfinite(share) and np.isfinite(value)) or share in (0.0, 1.0):
        return math.nan
    _, p_value = proportions_ztest(share * n_eff, n_eff, value=value, prop_var=False)
    return float(p_value)


def _two_sample(share1: float, n1: float, share0: float, n0: float) -> float:
    from statsmodels.stats.proportion import test_proportions_2indep

    if not all(np.isfinite(v) for v in (share1, n1, share0, n0)) or min(n1, n0) <= 0:
        return math.nan
    result = test_proportions_2indep(share1 * n1, n1, share0 * n0, n0, method="score", compare="diff")
    return float(result.pvalue)


@dataclass
class KpiPath:
    monthly: pd.DataFrame
    fiscal_years: pd.DataFrame


def _estimate_row(estimate, minimum: int) -> dict[str, object]:
    too_few = estimate is None or estimate.respondents < minimum or estimate.effective_n < minimum
    if estimate is None:
        return {
            "respondents": 0,
            "share": math.nan,
            "ci_low": math.nan,
            "ci_high": math.nan,
            "effective_n": math.nan,
            "too_few_answers": True,
        }
    return {
        "respondents": int(estimate.respondents),
        "share": math.nan if too_few else estimate.share,
        "ci_low": math.nan if too_few else estimate.ci_low,
        "ci_high": math.nan if too_few else estimate.ci_high,
        "effective_n": float(estimate.effective_n),
        "too_few_answers": bool(too_few),
    }


def build_path(
    answers: pd.DataFrame, measured_mix: pd.DataFrame, definition: IndicatorDefinition, last_day: date, minimum: int = 30
) -> KpiPath:
    """Monthly series and fiscal-year status from prepared answers (flowlib.indicator.prepare_answers)."""
    columns = [
        "month",
        "month_label",
        "segment",
        "weighting",
        "is_month_to_date",
        "respondents",
        "share",
        "ci_low",
        "ci_high",
        "effective_n",
        "too_few_answers",
        "mix_domestic",
        "mix_basis",
        "path_share",
        "baseline_share",
        "target_share",
        "mom_change",
        "mom_p_value",
        "mom_significant",
        "yoy_change",
        "yoy_p_value",
        "yoy_significant",
        "change_test",
    ]
    if answers.empty:
        return KpiPath(pd.DataFrame(columns=columns), pd.DataFrame())
    answers = answers.assign(month=[Period.containing("month", d).start for d in answers["day"]])
    first, current = min(answers["month"]), Period.containing("month", last_day).start
    months = []
    month = first
    while month <= current:
        months.append(month)
        month = add_months(month, 1)
    mixes = mix_for(months, measured_mix)
    rows = []
    for month in months:
        cell = answers[answers["month"] == month]
        middle = month + timedelta(days=14)
        mix, basis = mixes[month]
        common = {
            "month": month,
            "month_label": f"{month:%Y-%m}" + ("（月途中）" if Period("month", month).end > last_day else ""),
            "is_month_to_date": Period("month", month).end > last_day,
            "mix_domestic": mix.get("domestic", math.nan),
            "mix_basis": basis,
        }
        for segment in SEGMENTS:
            own = cell[cell["segment"] == segment]
            estimate = estimate_share(own["is_satisfied"].to_numpy(), own["base_weight"].to_numpy()) if len(own) else None
            rows.append(
                {
                    **common,
                    "segment": segment,
                    "weighting": "single stratum",
                    **_estimate_row(estimate, minimum),
                    "path_share": path_share(middle, definition, segment),
                    "baseline_share": definition.baseline_share.get(segment, math.nan),
                    "target_share": definition.target_share.get(segment, math.nan),
                }
            )
        known = cell[cell["segment"].isin(SEGMENTS)]
        unweighted = estimate_share(known["is_satisfied"].to_numpy(), known["base_weight"].to_numpy()) if len(known) else None
        weighted = weighted_all(cell, mix) if len(known) else None
        for weighting, estimate in (("post-stratified", weighted), ("unweighted", unweighted)):
            rows.append(
                {
                    **common,
                    "segment": "all",
                    "weighting": weighting,
                    **_estimate_row(estimate, minimum),
                    "path_share": math.nan,
                    "baseline_share": math.nan,
                    "target_share": math.nan,
                }
            )
    monthly = pd.DataFrame(rows)
    monthly = _changes(monthly, definition.alpha)
    monthly["change_test"] = CHANGE_TEST
    return KpiPath(monthly[columns], _fiscal_years(answers, mixes, definition, last_day, minimum))


def _changes(monthly: pd.DataFrame, alpha: float) -> pd.DataFrame:
    keyed = {(r.month, r.segment, r.weighting): r for r in monthly.itertuples(index=False)}
    out = []
    for r in monthly.itertuples(index=False):
        values = {}
        for name, back in (("mom", 1), ("yoy", 12)):
            before = keyed.get((add_months(r.month, -back), r.segment, r.weighting))
            if before is None or r.too_few_answers or before.too_few_answers:
                values.update({f"{name}_change": math.nan, f"{name}_p_value": math.nan, f"{name}_significant": None})
                continue
            p_value = _two_sample(r.share, r.effective_n, before.share, before.effective_n)
            values.update(
                {
                    f"{name}_change": r.share - before.share,
                    f"{name}_p_value": p_value,
                    f"{name}_significant": bool(p_value < alpha) if np.isfinite(p_value) else None,
                }
            )
        out.append(values)
    return pd.concat([monthly.reset_index(drop=True), pd.DataFrame(out)], axis=1)


def _fiscal_years(
    answers: pd.DataFrame, mixes: dict, definition: IndicatorDefinition, last_day: date, minimum: int
) -> pd.DataFrame:
    start = definition.fiscal_year_start_month
    answers = answers.assign(fiscal_year=[fiscal_year_of(d, start) for d in answers["day"]])
    rows = []
    for year, cell in answers.groupby("fiscal_year", sort=True):
        first_day, fy_end = fiscal_year_bounds(year, start)
        covered_end = min(fy_end, last_day)
        middle = first_day + (covered_end - first_day) / 2
        for segment in SEGMENTS:
            own = cell[cell["segment"] == segment]
            estimate = estimate_share(own["is_satisfied"].to_numpy(), own["base_weight"].to_numpy()) if len(own) else None
            row = _estimate_row(estimate, minimum)
            path = path_share(middle, definition, segment)
            p_value = math.nan if row["too_few_answers"] else _z_against(row["share"], row["effective_n"], path)
            if not np.isfinite(p_value):
                status = "too few answers" if row["too_few_answers"] else "no path"
            elif p_value >= definition.alpha:
                status = "on track"
            else:
                status = "ahead" if row["share"] > path else "behind"
            rows.append(
                {
                    "fiscal_year": int(year),
                    "fiscal_year_label": f"FY{year}",
                    "segment": segment,
                    "is_year_to_date": fy_end > last_day,
                    "months_with_answers": int(cell["month"].nunique()),
                    **row,
                    "path_share": path,
                    "p_value": p_value,
                    "status": status,
                    "status_ja": {"on track": "計画どおり", "ahead": "計画より上", "behind": "計画より下"}.get(
                        status, "判定不能"
                    ),
                    "test": STATUS_TEST,
                }
            )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- warehouse

#: A weighted share with its interval, the same columns in the monthly and the fiscal-year mart.
_SHARE_TYPES = {
    "respondents": "integer",
    "share": "double",
    "ci_low": "double",
    "ci_high": "double",
    "effective_n": "double",
    "too_few_answers": "boolean",
}
_TYPES = {
    "marts.kpi_path_monthly": {
        "month": "date",
        "month_label": "varchar",
        "segment": "varchar",
        "weighting": "varchar",
        "is_month_to_date": "boolean",
        **_SHARE_TYPES,
        "mix_domestic": "double",
        "mix_basis": "varchar",
        "path_share": "double",
        "baseline_share": "double",
        "target_share": "double",
        "mom_change": "double",
        "mom_p_value": "double",
        "mom_significant": "boolean",
        "yoy_change": "double",
        "yoy_p_value": "double",
        "yoy_significant": "boolean",
        "change_test": "varchar",
    },
    "marts.kpi_path_fiscal_year": {
        "fiscal_year": "integer",
        "fiscal_year_label": "varchar",
        "segment": "varchar",
        "is_year_to_date": "boolean",
        "months_with_answers": "integer",
        **_SHARE_TYPES,
        "path_share": "double",
        "p_value": "double",
        "status": "varchar",
        "status_ja": "varchar",
        "test": "varchar",
    },
}
#: the digest of the inputs the marts were computed from (flowlib.input_digest)
INPUTS_TABLE = "ops.kpi_path_inputs"
#: every table the KPI path writes (flowlib.build_state: the marts' build neither reads nor writes them)
WRITTEN_TABLES = frozenset({*_TYPES, INPUTS_TABLE})
#: the libraries that compute the path (intervals, tests, weighting)
PACKAGES = ("numpy", "pandas", "scipy", "statsmodels")


def _inputs_digest(
    con: duckdb.DuckDBPyConnection, mix: pd.DataFrame, definition: IndicatorDefinition, last_day: date, minimum: int
) -> str:
    """Everything the path is computed from: the answers (by a digest DuckDB computes: hashing
    the 40,000 demo answers as text in pandas took 2.5-4 s), the visitor mix, the definition,
    the last day, the smallest count shown, and the code (this module, the indicator's
    estimators and the calendar, with their libraries)."""
    import flowlib.calendar
    import flowlib.indicator

    code = b"".join(
        code_fingerprint(module, folder, PACKAGES)
        for module, folder in (
            (__file__, "kpi_path"),
            (flowlib.indicator.__file__, "indicator"),
            (flowlib.calendar.__file__, "kpi_path"),
        )
    )
    answers = run(con, "kpi_path/answers_digest").fetchone()
    return input_digest(code, answers, _rows_text(mix), definition, last_day, minimum)


def _rows_text(frame: pd.DataFrame) -> str:
    """A frame's columns and rows as text, in an order of their own: the query that reads the
    mix has no order, and the path does not depend on it."""
    rows = sorted(repr(row) for row in frame.itertuples(index=False, name=None))
    return repr(list(frame.columns)) + "\n" + "\n".join(rows)


def _kept(con: duckdb.DuckDBPyConnection, digest: str) -> dict[str, int] | None:
    """The marts' row counts when they were computed from inputs with this digest, else None."""
    try:
        stored, monthly, fiscal_years = run(con, "kpi_path/kept_path").fetchone()
    except duckdb.CatalogException:  # never built, or built before the digest was kept
        return None
    if stored != digest:
        return None
    return {"marts.kpi_path_monthly": monthly, "marts.kpi_path_fiscal_year": fiscal_years}


def build_kpi_path(con: duckdb.DuckDBPyConnection, definition: IndicatorDefinition, min_cell_count: int) -> dict[str, int]:
    """Rebuild both KPI-path marts from all loaded answers (caller holds no transaction).
    When the inputs are those the marts were computed from (the same digest), their rows are
    kept: a night with no new answer computes nothing."""
    from flowlib.indicator_mart import _read_answers, _replace_table
    from flowlib.warehouse import replace_with_frame, transaction

    last = run(con, "kpi_path/last_service_day").fetchone()[0]
    answers = None if last else prepare_answers(_read_answers(con, definition), definition)
    last_day = last or (max(answers["day"]) if answers is not None and len(answers) else date.today())
    minimum = max(definition.min_respondents, min_cell_count)
    mix = visitor_mix(con)
    digest = _inputs_digest(con, mix, definition, last_day, minimum)
    kept = _kept(con, digest)
    if kept is not None:
        log.info("KPI path: its inputs are unchanged; rows kept")
        return kept
    if answers is None:
        answers = prepare_answers(_read_answers(con, definition), definition)
    path = build_path(answers, mix, definition, last_day, minimum)
    counts = {}
    with transaction(con):
        for table, frame in (("marts.kpi_path_monthly", path.monthly), ("marts.kpi_path_fiscal_year", path.fiscal_years)):
            types = _TYPES[table]
            frame = frame.reindex(columns=list(types)) if len(frame) else pd.DataFrame(columns=list(types))
            _replace_table(con, table, types, frame)
            counts[table] = len(frame)
        replace_with_frame(con, INPUTS_TABLE, {"input_digest": "varchar"}, pd.DataFrame({"input_digest": [digest]}))
    return counts
