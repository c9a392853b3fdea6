"""The KPI's path: the straight line from baseline to target, month-to-date labels, fiscal-year
status with its test, month-on-month changes, and post-stratification that undoes the demo's
planted response bias (held to the generator's true share, computed here from its own files)."""

from __future__ import annotations

import csv
import io
import math
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from flowlib import demo
from flowlib import kpi_path as kp
from flowlib.indicator import load_definition, prepare_answers

DEFINITION = load_definition()


def answers(rows: list[tuple[date, str, int, int]]) -> pd.DataFrame:
    """(day, residence country, satisfied count, unsatisfied count) -> prepared answers."""
    records = []
    for day, country, yes, no in rows:
        for value, count in ((5, yes), (2, no)):
            records += [
                {
                    "answered_at": datetime.combine(day, datetime.min.time()) + timedelta(hours=12),
                    "service_date": day,
                    "residence_country": country,
                    "info_satisfaction": value,
                    "weight": None,
                }
            ] * count
    return prepare_answers(pd.DataFrame(records), DEFINITION)


def test_the_path_runs_from_baseline_to_target():
    mid_fy2023, mid_fy2027 = date(2023, 4, 1) + timedelta(days=182), date(2027, 4, 1) + timedelta(days=182)
    assert kp.path_share(mid_fy2023, DEFINITION, "domestic") == pytest.approx(0.531)
    assert kp.path_share(mid_fy2027, DEFINITION, "domestic") == pytest.approx(0.743)
    halfway = mid_fy2023 + (mid_fy2027 - mid_fy2023) / 2
    assert kp.path_share(halfway, DEFINITION, "international") == pytest.approx((0.718 + 0.774) / 2, abs=1e-4)
    assert math.isnan(kp.path_share(halfway, DEFINITION, "all"))


def test_series_covers_every_month_and_labels_the_current_one_month_to_date():
    rows = [(date(2026, 9, 10), "JP", 40, 30), (date(2026, 11, 5), "JP", 45, 25), (date(2026, 11, 5), "US", 30, 10)]
    path = kp.build_path(answers(rows), pd.DataFrame(), DEFINITION, date(2026, 11, 14))
    domestic = path.monthly[path.monthly["segment"] == "domestic"].set_index("month")
    assert list(domestic.index) == [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)]
    assert domestic.loc[date(2026, 10, 1), "too_few_answers"]  # a month without answers is a gap, not a zero
    assert domestic.loc[date(2026, 11, 1), "month_label"] == "2026-11（月途中）"
    assert bool(domestic.loc[date(2026, 11, 1), "is_month_to_date"])
    assert not bool(domestic.loc[date(2026, 9, 1), "is_month_to_date"])
    assert domestic.loc[date(2026, 11, 1), "share"] == pytest.approx(45 / 70)


