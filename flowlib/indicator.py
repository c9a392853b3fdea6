"""The in-trip information-satisfaction indicator (旅ナカでの情報取得満足度): definition and statistics.

The city's tourism plan tracks one survey KPI: the share of visitors satisfied with getting
information during their trip. This module holds everything that turns survey answers into
that number and says how sure it is, as plain typed functions on numpy arrays and pandas
frames (no database, no statsmodels: statsmodels is the tests' oracle):

- the definition, read from ``config/indicator.yaml`` (:func:`load_definition`);
- reporting periods: month, quarter, fiscal year, calendar year (:class:`flowlib.calendar.Period`);
- the Wilson score interval (:func:`wilson_interval`), also for weighted answers through the
  Kish effective sample size (:func:`kish_effective_n`, :func:`estimate_share`);
- post-stratification to a known visitor mix (:func:`post_stratify`);
- the comparison with the plan's 2023 baseline (:func:`compare_with_baseline`) and the
  progress toward the 2027 target (:func:`progress_to_target`);
- the indicator table and the driver breakdowns (:func:`estimate_indicator`,
  :func:`estimate_drivers`), which :mod:`flowlib.indicator_mart` writes to the warehouse;

Example
-------
>>> low, high = wilson_interval(53, 100)
>>> round(low, 4), round(high, 4)
(0.4329, 0.6249)

The written definition for the tourism division is ``docs/indicator.md``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from flowlib.calendar import Period
from flowlib.config import get_settings
from flowlib.privacy import answers_publishable, total_reveals_hidden_answers

PeriodType = Literal["month", "quarter", "fiscal_year", "calendar_year"]
PERIOD_TYPES: tuple[str, ...] = ("month", "quarter", "fiscal_year", "calendar_year")
SEGMENTS: tuple[str, ...] = ("domestic", "international", "all")
PLAN_SEGMENTS: tuple[str, ...] = ("domestic", "international")
DRIVER_TYPES: tuple[str, ...] = ("info_source", "form_language", "facility_visited")
#: driver type -> column of staging.stg_survey_response it is read from
DRIVER_COLUMNS: dict[str, str] = {
    "info_source": "info_sources",
    "form_language": "form_language",
    "facility_visited": "facilities_visited",
}
#: survey items (5-point columns of staging.stg_survey_response) the indicator may use
ITEM_COLUMNS: tuple[str, ...] = ("info_satisfaction", "overall_satisfaction")
#: item -> (Japanese, English) name on the pages unless the definition's ``label`` says otherwise
ITEM_LABELS: dict[str, tuple[str, str]] = {
    "info_satisfaction": ("旅ナカでの情報取得満足度", "In-trip information satisfaction"),
    "overall_satisfaction": ("総合満足度", "Overall satisfaction"),
}
#: columns of staging.stg_survey_response a post-stratification may use as strata
STRATA_COLUMNS: tuple[str, ...] = ("segment", "form_language", "residence_country", "residence_prefecture", "source")
#: the driver value that pools values with too few answers of their own
OTHER_VALUE = "other"


class IndicatorConfigError(ValueError):
    """The indicator definition is invalid; the message names the key and the fix."""


# ----------------------------------------------------------------------------- definition


@dataclass(frozen=True)
class PostStratification:
    """Reweight answers so that the strata of ``variable`` take the shares in ``mix``."""

    variable: str
    mix: Mapping[str, float]


@dataclass(frozen=True)
class IndicatorDefinition:
    """What the indicator counts and how it is reported (see ``config/indicator.yaml``)."""

    item: str = "info_satisfaction"
    #: the name on the pages; empty: the item's name (ITEM_LABELS)
    label_ja: str = ""
    label_en: str = ""
    valid_answers: tuple[int, ...] = (1, 2, 3, 4, 5)
    satisfied_answers: tuple[int, ...] = (4, 5)
    excluded_answers: tuple[int, ...] = (9,)
    domestic_countries: frozenset[str] = frozenset({"JP"})
    period_types: tuple[str, ...] = ("month", "quarter", "fiscal_year")
    quarter_basis: Literal["fiscal", "calendar"] = "fiscal"
    fiscal_year_start_month: int = 4
    date_basis: Literal["answer_date", "service_date"] = "answer_date"
    min_respondents: int = 30
    min_effective_n: float = 30.0
    confidence: float = 0.95
    alpha: float = 0.05
    #: The plan (baseline and target) is Nagasaki's tourism-plan KPI; a definition that
    #: declares no ``plan`` has none (None / empty), and nothing is compared with it.
    baseline_year: int | None = 2023
    baseline_share: Mapping[str, float] = field(default_factory=lambda: {"domestic": 0.531, "international": 0.718})
    baseline_respondents: Mapping[str, int | None] = field(default_factory=lambda: {"domestic": None, "international": None})
    target_year: int | None = 2027
    target_share: Mapping[str, float] = field(default_factory=lambda: {"domestic": 0.743, "international": 0.774})
    post_stratification: PostStratification | None = None
    driver_types: tuple[str, ...] = DRIVER_TYPES
    driver_period_types: tuple[str, ...] = ("fiscal_year",)

    @property
    def labels(self) -> tuple[str, str]:
        """(Japanese, English) name of the indicator on the pages."""
        default_ja, default_en = ITEM_LABELS.get(self.item, (self.item, self.item))
        return self.label_ja or default_ja, self.label_en or default_en

    @property
    def has_plan(self) -> bool:
        """Whether the definition declares a baseline and a target to compare with."""
        return bool(self.baseline_share) and bool(self.target_share)

    def with_changes(self, **changes: Any) -> IndicatorDefinition:
        """A copy with some fields changed (validated again)."""
        changed = replace(self, **changes)
        changed.validate()
        return changed

    def validate(self) -> None:
        def fail(key: str, message: str) -> IndicatorConfigError:
            return IndicatorConfigError(f"indicator definition: {key}: {message}")

        if self.item not in ITEM_COLUMNS:
            raise fail("item", f"{self.item!r} is not a survey item column (allowed: {', '.join(ITEM_COLUMNS)}).")
        if not self.valid_answers or len(set(self.valid_answers)) != len(self.valid_answers):
            raise fail("answers.valid", "list each valid answer once.")
        if not set(self.satisfied_answers) <= set(self.valid_answers) or not self.satisfied_answers:
            raise fail("answers.satisfied", "must be a non-empty subset of answers.valid.")
        if set(self.excluded_answers) & set(self.valid_answers):
            raise fail("answers.excluded", "an answer cannot be both valid and excluded.")
        if not self.domestic_countries or not all(len(c) == 2 and c.isupper() for c in self.domestic_countries):
            raise fail("segments.domestic_countries", "give ISO 3166-1 alpha-2 codes such as JP.")
        unknown = set(self.period_types) - set(PERIOD_TYPES)
        if not self.period_types or unknown:
            raise fail("periods.types", f"unknown {sorted(unknown)}; allowed: {', '.join(PERIOD_TYPES)}.")
        if set(self.driver_period_types) - set(PERIOD_TYPES):
            raise fail("drivers.period_types", f"allowed: {', '.join(PERIOD_TYPES)}.")
        if set(self.driver_types) - set(DRIVER_TYPES):
            raise fail("drivers.types", f"allowed: {', '.join(DRIVER_TYPES)}.")
        if self.quarter_basis not in ("fiscal", "calendar"):
            raise fail("periods.quarter_basis", "must be fiscal (Q1 = April-June) or calendar.")
        if not 1 <= self.fiscal_year_start_month <= 12:
            raise fail("periods.fiscal_year_start_month", "must be a month number 1-12.")
        if self.date_basis not in ("answer_date", "service_date"):
            raise fail("periods.date_basis", "must be answer_date or service_date.")
        if self.min_respondents < 1 or self.min_effective_n < 1:
            raise fail("minimum", "respondents and effective_n must be at least 1.")
        if not 0.5 < self.confidence < 1 or not 0 < self.alpha < 0.5:
            raise fail("confidence/alpha", "confidence in (0.5, 1), alpha in (0, 0.5).")
        for name, figures, year in (
            ("plan.baseline", self.baseline_share, self.baseline_year),
            ("plan.target", self.target_share, self.target_year),
        ):
            if not figures:
                continue  # no plan declared: nothing is compared with it
            if set(figures) != set(PLAN_SEGMENTS) or not all(0 < v < 1 for v in figures.values()):
                raise fail(name, "give percent for domestic and international, each between 0 and 100.")
            if year is None:
                raise fail(f"{name}.year", "give the year of the figures.")
        if set(self.baseline_respondents) - set(PLAN_SEGMENTS):
            raise fail("plan.baseline.respondents", "only domestic and international.")
        for segment, n in self.baseline_respondents.items():
            if n is not None and (not isinstance(n, int) or n < 1):
                raise fail("plan.baseline.respondents", f"{segment} must be a whole number >= 1 or null (unknown).")
        ps = self.post_stratification
        if ps is not None:
            if ps.variable not in STRATA_COLUMNS:
                raise fail("post_stratification.variable", f"allowed: {', '.join(STRATA_COLUMNS)}.")
            if not ps.mix or any(not (v > 0) for v in ps.mix.values()):
                raise fail("post_stratification.mix", "give a positive share per stratum.")
            if not math.isclose(sum(ps.mix.values()), 1.0, abs_tol=1e-6):
                raise fail("post_stratification.mix", f"shares must add up to 1 (they add up to {sum(ps.mix.values()):.6f}).")


def _percent_map(raw: Any, key: str) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise IndicatorConfigError(f"indicator definition: {key} must map domestic/international to percent.")
    return {str(k): float(v) / 100.0 for k, v in raw.items()}


def _year(figures: Mapping[str, Any], default: int | None) -> int | None:
    year = figures.get("year", default)
    return None if year is None else int(year)


def definition_from_mapping(doc: Mapping[str, Any]) -> IndicatorDefinition:
    """Build and validate a definition from the YAML document's structure."""
    defaults = IndicatorDefinition()
    answers = doc.get("answers", {}) or {}
    segments = doc.get("segments", {}) or {}
    periods = doc.get("periods", {}) or {}
    minimum = doc.get("minimum", {}) or {}
    # Without a plan key the indicator has no baseline or target: Nagasaki's 2023 / 2027
    # figures belong to info_satisfaction on Nagasaki's form, not to any survey's item.
    declared_plan = "plan" in doc
    plan = doc.get("plan", {}) or {}
    baseline = plan.get("baseline", {}) or {}
    target = plan.get("target", {}) or {}
    label = doc.get("label", {}) or {}
    if not isinstance(label, Mapping):
        raise IndicatorConfigError("indicator definition: label must map ja and en to the indicator's name.")
    drivers = doc.get("drivers", {}) or {}
    ps_raw = doc.get("post_stratification")
    post = None
    if ps_raw and ps_raw.get("enabled", True):
        mix = ps_raw.get("mix") or {}
        if not isinstance(mix, Mapping):
            raise IndicatorConfigError("indicator definition: post_stratification.mix must map stratum to share.")
        post = PostStratification(str(ps_raw.get("variable", "")), {str(k): float(v) for k, v in mix.items()})
    respondents_raw = baseline.get("respondents", {}) or {}
    definition = IndicatorDefinition(
        item=str(doc.get("item", defaults.item)),
        label_ja=str(label.get("ja", "")),
        label_en=str(label.get("en", "")),
        valid_answers=tuple(int(a) for a in answers.get("valid", defaults.valid_answers)),
        satisfied_answers=tuple(int(a) for a in answers.get("satisfied", defaults.satisfied_answers)),
        excluded_answers=tuple(int(a) for a in (answers.get("excluded") or ())),
        domestic_countries=frozenset(str(c) for c in segments.get("domestic_countries", defaults.domestic_countries)),
        period_types=tuple(periods.get("types", defaults.period_types)),
        quarter_basis=periods.get("quarter_basis", defaults.quarter_basis),
        fiscal_year_start_month=int(periods.get("fiscal_year_start_month", defaults.fiscal_year_start_month)),
        date_basis=periods.get("date_basis", defaults.date_basis),
        min_respondents=int(minimum.get("respondents", defaults.min_respondents)),
        min_effective_n=float(minimum.get("effective_n", defaults.min_effective_n)),
        confidence=float(doc.get("confidence", defaults.confidence)),
        alpha=float(doc.get("alpha", defaults.alpha)),
        baseline_year=_year(baseline, defaults.baseline_year if declared_plan else None),
        baseline_share=_percent_map(
            baseline.get("percent", {k: v * 100 for k, v in defaults.baseline_share.items()} if declared_plan else {}),
            "plan.baseline.percent",
        ),
        baseline_respondents={str(k): (None if v is None else int(v)) for k, v in respondents_raw.items()},
        target_year=_year(target, defaults.target_year if declared_plan else None),
        target_share=_percent_map(
            target.get("percent", {k: v * 100 for k, v in defaults.target_share.items()} if declared_plan else {}),
            "plan.target.percent",
        ),
        post_stratification=post,
        driver_types=tuple(drivers.get("types", defaults.driver_types)),
        driver_period_types=tuple(drivers.get("period_types", defaults.driver_period_types)),
    )
    definition.validate()
    return definition


