"""The information-satisfaction indicator: statistics against statsmodels, periods, marts, CSV.

statsmodels is the oracle here only; flowlib.indicator uses numpy/scipy at run time.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from nps import js_to_fixed, net_promoter_score
from raw_rows import insert_answers
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from flowlib import indicator as ind
from flowlib.calendar import Period
from flowlib.exports import neutralise_cell
from flowlib.indicator import (
    IndicatorConfigError,
    PostStratification,
    compare_with_baseline,
    definition_from_mapping,
    estimate_share,
    kish_effective_n,
    load_definition,
    post_stratify,
    progress_to_target,
    wilson_interval,
)
from flowlib.indicator_mart import (
    DRIVERS_TABLE,
    INDICATOR_TABLE,
    build_indicator,
    export_indicator_csv,
)
from flowlib.models import build_views
from flowlib.pseudonym import pseudonymise
from flowlib.warehouse import ensure_schema, writer

FAST = hyp_settings(max_examples=60, deadline=None)


# ----------------------------------------------------------------------------- Wilson


@FAST
@given(n=st.integers(1, 5000), data=st.data(), confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_equals_statsmodels(n, data, confidence):
    count = data.draw(st.integers(0, n))
    low, high = wilson_interval(count, n, confidence)
    ref_low, ref_high = proportion_confint(count, n, alpha=1 - confidence, method="wilson")
    assert low == pytest.approx(ref_low, abs=1e-12)
    assert high == pytest.approx(ref_high, abs=1e-12)
    assert 0.0 <= low <= count / n <= high <= 1.0


@FAST
@given(n_eff=st.floats(0.5, 4000), share=st.floats(0, 1))
def test_wilson_with_effective_sizes_equals_statsmodels(n_eff, share):
    low, high = wilson_interval(share * n_eff, n_eff)
    ref_low, ref_high = proportion_confint(share * n_eff, n_eff, alpha=0.05, method="wilson")
    assert (low, high) == pytest.approx((ref_low, ref_high), abs=1e-12)


def test_wilson_known_values_and_edges():
    assert wilson_interval(53, 100) == pytest.approx((0.432889, 0.624892), abs=1e-6)
    assert wilson_interval(0, 20)[0] == 0.0
    assert wilson_interval(20, 20)[1] == 1.0
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


# ----------------------------------------------------------------------------- weights


@FAST
@given(weights=st.lists(st.floats(0.05, 20), min_size=1, max_size=200))
def test_kish_effective_n_formula_and_bounds(weights):
    w = np.array(weights)
    n_eff = kish_effective_n(w)
    assert n_eff == pytest.approx(w.sum() ** 2 / (w**2).sum())
    assert 1 - 1e-9 <= n_eff <= len(w) + 1e-9


def test_equal_weights_give_the_unweighted_estimate():
    y = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1, 0], dtype=bool)
    plain = estimate_share(y)
    flat = estimate_share(y, np.full(10, 3.7))
    assert not plain.weighted and not flat.weighted
    assert (flat.share, flat.ci_low, flat.ci_high, flat.effective_n) == pytest.approx(
        (plain.share, plain.ci_low, plain.ci_high, 10.0)
    )
    assert (plain.ci_low, plain.ci_high) == pytest.approx(proportion_confint(6, 10, method="wilson"))


@FAST
@given(rows=st.lists(st.tuples(st.booleans(), st.floats(0.1, 10)), min_size=2, max_size=300))
def test_weighted_share_uses_kish_n_in_the_wilson_interval(rows):
    y = np.array([r[0] for r in rows])
    w = np.array([r[1] for r in rows])
    estimate = estimate_share(y, w)
    share = float((w * y).sum() / w.sum())
    n_eff = float(w.sum() ** 2 / (w**2).sum())
    assert estimate.share == pytest.approx(share)
    assert estimate.effective_n == pytest.approx(n_eff)
    assert estimate.respondents == len(rows) and estimate.satisfied == int(y.sum())
    ref = proportion_confint(share * n_eff, n_eff, alpha=0.05, method="wilson")
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx(ref, abs=1e-9)


def test_post_stratification_reaches_the_mix():
    strata = ["domestic"] * 80 + ["international"] * 20
    weights = post_stratify(strata, {"domestic": 0.6, "international": 0.4})
    labels = np.array(strata)
    assert weights[labels == "domestic"].sum() / weights.sum() == pytest.approx(0.6)
    assert weights.sum() == pytest.approx(100)
    # base weights are kept within a stratum
    base = np.r_[np.full(40, 1.0), np.full(40, 2.0), np.full(20, 1.0)]
    weighted = post_stratify(strata, {"domestic": 0.5, "international": 0.5}, base)
    assert weighted[40] / weighted[0] == pytest.approx(2.0)
    assert weighted[labels == "international"].sum() / weighted.sum() == pytest.approx(0.5)


def test_post_stratification_drops_unknown_strata_and_renormalises_missing_ones():
    weights = post_stratify(["a", "a", None, "x"], {"a": 0.5, "b": 0.5})
    assert list(weights[2:]) == [0.0, 0.0]
    assert weights[:2].sum() == pytest.approx(2.0)


# ----------------------------------------------------------------------------- baseline


@FAST
@given(n=st.integers(20, 3000), data=st.data(), baseline=st.sampled_from([0.531, 0.718]))
def test_baseline_test_with_unknown_n_equals_statsmodels_one_sample_score_test(n, data, baseline):
    count = data.draw(st.integers(1, n - 1))
    result = compare_with_baseline(count / n, n, baseline, None)
    _, ref_p = proportions_ztest(count, n, value=baseline, prop_var=baseline)
    assert result.p_value == pytest.approx(ref_p, rel=1e-9, abs=1e-300)
    # the score test is what the Wilson interval inverts: significant <=> baseline outside the CI
    low, high = wilson_interval(count, n)
    if abs(result.p_value - 0.05) > 1e-9:
        assert result.significant == (not low <= baseline <= high)


@FAST
@given(n=st.integers(20, 3000), n0=st.integers(20, 3000), data=st.data())
def test_baseline_test_with_known_n_equals_statsmodels_two_proportion_test(n, n0, data):
    count = data.draw(st.integers(1, n - 1))
    result = compare_with_baseline(count / n, n, 0.531, n0)
    _, ref_p = proportions_ztest([count, 0.531 * n0], [n, n0])
    assert result.p_value == pytest.approx(ref_p, rel=1e-9, abs=1e-300)
    assert result.method == "two-proportion pooled z-test"


def test_progress_to_target():
    assert progress_to_target(0.531, 0.531, 0.743) == 0
    assert progress_to_target(0.743, 0.531, 0.743) == pytest.approx(1)
    assert progress_to_target(0.637, 0.531, 0.743) == pytest.approx(0.5)
    assert progress_to_target(0.50, 0.531, 0.743) < 0


# ----------------------------------------------------------------------------- periods


def test_fiscal_year_runs_april_to_march():
    assert Period.containing("fiscal_year", date(2026, 3, 31)).label == "FY2025"
    assert Period.containing("fiscal_year", date(2026, 4, 1)).label == "FY2026"
    fy = Period.containing("fiscal_year", date(2025, 4, 1))
    assert (fy.start, fy.end) == (date(2025, 4, 1), date(2026, 3, 31))
    q4 = Period.containing("quarter", date(2026, 1, 5))
    assert (q4.label, q4.start, q4.end) == ("FY2025-Q4", date(2026, 1, 1), date(2026, 3, 31))
    q1 = Period.containing("quarter", date(2025, 6, 30))
    assert (q1.label, q1.start, q1.end) == ("FY2025-Q1", date(2025, 4, 1), date(2025, 6, 30))
    assert Period.containing("quarter", date(2025, 2, 1), quarter_basis="calendar").label == "2025-Q1"
    assert Period.containing("month", date(2024, 2, 10)).end == date(2024, 2, 29)


@FAST
@given(
    day=st.dates(date(2000, 1, 1), date(2100, 12, 31)),
    period_type=st.sampled_from(ind.PERIOD_TYPES),
    basis=st.sampled_from(["fiscal", "calendar"]),
)
def test_every_day_lies_in_its_period(day, period_type, basis):
    period = Period.containing(period_type, day, quarter_basis=basis)
    assert period.start <= day <= period.end
    assert period.start.day == 1
    assert Period.containing(period_type, period.start, quarter_basis=basis) == period
    assert Period.containing(period_type, period.end, quarter_basis=basis) == period
    assert Period.containing(period_type, period.end + timedelta(days=1), quarter_basis=basis).start == period.end + timedelta(
        days=1
    )


# ----------------------------------------------------------------------------- definition


def test_config_file_holds_the_plan_figures():
    definition = load_definition()
    assert definition.item == "info_satisfaction"
    assert definition.satisfied_answers == (4, 5)
    assert definition.baseline_share == pytest.approx({"domestic": 0.531, "international": 0.718})
    assert definition.target_share == pytest.approx({"domestic": 0.743, "international": 0.774})
    assert definition.baseline_respondents == {"domestic": None, "international": None}
    assert definition.post_stratification is None
    assert set(definition.period_types) == {"month", "quarter", "fiscal_year"}


@pytest.mark.parametrize(
    "doc, key",
    [
        ({"item": "free_text"}, "item"),
        ({"answers": {"satisfied": [6]}}, "answers.satisfied"),
        ({"answers": {"excluded": [5]}}, "answers.excluded"),
        ({"periods": {"types": ["week"]}}, "periods.types"),
        ({"plan": {"baseline": {"percent": {"domestic": 53.1}}}}, "plan.baseline"),
        ({"plan": {"baseline": {"respondents": {"domestic": 0}}}}, "plan.baseline.respondents"),
        (
            {"post_stratification": {"variable": "segment", "mix": {"domestic": 0.9, "international": 0.2}}},
            "post_stratification.mix",
        ),
        ({"post_stratification": {"variable": "free_text", "mix": {"a": 1}}}, "post_stratification.variable"),
    ],
)
def test_invalid_definitions_name_the_key(doc, key):
    with pytest.raises(IndicatorConfigError, match=key.replace(".", r"\.")):
        definition_from_mapping(doc)


# ----------------------------------------------------------------------------- NPS rounding


@pytest.mark.parametrize(
    "value, digits, expected",
    [
        (12.5, 0, "13"),
        (0.5, 0, "1"),
        (2.5, 0, "3"),
        (43.75, 1, "43.8"),
        (1.005, 2, "1.00"),
        (-4.0, 1, "-4.0"),
        (-2.5, 0, "-3"),
        (-0.04, 1, "-0.0"),
        (-0.0, 1, "0.0"),
        (100.0, 1, "100.0"),
        ((209 - 53) / 403 * 100, 1, "38.7"),
    ],
)
def test_js_to_fixed_matches_javascript(value, digits, expected):
    assert js_to_fixed(value, digits) == expected


def test_net_promoter_score_counts_9_10_minus_0_6():
    nps = net_promoter_score([10, 9, 8, 7, 6, 0, None, 10])
    assert (nps.respondents, nps.promoters, nps.passives, nps.detractors) == (7, 3, 2, 2)
    assert nps.score_text == js_to_fixed(100 / 7, 1) == "14.3"
    with pytest.raises(ValueError):
        net_promoter_score([11])


# ----------------------------------------------------------------------------- marts


DAY = date(2025, 6, 15)


def _row(
    i: int,
    answer: int | None,
    country: str | None,
    *,
    day: date = DAY,
    language: str = "ja",
    sources: list[str] | None = None,
    weight: float | None = None,
    hour: int = 12,
) -> tuple:
    moment = datetime(day.year, day.month, day.day, hour, 0)
    service_day = day if hour >= 4 else day - timedelta(days=1)
    return (
        "survey_web",
        service_day,
        pseudonymise(f"R{i}", b"k"),
        moment,
        language,
        country,
        None,
        answer,
        None,
        None,
        sources or [],
        [],
        weight,
        None,
        "f.csv",
        i + 2,
    )


def _load(settings, rows: list[tuple]):
    with writer(settings) as con:
        ensure_schema(con, settings)
        build_views(con, settings)
        insert_answers(con, rows)


def _mart(settings, table: str, where: str = "true") -> pd.DataFrame:
    with writer(settings) as con:
        return con.execute(f"select * from {table} where {where} order by all").df()


def _answers(domestic: list[int | None], international: list[int | None], **kwargs) -> list[tuple]:
    rows = [_row(i, a, "JP", **kwargs) for i, a in enumerate(domestic)]
    rows += [_row(1000 + i, a, "US", language="en", **kwargs) for i, a in enumerate(international)]
    return rows


def test_indicator_rows_per_period_and_segment(settings):
    # 40 domestic answers (24 satisfied), 3 no-answer, 2 not-applicable (9); 12 international
    domestic = [5] * 10 + [4] * 14 + [3] * 10 + [2] * 4 + [1] * 2 + [None] * 3 + [9] * 2
    international = [5] * 6 + [2] * 6
    _load(settings, _answers(domestic, international) + [_row(5000, 4, None)])
    with writer(settings) as con:
        counts = build_indicator(con, settings)
    assert counts[INDICATOR_TABLE] == 9  # month, quarter, fiscal year x 3 segments
    mart = _mart(settings, INDICATOR_TABLE)
    fy = mart[mart.period_type == "fiscal_year"].set_index("segment")
    assert set(mart.period_label) == {"2025-06", "FY2025-Q1", "FY2025"}
    dom = fy.loc["domestic"]
    assert (dom.respondents, dom.satisfied) == (40, 24)
    assert dom.share == pytest.approx(0.6)
    assert (dom.ci_low, dom.ci_high) == pytest.approx(proportion_confint(24, 40, method="wilson"))
    assert not dom.weighted and not dom.too_few_answers and dom.effective_n == 40
    assert (dom.baseline_share, dom.target_share) == pytest.approx((0.531, 0.743))
    assert dom.progress_to_target == pytest.approx((0.6 - 0.531) / (0.743 - 0.531))
    _, p_value = proportions_ztest(24, 40, value=0.531, prop_var=0.531)
    assert dom.change_vs_baseline_p_value == pytest.approx(p_value)
    assert not dom.change_significant
    # 12 international answers: below the minimum of 30 -> "too few answers", never a share
    intl = fy.loc["international"]
    # 6 satisfied and 6 not satisfied: below k, so no head count either (issue 12)
    assert intl.too_few_answers and pd.isna(intl.respondents) and pd.isna(intl.satisfied)
    assert all(
        pd.isna(intl[c])
        for c in ("share", "ci_low", "ci_high", "progress_to_target", "change_vs_baseline_p_value", "change_significant")
    )
    assert intl.baseline_share == pytest.approx(0.718)
    # all = domestic + international + 1 answer without a residence country: publishing it
    # would give that single answer away by subtraction, so the whole total is withheld
    everyone = fy.loc["all"]
    assert everyone.too_few_answers
    assert all(pd.isna(everyone[c]) for c in ("respondents", "satisfied", "share", "ci_low", "ci_high", "effective_n"))
    assert pd.isna(everyone.baseline_share) and pd.isna(everyone.change_significant)


def test_total_is_published_when_no_segment_is_small(settings):
    _load(settings, _answers([5] * 40 + [2] * 10, [4] * 12 + [2] * 10))
    with writer(settings) as con:
        build_indicator(con, settings)
    everyone = _mart(settings, INDICATOR_TABLE, "segment = 'all' and period_type = 'fiscal_year'").iloc[0]
    assert (everyone.respondents, everyone.satisfied) == (72, 52)
    assert everyone.share == pytest.approx(52 / 72)


def test_small_cells_hide_counts_below_k(settings):
    _load(settings, _answers([5] * 40, [4] * 3))
    with writer(settings) as con:
        build_indicator(con, settings)
    intl = _mart(settings, INDICATOR_TABLE, "segment = 'international' and period_type = 'month'").iloc[0]
    assert intl.too_few_answers and pd.isna(intl.respondents) and pd.isna(intl.satisfied)


def test_periods_follow_the_answer_date_not_the_tourism_day(settings):
    # answered 01:30 on 1 April: tourism day 31 March (FY2024), answer date 1 April (FY2025)
    _load(settings, [_row(i, 5, "JP", day=date(2025, 4, 1), hour=1) for i in range(30)])
    with writer(settings) as con:
        build_indicator(con, settings)
        assert con.execute(
            f"select distinct period_label from {INDICATOR_TABLE} where period_type = 'fiscal_year'"
        ).fetchall() == [("FY2025",)]
        definition = load_definition().with_changes(date_basis="service_date")
        build_indicator(con, settings, definition)
        assert con.execute(
            f"select distinct period_label from {INDICATOR_TABLE} where period_type = 'fiscal_year'"
        ).fetchall() == [("FY2024",)]


def test_survey_weights_and_post_stratification(settings):
    domestic = [5] * 30 + [2] * 30  # 50 %
    international = [5] * 36 + [2] * 10  # 78 % (at least k satisfied and k not satisfied)
    rows = _answers(domestic, international)
    rows = [r[:12] + ((2.0 if r[7] == 5 and r[5] == "JP" else 1.0),) + r[13:] for r in rows]
    _load(settings, rows)
    mix = {"domestic": 0.8, "international": 0.2}
    definition = load_definition().with_changes(post_stratification=PostStratification("segment", mix))
    with writer(settings) as con:
        build_indicator(con, settings, definition)
    fy = _mart(settings, INDICATOR_TABLE, "period_type = 'fiscal_year'").set_index("segment")
    dom_share = 60 / 90  # weights 2 for satisfied domestic answers
    assert fy.loc["domestic", "share"] == pytest.approx(dom_share)
    weights = np.r_[np.full(30, 2.0), np.ones(30)]
    n_eff = weights.sum() ** 2 / (weights**2).sum()
    assert fy.loc["domestic", "effective_n"] == pytest.approx(n_eff)
    assert (fy.loc["domestic", "ci_low"], fy.loc["domestic", "ci_high"]) == pytest.approx(
        proportion_confint(dom_share * n_eff, n_eff, method="wilson")
    )
    assert fy.loc["all", "share"] == pytest.approx(0.8 * dom_share + 0.2 * 36 / 46)
    assert fy["weighted"].all()
    assert fy.loc["all", "respondents"] == 106


def test_drivers_gaps_and_pooling(settings):
    rows = []
    for i in range(60):  # official site users: 45 of 60 satisfied
        rows.append(_row(i, 5 if i < 45 else 2, "JP", sources=["official_site"]))
    for i in range(60):  # SNS users: 24 of 60 satisfied
        rows.append(_row(100 + i, 4 if i < 24 else 3, "JP", sources=["sns", "=HYPERLINK(x)"] if i < 5 else ["sns"]))
    rows.append(_row(300, 4, "JP", sources=["secret write-in"]))
    _load(settings, rows)
    with writer(settings) as con:
        build_indicator(con, settings)
    drivers = _mart(settings, DRIVERS_TABLE, "segment = 'domestic' and driver_type = 'info_source'").set_index("driver_value")
    assert set(drivers.index) == {"official_site", "sns", "other"}  # rare write-ins are pooled
    segment_share = 70 / 121
    assert drivers.loc["official_site", "share"] == pytest.approx(45 / 60)
    assert drivers.loc["official_site", "gap_vs_segment"] == pytest.approx(45 / 60 - segment_share)
    assert (drivers.loc["sns", "ci_low"], drivers.loc["sns", "ci_high"]) == pytest.approx(
        proportion_confint(24, 60, method="wilson")
    )
    assert drivers["largest_gap"].tolist() == [x == "sns" for x in drivers.index]  # |0.4-0.58| > |0.75-0.58|
    assert drivers.loc["other", "too_few_answers"] and pd.isna(drivers.loc["other", "share"])
    language = _mart(settings, DRIVERS_TABLE, "segment = 'domestic' and driver_type = 'form_language'")
    assert language.driver_value.tolist() == ["ja"] and not language.largest_gap.any()


def test_build_is_one_transaction(settings, monkeypatch):
    _load(settings, _answers([5] * 40, [4] * 40))
    with writer(settings) as con:
        build_indicator(con, settings)
    before = (_mart(settings, INDICATOR_TABLE), _mart(settings, DRIVERS_TABLE))

    def broken_drivers(answers, definition, min_cell_count=10):
        frame = ind.estimate_drivers(answers, definition, min_cell_count)
        frame["driver_value"] = None  # violates NOT NULL at the second insert
        return frame

    monkeypatch.setattr("flowlib.indicator_mart.estimate_drivers", broken_drivers)
    with writer(settings) as con:
        con.execute("delete from raw.survey_response where residence_country = 'US'")
        with pytest.raises(duckdb.Error):  # the NOT NULL violation aborts the transaction
            build_indicator(con, settings)
    after = (_mart(settings, INDICATOR_TABLE), _mart(settings, DRIVERS_TABLE))
    pd.testing.assert_frame_equal(before[0], after[0])
    pd.testing.assert_frame_equal(before[1], after[1])


def test_missing_staging_is_explained(settings):
    with writer(settings) as con:
        ensure_schema(con, settings)
        with pytest.raises(RuntimeError, match="build the SQL models first"):
            build_indicator(con, settings)


# ----------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("text", ["=1+1", "+81", "-cmd", "@SUM(A1)", "\tx"])
def test_formula_cells_are_neutralised(text):
    assert neutralise_cell(text) == "'" + text
    assert neutralise_cell("official_site") == "official_site"
    assert neutralise_cell(-0.5) == -0.5


def test_csv_export_is_excel_ready(settings, tmp_path):
    rows = [_row(i, 5 if i < 40 else 2, "JP", sources=["=cmd|' /C calc'!A0"]) for i in range(60)]
    rows += [_row(500 + i, 4, "US", language="en") for i in range(5)]
    _load(settings, rows)
    with writer(settings) as con:
        build_indicator(con, settings)
        paths = export_indicator_csv(con, tmp_path / "out")
    assert [p.name for p in paths] == ["info_satisfaction_indicator.csv", "info_satisfaction_drivers.csv"]
    raw = paths[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    table = pd.read_csv(paths[0], encoding="utf-8-sig", dtype=str, keep_default_na=False)
    fy = table[table.period_type == "fiscal_year"].set_index("segment")
    assert fy.loc["domestic", "share_percent"] == "66.7"
    assert fy.loc["domestic", "progress_to_target_percent"] == str(round((40 / 60 - 0.531) / 0.212 * 100, 1))
    assert fy.loc["international", "share_percent"] == ""
    assert fy.loc["international", "status"].startswith("回答数不足")
    assert fy.loc["domestic", "baseline_percent"] == "53.1"
    drivers = pd.read_csv(paths[1], encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert "'=cmd|' /C calc'!A0" in set(drivers.driver_value)
    assert not any(v.startswith(("=", "+", "@")) for v in drivers.to_numpy().ravel())


def test_no_answers_give_empty_marts_and_csv_headers(settings, tmp_path):
    _load(settings, [])
    with writer(settings) as con:
        counts = build_indicator(con, settings)
        paths = export_indicator_csv(con, tmp_path)
    assert counts[INDICATOR_TABLE] == counts[DRIVERS_TABLE] == 0
    assert paths[0].read_text(encoding="utf-8-sig").startswith("period_type,period,")