def test_fiscal_year_status_follows_the_stated_test():
    # FY2026 path for domestic ~0.68: 600/1000 is far below, 680/1000 on it; international path ~0.757: 850/1000 above
    rows = [(date(2026, 5, 10), "JP", 600, 400), (date(2026, 5, 10), "KR", 850, 150), (date(2025, 5, 10), "JP", 640, 360)]
    path = kp.build_path(answers(rows), pd.DataFrame(), DEFINITION, date(2027, 3, 31))
    fy = path.fiscal_years.set_index(["fiscal_year", "segment"])
    assert fy.loc[(2026, "domestic"), "status"] == "behind" and fy.loc[(2026, "domestic"), "status_ja"] == "計画より下"
    assert fy.loc[(2026, "international"), "status"] == "ahead"
    path_value = fy.loc[(2025, "domestic"), "path_share"]
    # independent: one-sample z with the path's variance ... statsmodels uses the sample's (prop_var=False)
    z = (0.64 - path_value) / math.sqrt(0.64 * 0.36 / 1000)
    assert fy.loc[(2025, "domestic"), "p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-6)
    expected = "on track" if 2 * stats.norm.sf(abs(z)) >= 0.05 else ("ahead" if z > 0 else "behind")
    assert fy.loc[(2025, "domestic"), "status"] == expected
    assert "proportions_ztest" in fy.loc[(2025, "domestic"), "test"]


def test_month_on_month_change_and_its_significance():
    rows = [
        (date(2026, 9, 10), "JP", 300, 300),
        (date(2026, 10, 10), "JP", 360, 240),
        (date(2026, 10, 10), "US", 60, 40),
        (date(2026, 9, 10), "US", 61, 39),
    ]
    path = kp.build_path(answers(rows), pd.DataFrame(), DEFINITION, date(2026, 10, 31))
    october = path.monthly[(path.monthly["month"] == date(2026, 10, 1))].set_index("segment")
    assert october.loc["domestic", "mom_change"] == pytest.approx(0.1)
    assert bool(october.loc["domestic", "mom_significant"])
    assert not bool(october.loc["international", "mom_significant"])
    # independent pooled two-proportion z-test: close to the score test at these sizes
    pooled = 660 / 1200
    z = 0.1 / math.sqrt(pooled * (1 - pooled) * (2 / 600))
    assert october.loc["domestic", "mom_p_value"] == pytest.approx(2 * stats.norm.sf(z), rel=0.05)


def test_post_stratification_uses_the_month_mix_and_reports_kish_n():
    rows = [(date(2026, 10, 10), "JP", 50, 50), (date(2026, 10, 10), "US", 90, 10)]
    mix = pd.DataFrame({"month": [date(2026, 10, 1)] * 2, "segment": ["domestic", "international"], "visitor_days": [800, 200]})
    path = kp.build_path(answers(rows), mix, DEFINITION, date(2026, 10, 31))
    rows_all = path.monthly[path.monthly["segment"] == "all"].set_index("weighting")
    assert rows_all.loc["post-stratified", "share"] == pytest.approx(0.8 * 0.5 + 0.2 * 0.9)
    assert rows_all.loc["unweighted", "share"] == pytest.approx(140 / 200)
    weights = np.array([0.8 / 100] * 100 + [0.2 / 100] * 100)
    assert rows_all.loc["post-stratified", "effective_n"] == pytest.approx(weights.sum() ** 2 / (weights**2).sum())
    assert rows_all.loc["post-stratified", "mix_basis"] == "entry logs of the month"


# ----------------------------------------------------------------------------- planted bias


def _read_csv(path: Path, encoding: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode(encoding))))


@pytest.fixture(scope="module")
def four_weeks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    landing = tmp_path_factory.mktemp("bias") / "landing"
    demo.generate(landing, date(2026, 10, 5), date(2026, 11, 1), dirty=False)
    return landing