def load_definition(path: Path | None = None) -> IndicatorDefinition:
    """Read the definition (``path``, else the ``FLOW_INDICATOR_FILE`` setting, by default
    ``config/indicator.yaml``) into a validated definition."""
    path = path or get_settings().indicator_file
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise IndicatorConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(doc, Mapping):
        raise IndicatorConfigError(f"{path} must be a YAML mapping.")
    try:
        return definition_from_mapping(doc)
    except IndicatorConfigError as exc:
        raise IndicatorConfigError(f"{path}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise IndicatorConfigError(f"{path}: a value has the wrong type ({exc}).") from exc


# ----------------------------------------------------------------------------- periods


# ----------------------------------------------------------------------------- statistics


@functools.cache  # the same two or three levels for every cell; scipy's isf costs ~0.1 ms a call
def _z(confidence: float) -> float:
    from scipy import stats  # scipy.stats costs seconds to import: only when an interval is drawn

    return float(stats.norm.isf((1.0 - confidence) / 2.0))


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion; ``n`` may be an effective (non-integer) size.

    Equals ``statsmodels.stats.proportion.proportion_confint(successes, n,
    alpha=1 - confidence, method="wilson")``. Returns (nan, nan) when ``n`` is not positive.
    """
    if not n > 0:
        return (math.nan, math.nan)
    if successes < 0 or successes > n * (1 + 1e-12):
        raise ValueError(f"successes {successes} must lie between 0 and n = {n}")
    crit = _z(confidence)
    crit2 = crit * crit
    share = successes / n
    denom = 1.0 + crit2 / n
    centre = (share + crit2 / (2.0 * n)) / denom
    half = crit * math.sqrt(share * (1.0 - share) / n + crit2 / (4.0 * n * n)) / denom
    low = 0.0 if successes <= 0 else min(max(centre - half, 0.0), 1.0)
    high = 1.0 if successes >= n else min(max(centre + half, 0.0), 1.0)
    return (low, high)


def kish_effective_n(weights: Sequence[float] | np.ndarray) -> float:
    """Kish's effective sample size (Σw)² / Σw²: n for equal weights, less when they vary."""
    w = np.asarray(weights, dtype=float)
    if w.size == 0:
        return 0.0
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and non-negative")
    total_sq = float(np.dot(w, w))
    return float(w.sum() ** 2 / total_sq) if total_sq > 0 else 0.0


@dataclass(frozen=True)
class ShareEstimate:
    """One cell: headcounts, the (weighted) share and its Wilson interval."""

    respondents: int
    satisfied: int
    share: float
    ci_low: float
    ci_high: float
    effective_n: float
    weighted: bool


def estimate_share(
    satisfied: Sequence[bool] | np.ndarray, weights: Sequence[float] | np.ndarray | None = None, confidence: float = 0.95
) -> ShareEstimate:
    """Share of satisfied answers with a Wilson interval at the Kish effective sample size.

    Unweighted (or equal weights): the plain share and the ordinary Wilson interval.
    Weighted: share = Σw·y / Σw and the Wilson interval with n = n_eff and successes =
    share × n_eff, the usual design-effect adjustment of a score interval.
    """
    y = np.asarray(satisfied, dtype=bool)
    n = int(y.size)
    count = int(y.sum())
    if weights is None:
        w = np.ones(n)
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != y.shape:
            raise ValueError("weights and answers differ in length")
    weighted = bool(n and not np.allclose(w, w[0], rtol=1e-12, atol=0.0))
    if n == 0 or w.sum() <= 0:
        return ShareEstimate(n, count, math.nan, math.nan, math.nan, 0.0, weighted)
    if not weighted:
        low, high = wilson_interval(count, n, confidence)
        return ShareEstimate(n, count, count / n, low, high, float(n), False)
    share = float(np.dot(w, y) / w.sum())
    n_eff = kish_effective_n(w)
    low, high = wilson_interval(share * n_eff, n_eff, confidence)
    return ShareEstimate(n, count, share, low, high, n_eff, True)


def post_stratify(
    strata: Sequence[Any] | np.ndarray, mix: Mapping[str, float], base_weights: Sequence[float] | np.ndarray | None = None
) -> np.ndarray:
    """Weights that give each stratum its share of the known visitor mix.

    Within stratum h the base weights are scaled by P_h / W_h (W_h = the stratum's share
    of the base weights), then all weights are scaled to sum to the number of answers.
    Answers whose stratum is not in ``mix`` get weight 0 (the caller drops them). Strata of
    the mix with no answers cannot be represented: the mix is renormalised over the
    strata present (documented in docs/indicator.md).
    """
    labels = np.asarray([None if s is None or (isinstance(s, float) and math.isnan(s)) else str(s) for s in strata], dtype=object)
    w = np.ones(labels.size) if base_weights is None else np.asarray(base_weights, dtype=float).copy()
    present = {h: float(w[labels == h].sum()) for h in mix if np.any(labels == h)}
    present = {h: total for h, total in present.items() if total > 0}
    out = np.zeros(labels.size)
    if not present:
        return out
    target_total = sum(mix[h] for h in present)
    base_total = sum(present.values())
    for h, stratum_total in present.items():
        target = mix[h] / target_total
        out[labels == h] = w[labels == h] * target / (stratum_total / base_total)
    kept = out > 0
    return out * (kept.sum() / out.sum())


@dataclass(frozen=True)
class BaselineComparison:
    p_value: float
    significant: bool
    method: str


def compare_with_baseline(
    share: float, effective_n: float, baseline_share: float, baseline_respondents: int | None = None, alpha: float = 0.05
) -> BaselineComparison:
    """Is the change from the baseline share distinguishable from zero?

    - Baseline n known: two-sided pooled two-proportion z-test (statsmodels
      ``proportions_ztest([x, x0], [n, n0])``).
    - Baseline n unknown (the published 2023 figures carry none): the baseline is treated
      as a fixed value and the current share is tested against it with the one-sample
      score test (``proportions_ztest(x, n, value=p0, prop_var=p0)``), the test the Wilson
      interval inverts. This ignores the baseline's own sampling error, so it calls a
      change significant more readily than a test that knew the baseline n.

    For weighted cells ``effective_n`` (Kish) stands in for n.
    """
    if not effective_n > 0 or math.isnan(share):
        return BaselineComparison(math.nan, False, "none")
    if baseline_respondents is None:
        se = math.sqrt(baseline_share * (1 - baseline_share) / effective_n)
        method = "one-sample score test, baseline treated as exact"
    else:
        x1, x0 = share * effective_n, baseline_share * baseline_respondents
        pooled = (x1 + x0) / (effective_n + baseline_respondents)
        se = math.sqrt(pooled * (1 - pooled) * (1 / effective_n + 1 / baseline_respondents))
        method = "two-proportion pooled z-test"
    if se == 0:
        return BaselineComparison(math.nan, False, method)
    z = (share - baseline_share) / se
    from scipy import stats

    p_value = float(2 * stats.norm.sf(abs(z)))
    return BaselineComparison(p_value, p_value < alpha, method)


def progress_to_target(share: float, baseline_share: float, target_share: float) -> float:
    """Share of the way from the baseline to the target: 0 = at baseline, 1 = target reached."""
    if math.isnan(share) or target_share == baseline_share:
        return math.nan
    return (share - baseline_share) / (target_share - baseline_share)


# ----------------------------------------------------------------------------- the indicator


#: A segment's satisfied share with its interval: the same columns in both indicator marts.
_SHARE_TYPES: dict[str, str] = {
    "respondents": "integer",
    "satisfied": "integer",
    "share": "double",
    "ci_low": "double",
    "ci_high": "double",
    "effective_n": "double",
    "weighted": "boolean not null",
    "too_few_answers": "boolean not null",
}
#: The indicator marts' columns and warehouse types (marts.info_satisfaction_indicator / _drivers).
INDICATOR_MART_TYPES: dict[str, str] = {
    "period_type": "varchar not null",
    "period_start": "date not null",
    "period_label": "varchar not null",
    "segment": "varchar not null",
    **_SHARE_TYPES,
    "baseline_share": "double",
    "target_share": "double",
    "progress_to_target": "double",
    "change_vs_baseline_p_value": "double",
    "change_significant": "boolean",
    "period_end": "date not null",
    "months_with_answers": "integer not null",
}
DRIVER_MART_TYPES: dict[str, str] = {
    "period_type": "varchar not null",
    "period_start": "date not null",
    "period": "varchar not null",
    "segment": "varchar not null",
    "driver_type": "varchar not null",
    "driver_value": "varchar not null",
    **_SHARE_TYPES,
    "gap_vs_segment": "double",
    "largest_gap": "boolean not null",
}
INDICATOR_COLUMNS: tuple[str, ...] = tuple(INDICATOR_MART_TYPES)
DRIVER_MART_COLUMNS: tuple[str, ...] = tuple(DRIVER_MART_TYPES)


def prepare_answers(rows: pd.DataFrame, definition: IndicatorDefinition) -> pd.DataFrame:
    """Survey rows → one row per valid answer to the item, with day, segment and weight.

    ``rows`` holds columns of ``staging.stg_survey_response`` (answered_at, service_date,
    residence_country, the item, weight, and the driver / strata columns present).
    Answers that are missing, excluded (e.g. 9 = not applicable) or outside the valid
    scale are dropped here.
    """
    item = pd.to_numeric(rows[definition.item], errors="coerce")
    valid = item.isin(definition.valid_answers)
    frame = rows.loc[valid].copy()
    frame["answer"] = item[valid].astype(int)
    frame["is_satisfied"] = frame["answer"].isin(definition.satisfied_answers)
    if definition.date_basis == "answer_date":
        frame["day"] = pd.to_datetime(frame["answered_at"]).dt.date
    else:
        frame["day"] = pd.to_datetime(frame["service_date"]).dt.date
    country = frame["residence_country"].astype("object")
    frame["segment"] = np.where(
        country.isin(list(definition.domestic_countries)),
        "domestic",
        np.where(country.notna() & (country.astype(str).str.strip() != ""), "international", "unknown"),
    )
    weight = pd.to_numeric(frame["weight"], errors="coerce") if "weight" in frame else pd.Series(1.0, index=frame.index)
    frame["base_weight"] = weight.fillna(1.0).astype(float)
    if (frame["base_weight"] < 0).any():
        raise ValueError("survey weights must not be negative")
    return frame.reset_index(drop=True)


def _cell_weights(cell: pd.DataFrame, definition: IndicatorDefinition) -> tuple[pd.DataFrame, np.ndarray, bool]:
    """The cell's answers used for the estimate, their weights and whether post-stratified."""
    ps = definition.post_stratification
    if ps is None:
        return cell, cell["base_weight"].to_numpy(), False
    weights = post_stratify(cell[ps.variable].tolist(), ps.mix, cell["base_weight"].to_numpy())
    keep = weights > 0
    return cell.loc[keep], weights[keep], True


def _answers_by_period(
    answers: pd.DataFrame, period_types: Iterable[str], definition: IndicatorDefinition
) -> Iterator[tuple[str, Period, pd.DataFrame]]:
    """Each period of each type that has answers, oldest first: (type, period, its answers)."""
    for period_type in period_types:
        by_day = _periods(answers["day"], period_type, definition)
        period = answers["day"].map(lambda d: by_day[d].start)
        for start in sorted(period.unique()):
            in_period = answers.loc[period == start]
            yield period_type, by_day[in_period["day"].iloc[0]], in_period


def _periods(days: Iterable[date], period_type: str, definition: IndicatorDefinition) -> dict[date, Period]:
    return {
        d: Period.containing(
            period_type, d, fiscal_year_start_month=definition.fiscal_year_start_month, quarter_basis=definition.quarter_basis
        )
        for d in set(days)
    }


def _blank(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _thresholds(definition: IndicatorDefinition, min_cell_count: int) -> tuple[int, float]:
    return max(definition.min_respondents, min_cell_count), definition.min_effective_n


def _cell_row(cell: pd.DataFrame, definition: IndicatorDefinition, min_cell_count: int) -> dict[str, Any]:
    used, weights, post_stratified = _cell_weights(cell, definition)
    estimate = estimate_share(used["is_satisfied"].to_numpy(), weights, definition.confidence)
    min_n, min_eff = _thresholds(definition, min_cell_count)
    too_few = estimate.respondents < min_n or estimate.effective_n < min_eff
    shown = answers_publishable(estimate.respondents, estimate.satisfied, min_cell_count)
    return {
        "respondents": estimate.respondents if shown else None,
        "satisfied": estimate.satisfied if shown else None,
        "share": None if too_few else estimate.share,
        "ci_low": None if too_few else estimate.ci_low,
        "ci_high": None if too_few else estimate.ci_high,
        "effective_n": None if too_few else estimate.effective_n,
        "weighted": bool(estimate.weighted or post_stratified),
        "too_few_answers": bool(too_few),
        "_share": estimate.share,
        "_effective_n": estimate.effective_n,
    }


#: The "all" row when publishing it would give away a withheld segment by subtraction.
_WITHHELD_TOTAL = {
    "respondents": None,
    "satisfied": None,
    "share": None,
    "ci_low": None,
    "ci_high": None,
    "effective_n": None,
    "too_few_answers": True,
}


def _answers_by_segment(in_period: pd.DataFrame) -> list[tuple[int, int]]:
    """(respondents, satisfied) of each residence segment, answers without one included:
    the parts of the period's "all" row."""
    grouped = in_period.groupby(in_period["segment"].fillna("unknown"))["is_satisfied"].agg(["size", "sum"])
    return [(int(n), int(sat)) for n, sat in grouped.itertuples(index=False)]


def estimate_indicator(answers: pd.DataFrame, definition: IndicatorDefinition, min_cell_count: int = 10) -> pd.DataFrame:
    """The indicator per period and segment (domestic, international, all).

    Every period with at least one valid answer gets a row for each segment, so a segment
    without enough answers shows up as ``too_few_answers`` instead of disappearing.
    ``respondents``/``satisfied`` are head counts (null below the k-anonymity threshold
    ``min_cell_count``); ``share`` and the interval are weighted when ``weighted`` is true.
    """
    rows: list[dict[str, Any]] = []
    for period_type, info, in_period in _answers_by_period(answers, definition.period_types, definition):
        # the rule (flowlib.privacy): all minus the published segments must not give back a hidden one
        reveals_small_cell = total_reveals_hidden_answers(_answers_by_segment(in_period), min_cell_count)
        for segment in SEGMENTS:
            cell = in_period if segment == "all" else in_period.loc[in_period["segment"] == segment]
            row = {
                "period_type": period_type,
                "period_start": info.start,
                "period_label": info.label,
                "segment": segment,
                "period_end": info.end,
                "months_with_answers": int(pd.Series([(d.year, d.month) for d in cell["day"]]).nunique()),
            }
            row.update(_cell_row(cell, definition, min_cell_count))
            if segment == "all" and reveals_small_cell:
                row.update(_WITHHELD_TOTAL)
            baseline = definition.baseline_share.get(segment)
            target = definition.target_share.get(segment)
            row["baseline_share"] = baseline
            row["target_share"] = target
            row["progress_to_target"] = None
            row["change_vs_baseline_p_value"] = None
            row["change_significant"] = None
            if baseline is not None and target is not None and not row["too_few_answers"]:
                comparison = compare_with_baseline(
                    row["_share"],
                    row["_effective_n"],
                    baseline,
                    definition.baseline_respondents.get(segment),
                    definition.alpha,
                )
                row["progress_to_target"] = _blank(progress_to_target(row["_share"], baseline, target))
                row["change_vs_baseline_p_value"] = _blank(comparison.p_value)
                row["change_significant"] = comparison.significant
            rows.append(row)
    frame = pd.DataFrame(rows, columns=[*INDICATOR_COLUMNS, "_share", "_effective_n"])
    return _typed(frame[list(INDICATOR_COLUMNS)], ("respondents", "satisfied", "months_with_answers"), ("change_significant",))


def _values(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw] if raw.strip() else []
    if isinstance(raw, float) and math.isnan(raw):
        return []
    try:
        items = list(raw)
    except TypeError:
        return [str(raw)]
    return list(dict.fromkeys(str(v).strip() for v in items if v is not None and str(v).strip()))


def _pooled_everywhere(
    in_period: pd.DataFrame, definition: IndicatorDefinition, min_n: int, min_cell_count: int
) -> dict[str, set[str]]:
    """Driver values pooled into ``other`` in every segment of a period.

    A value whose cell is hidden in one segment but published in "all" and in the other
    segment would come back as "all" minus the other (issue 12: all − domestic = the
    international answers). So a value is pooled everywhere when, in any segment (answers
    without a residence country included: they count in "all" only), it has fewer than k
    respondents, k satisfied or k not satisfied. A value only rare for the statistics (below
    the minimum answers, at least k of each) stays: its head counts may be published.
    """
    pooled: dict[str, set[str]] = {}
    for driver_type in definition.driver_types:
        column = DRIVER_COLUMNS[driver_type]
        if column not in in_period:
            continue
        counts: dict[str, dict[str, list[int]]] = {}
        for segment, raw, satisfied in zip(
            in_period["segment"].fillna("unknown").tolist(), in_period[column].tolist(), in_period["is_satisfied"].tolist()
        ):
            for value in _values(raw):
                tally = counts.setdefault(value, {}).setdefault(segment, [0, 0])
                tally[0] += 1
                tally[1] += bool(satisfied)

        def hidden(tally: list[int]) -> bool:
            return not answers_publishable(tally[0], tally[1], min_cell_count)

        pooled[driver_type] = {
            value for value, by_segment in counts.items() if any(hidden(tally) for tally in by_segment.values())
        }
    return pooled


def estimate_drivers(answers: pd.DataFrame, definition: IndicatorDefinition, min_cell_count: int = 10) -> pd.DataFrame:
    """Shares by information source, form language and facility visited, with intervals.

    For each driver period (default: fiscal year) and segment, a respondent counts once
    under every value they gave (multi-select: several sources). Values with fewer answers
    than the minimum are pooled into ``other`` so that rare write-in answers are never
    published on their own. ``gap_vs_segment`` = value share - the segment's share;
    ``largest_gap`` marks, per period, segment and driver type, the value with the largest
    absolute gap among cells with enough answers (ties: more respondents, then the first
    value alphabetically); nothing is marked when fewer than two values can be compared.
    """
    rows: list[dict[str, Any]] = []
    min_n, _ = _thresholds(definition, min_cell_count)
    for period_type, info, in_period in _answers_by_period(answers, definition.driver_period_types, definition):
        pooled = _pooled_everywhere(in_period, definition, min_n, min_cell_count)
        for segment in SEGMENTS:
            cell = in_period if segment == "all" else in_period.loc[in_period["segment"] == segment]
            if cell.empty:
                continue
            used, weights, post_stratified = _cell_weights(cell, definition)
            segment_row = _cell_row(cell, definition, min_cell_count)
            segment_share = None if segment_row["too_few_answers"] else segment_row["_share"]
            used = used.assign(_w=weights)
            for driver_type in definition.driver_types:
                column = DRIVER_COLUMNS[driver_type]
                if column not in used:
                    continue
                exploded = pd.DataFrame(
                    [(i, v) for i, raw in zip(range(len(used)), used[column].tolist()) for v in _values(raw)],
                    columns=["pos", "value"],
                )
                if exploded.empty:
                    continue
                counts = exploded.groupby("value")["pos"].nunique()
                rare = set(counts[counts < min_n].index) | pooled.get(driver_type, set())
                exploded.loc[exploded["value"].isin(rare), "value"] = OTHER_VALUE
                exploded = exploded.drop_duplicates()
                driver_rows = []
                for value, group in exploded.groupby("value", sort=True):
                    positions = group["pos"].to_numpy()
                    estimate = estimate_share(
                        used["is_satisfied"].to_numpy()[positions], used["_w"].to_numpy()[positions], definition.confidence
                    )
                    too_few = estimate.respondents < min_n or estimate.effective_n < definition.min_effective_n
                    shown = answers_publishable(estimate.respondents, estimate.satisfied, min_cell_count)
                    share = None if too_few else estimate.share
                    driver_rows.append(
                        {
                            "period_type": period_type,
                            "period_start": info.start,
                            "period": info.label,
                            "segment": segment,
                            "driver_type": driver_type,
                            "driver_value": str(value),
                            "respondents": estimate.respondents if shown else None,
                            "satisfied": estimate.satisfied if shown else None,
                            "share": share,
                            "ci_low": None if too_few else estimate.ci_low,
                            "ci_high": None if too_few else estimate.ci_high,
                            "effective_n": None if too_few else estimate.effective_n,
                            "weighted": bool(estimate.weighted or post_stratified),
                            "too_few_answers": bool(too_few),
                            "gap_vs_segment": None if share is None or segment_share is None else share - segment_share,
                            "largest_gap": False,
                            "_n": estimate.respondents,
                        }
                    )
                gaps = [
                    (abs(r["gap_vs_segment"]), r["_n"], -i) for i, r in enumerate(driver_rows) if r["gap_vs_segment"] is not None
                ]
                if len(gaps) >= 2 and max(gaps)[0] > 0:
                    driver_rows[-max(gaps)[2]]["largest_gap"] = True
                driver_rows.sort(key=lambda r: (r["driver_value"] == OTHER_VALUE, -r["_n"], r["driver_value"]))
                rows.extend(driver_rows)
    frame = pd.DataFrame(rows, columns=[*DRIVER_MART_COLUMNS, "_n"])
    return _typed(frame[list(DRIVER_MART_COLUMNS)], ("respondents", "satisfied"), ())


def _typed(frame: pd.DataFrame, integers: Sequence[str], nullable_booleans: Sequence[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in integers:
        frame[column] = pd.array(frame[column].tolist(), dtype="Int64")
    for column in nullable_booleans:
        frame[column] = pd.array(frame[column].tolist(), dtype="boolean")
    for column in frame.columns:
        if column in integers or column in nullable_booleans:
            continue
        values = frame[column].tolist()
        if values and all(isinstance(v, bool) for v in values):
            frame[column] = frame[column].astype(bool)
        elif values and all(v is None or isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            frame[column] = pd.to_numeric(pd.Series(values, index=frame.index, dtype="object"), errors="coerce").astype(float)
    return frame.reset_index(drop=True)
