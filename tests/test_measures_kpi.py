"""Measures with the KPI outcome (旅ナカでの情報取得満足度): difference in differences of the
satisfied share on survey answers (flowlib.measures.estimate_kpi).

A small in-memory warehouse holds demo-like answers (respondent segment, facilities visited,
answer 1-5) drawn with a known truth: from START, respondents who visited Dejima are more
often satisfied by EFFECT (share points); nothing else changes but a shock every day shares
with every respondent and a seasonal drift. The estimate's interval must cover the truth,
placebos (another facility, a time before the start) must not be significant, the point
estimate must equal the 2x2 difference of shares computed by hand, and a thin survey gives
a stated reason instead of an estimate.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from flowlib.measures import MIN_RESPONDENTS, MeasureError, build_measures, estimate, parse_measure

FIRST, LAST = date(2026, 8, 3), date(2026, 11, 29)
START = date(2026, 10, 19)
EFFECT = 0.12
FACILITIES = ["dejima", "glover_garden", "oura_cathedral", "shinchi_chinatown", "peace_park", "megane_bridge"]
K = 10


def planted_answers(seed: int = 14, per_day: int = 40, effect: float = EFFECT) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    day = FIRST
    while day <= LAST:
        shock = rng.normal(0, 0.05)  # weather, crowding: shared by every respondent of the day
        drift = 0.03 * (day - FIRST).days / 120
        for _ in range(rng.poisson(per_day)):
            segment = rng.choice(["domestic", "international", "unknown"], p=[0.6, 0.35, 0.05])
            visited = [f for f in FACILITIES if rng.random() < 0.35]
            p = 0.55 + (0.05 if segment == "domestic" else 0) + shock + drift
            if day >= START and "dejima" in visited:
                p += effect
            satisfied = rng.random() < min(max(p, 0.02), 0.98)
            answer = int(rng.choice([4, 5])) if satisfied else int(rng.choice([1, 2, 3]))
            rows.append((day, str(segment), answer, visited))
        day += timedelta(days=1)
    no_answer = (LAST, "domestic", None, ["dejima"])  # not applicable: never counted
    return pd.DataFrame([*rows, no_answer], columns=["service_date", "segment", "info_satisfaction", "facilities_visited"])


def warehouse(answers: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema staging; create schema marts; create schema ref")
    con.execute(
        "create table staging.stg_survey_response (service_date date, segment varchar, "
        "info_satisfaction smallint, facilities_visited varchar[])"
    )
    con.register("answers", answers)
    con.execute("insert into staging.stg_survey_response select * from answers")
    con.unregister("answers")
    con.execute("create table ref.facilities (facility_id varchar)")
    con.executemany("insert into ref.facilities values (?)", [[f] for f in FACILITIES])
    # the count marts build_measures looks for: present, one row spanning the data
    con.execute("create table marts.facility_daily (service_date date)")
    con.execute("insert into marts.facility_daily values (?), (?)", [FIRST, LAST])
    con.execute("create table marts.transitions_daily (service_date date)")
    con.execute("create table marts.circulation_daily (service_date date)")
    return con


def measure_file(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\n{body}", encoding="utf-8")
    return path


def kpi(tmp_path: Path, con: duckdb.DuckDBPyConnection, body: str, name: str = "m"):  # type: ignore[no-untyped-def]
    measure = parse_measure(measure_file(tmp_path, name, body), set(FACILITIES), FIRST, LAST)
    return estimate(con, measure, FIRST, LAST, K)


@pytest.fixture(scope="module")
def answers() -> pd.DataFrame:
    return planted_answers()


def test_point_estimate_is_the_hand_computed_2x2_difference_of_shares(tmp_path: Path, answers: pd.DataFrame) -> None:
    found = kpi(tmp_path, warehouse(answers), f"start: {START}\ntreated: {{facilities: [dejima]}}\noutcome: {{kind: kpi}}\n")
    assert found.status == "estimated" and found.effect_scale == "points"
    window = answers[answers["service_date"] >= START - timedelta(days=182)].dropna(subset=["info_satisfaction"])
    treated = window["facilities_visited"].map(lambda v: "dejima" in v)
    after = window["service_date"] >= START
    satisfied = window["info_satisfaction"] >= 4

    def share(t: bool, a: bool) -> float:
        return float(satisfied[(treated == t) & (after == a)].mean())

    by_hand = (share(True, True) - share(True, False)) - (share(False, True) - share(False, False))
    assert found.effect == pytest.approx(by_hand, abs=1e-12)
    assert found.treated_unit == "respondents who visited dejima"
    assert found.comparison_units == ["the other respondents"]


def test_planted_kpi_effect_is_covered_and_placebos_are_not_significant(tmp_path: Path, answers: pd.DataFrame) -> None:
    con = warehouse(answers)
    found = kpi(tmp_path, con, f"start: {START}\ntreated: {{facilities: [dejima]}}\noutcome: {{kind: kpi}}\n", "planted")
    assert found.ci_low < EFFECT < found.ci_high
    assert found.ci_low > 0 and found.p_value < 0.05
    assert found.pre_trend_p_value is not None and found.pre_trend_p_value >= 0.05  # no drift planted before
    placebo_place = kpi(
        tmp_path,
        con,
        f"start: {START}\ntreated: {{facilities: [glover_garden]}}\n"
        "outcome: {kind: kpi}\ncomparison: {facilities: [oura_cathedral, peace_park]}\n",
        "place",
    )
    assert placebo_place.status == "estimated" and placebo_place.comparison_chosen_by == "declared"
    placebo_time = kpi(
        tmp_path, con, "start: 2026-09-21\nend: 2026-10-18\ntreated: {facilities: [dejima]}\noutcome: {kind: kpi}\n", "time"
    )
    placebo_segment = kpi(tmp_path, con, f"start: {START}\ntreated: {{segment: international}}\noutcome: {{kind: kpi}}\n", "seg")
    assert placebo_segment.comparison_units == ["segment domestic"]
    for placebo in (placebo_place, placebo_time, placebo_segment):
        assert placebo.ci_low < 0 < placebo.ci_high, placebo
        assert placebo.p_value >= 0.05


def test_interval_covers_the_truth_across_draws(tmp_path: Path) -> None:
    """Coverage, not luck: over independent demo-like draws the 95 % interval holds the truth."""
    covered = 0
    for seed in range(8):
        found = kpi(
            tmp_path,
            warehouse(planted_answers(seed=100 + seed, per_day=30)),
            f"start: {START}\ntreated: {{facilities: [dejima]}}\noutcome: {{kind: kpi}}\n",
        )
        covered += found.ci_low < EFFECT < found.ci_high
    assert covered >= 6


def test_too_few_respondents_is_a_stated_reason(tmp_path: Path) -> None:
    thin = planted_answers(seed=3, per_day=2)
    found = kpi(tmp_path, warehouse(thin), f"start: {START}\ntreated: {{facilities: [dejima]}}\noutcome: {{kind: kpi}}\n")
    assert found.status == "too_few_respondents" and found.effect is None
    assert f"at least {MIN_RESPONDENTS} are needed" in (found.reason or "")
    assert "treated respondents" in (found.reason or "")


def test_nightly_table_and_protected_weekly_series(tmp_path: Path, answers: pd.DataFrame) -> None:
    con = warehouse(answers)
    folder = tmp_path / "measures"
    measure_file(folder, "kpi_signage", f"start: {START}\ntreated: {{facilities: [dejima]}}\noutcome: {{kind: kpi}}\n")
    measure_file(folder, "typo", f"start: {START}\ntreated: {{facilities: [dejima]}}\noutcome: {{kind: satisfaction}}\n")
    build_measures(con, folder, K)
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "select measure, status, outcome, effect_scale, ci_low, ci_high, reason from marts.measure_effects"
        ).fetchall()
    }
    status, outcome, scale, low, high, _ = rows["kpi_signage"]
    assert (status, outcome, scale) == ("estimated", "kpi info_satisfaction dejima", "points") and low < EFFECT < high
    assert rows["typo"][0] == "refused" and "outcome.kind 'satisfaction'" in rows["typo"][-1]
    series = con.execute("select series_group, value from marts.measure_series where measure = 'kpi_signage'").df()
    assert set(series["series_group"]) == {"treated", "comparison"} and series["value"].between(0, 1).all()
    from flowlib.dashboards.action_pages import measures_page

    page = measures_page(con, {}, K)
    assert page is not None
    (section,) = [s for s in page.sections if s.id == "measure-kpi_signage"]
    notes = " ".join(ja + " " + en for ja, en in section.notes)
    assert "points (95 % interval" in notes and "weekly satisfied share" in notes and section.chart is not None
    # a week's share is published only with >= k satisfied and >= k not satisfied answers
    small = measure_file(
        tmp_path / "k", "kpi_small", f"start: {START}\ntreated: {{facilities: [dejima]}}\noutcome: {{kind: kpi}}\n"
    )
    measure = parse_measure(small, set(FACILITIES), FIRST, LAST)
    weekly = estimate(con, measure, FIRST, LAST, 1000).series
    assert weekly is not None and weekly.empty


def test_unknown_outcome_is_refused_naming_the_field(tmp_path: Path) -> None:
    path = measure_file(tmp_path, "bad", f"start: {START}\ntreated: {{facilities: [dejima]}}\noutcome: {{kind: happiness}}\n")
    with pytest.raises(MeasureError) as refused:
        parse_measure(path, set(FACILITIES), FIRST, LAST)
    message = str(refused.value)
    assert "outcome.kind 'happiness'" in message and "kpi" in message and message.count(". ") == 0