def test_weighting_recovers_the_generators_true_share_despite_the_response_bias(four_weeks):
    landing = four_weeks
    # The visitor mix as the entry logs show it, read here from the files: distinct cards per day by issuer.
    cards: dict[str, set[tuple[str, str]]] = {"domestic": set(), "international": set()}
    for path in landing.glob("entry_log/pos_a/*/*.csv"):
        for row in _read_csv(path, "cp932"):
            if row["発行国"]:
                cards["domestic" if row["発行国"] == "JP" else "international"].add((path.parent.name, row["カードID"]))
    for path in landing.glob("entry_log/pos_b/*/*.csv"):
        for row in _read_csv(path, "utf-8-sig"):
            if row["カード発行国"]:
                cards["domestic" if row["カード発行国"] == "JP" else "international"].add((row["入場日"], row["カード番号"]))
    visitors = {s: len(c) for s, c in cards.items()}
    mix_domestic = visitors["domestic"] / sum(visitors.values())
    # The generator's true share among visitors: its segment probabilities at the visitor mix.
    truth = mix_domestic * demo.DOMESTIC_TOP_TWO + (1 - mix_domestic) * demo.INTERNATIONAL_TOP_TWO

    survey = pd.DataFrame([row for path in sorted(landing.glob("survey/web/*.csv")) for row in _read_csv(path, "utf-8")])
    rows = pd.DataFrame(
        {
            "answered_at": pd.to_datetime(survey["回答日時"]),
            "service_date": pd.to_datetime(survey["回答日時"]).dt.date,
            "residence_country": survey["居住国"],
            "info_satisfaction": survey["旅ナカでの情報取得満足度"],
            "weight": None,
        }
    )
    prepared = prepare_answers(rows, DEFINITION)
    respondents_international = (prepared["segment"] == "international").mean()
    assert respondents_international > (1 - mix_domestic) + 0.12, "the demo over-represents international respondents"

    weighted = kp.weighted_all(prepared, {"domestic": mix_domestic, "international": 1 - mix_domestic})
    from flowlib.indicator import estimate_share

    unweighted = estimate_share(prepared["is_satisfied"].to_numpy())
    assert weighted.ci_low <= truth <= weighted.ci_high, (weighted, truth)
    assert not (unweighted.ci_low <= truth <= unweighted.ci_high), "unweighted, the bias shows"
    assert unweighted.share - truth > 0.02
    assert weighted.effective_n < len(prepared)


def test_the_path_is_kept_while_its_inputs_are_the_same_and_computed_again_when_one_changes(settings, monkeypatch):
    """A night with no new answer keeps the KPI path's rows (the same rows a computation
    gives); a changed answer, definition or cell minimum computes it again."""
    import dataclasses

    from flowlib.pipeline import prepare_warehouse
    from flowlib.warehouse import writer

    prepare_warehouse(settings)
    rows = [
        (
            "survey_web",
            day,
            f"r{day:%d}-{i}",
            datetime.combine(day, datetime.min.time()) + timedelta(hours=10),
            "ja",
            country,
            None,
            5 if i % 3 else 2,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            "f.csv",
            i + 2,
        )
        for day in (date(2026, 10, 20), date(2026, 11, 3))
        for i, country in enumerate(["JP"] * 40 + ["US"] * 30)
    ]
    computed = []
    real = kp.build_path
    monkeypatch.setattr(kp, "build_path", lambda *args, **kwargs: computed.append(1) or real(*args, **kwargs))

    def tables(con) -> dict[str, list[tuple]]:
        return {t: con.execute(f"select * from {t} order by all").fetchall() for t in sorted(kp._TYPES)}

    with writer(settings) as con:
        con.executemany(f"insert into raw.survey_response values ({', '.join('?' * len(rows[0]))})", rows)
        con.execute("create table marts.facility_daily as select date '2026-11-14' as service_date")  # the last day
        kp.build_kpi_path(con, DEFINITION, 10)
        first = tables(con)
        assert len(computed) == 1 and first["marts.kpi_path_monthly"]
        assert kp.build_kpi_path(con, DEFINITION, 10) == {t: len(r) for t, r in first.items()}
        assert len(computed) == 1 and tables(con) == first  # kept
        con.execute(f"delete from {kp.INPUTS_TABLE}")
        kp.build_kpi_path(con, DEFINITION, 10)
        assert len(computed) == 2 and tables(con) == first  # what was kept is what a computation gives

        con.execute("update raw.survey_response set info_satisfaction = 5 where response_key = 'r03-0'")
        kp.build_kpi_path(con, DEFINITION, 10)
        assert len(computed) == 3 and tables(con) != first
        kp.build_kpi_path(con, dataclasses.replace(DEFINITION, min_respondents=DEFINITION.min_respondents + 1), 10)
        kp.build_kpi_path(con, DEFINITION, 12)
        assert len(computed) == 5
        kp.build_kpi_path(con, DEFINITION, 12)
        assert len(computed) == 5
