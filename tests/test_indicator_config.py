"""The indicator definition is one setting (FLOW_INDICATOR_FILE): another survey's item gets
its own name on the pages and is compared with no plan unless its definition declares one."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from raw_rows import insert_answers

from flowlib.config import PROJECT_ROOT, get_settings
from flowlib.indicator import load_definition
from flowlib.indicator_mart import INDICATOR_TABLE, build_indicator
from flowlib.pipeline import build_marts, prepare_warehouse
from flowlib.pseudonym import pseudonymise
from flowlib.warehouse import writer

DAY = date(2025, 6, 15)

OTHER_SURVEY = """\
item: overall_satisfaction
label: {ja: 富山の総合満足度, en: Toyama overall satisfaction}
minimum: {respondents: 5, effective_n: 5}
"""


def _answers(settings, count: int = 20) -> None:
    """count domestic and count international answers on DAY: three in four satisfied overall."""
    rows = []
    for i in range(2 * count):
        country = "JP" if i < count else "US"
        overall = 5 if i % 4 else 2
        rows.append(
            (
                "survey_web",
                DAY,
                pseudonymise(f"R{i}", b"k"),
                datetime(2025, 6, 15, 12),
                "ja",
                country,
                None,
                None,
                overall,
                None,
                [],
                [],
                None,
                None,
                "f.csv",
                i + 2,
            )
        )
    prepare_warehouse(settings)  # schema, views and the reference facilities the pages draw
    with writer(settings) as con:
        insert_answers(con, rows)


@pytest.fixture
def other_survey(settings, tmp_path, monkeypatch):
    path = tmp_path / "toyama_indicator.yaml"
    path.write_text(OTHER_SURVEY, encoding="utf-8")
    monkeypatch.setenv("FLOW_INDICATOR_FILE", str(path))
    return get_settings()


def test_the_definition_path_is_one_setting(settings, other_survey, tmp_path):
    assert settings.indicator_file == PROJECT_ROOT / "config" / "indicator.yaml"
    assert other_survey.indicator_file == tmp_path / "toyama_indicator.yaml"
    definition = load_definition()  # no path: the setting
    assert definition.item == "overall_satisfaction" and not definition.has_plan
    assert definition.labels == ("富山の総合満足度", "Toyama overall satisfaction")
    assert (definition.baseline_year, definition.target_year) == (None, None)


def test_the_city_definition_keeps_its_plan_and_name(settings):
    definition = load_definition()
    assert definition.has_plan and (definition.baseline_year, definition.target_year) == (2023, 2027)
    assert definition.labels == ("旅ナカでの情報取得満足度", "In-trip information satisfaction")


def test_another_item_is_not_compared_with_the_city_plan_in_the_mart(other_survey):
    _answers(other_survey)
    with writer(other_survey) as con:
        build_indicator(con, other_survey)
        mart = (
            con.execute(f"select * from {INDICATOR_TABLE} where segment = 'domestic' and period_type = 'fiscal_year'")
            .df()
            .iloc[0]
        )
    assert (mart.effective_n, mart.share) == (20, 0.75)  # the overall item: info_satisfaction is empty
    assert mart[["baseline_share", "target_share", "progress_to_target", "change_vs_baseline_p_value"]].isna().all()


def test_another_item_gets_its_name_and_no_plan_on_the_pages(other_survey):
    from flowlib.dashboards import build_dashboards

    _answers(other_survey)
    build_marts([DAY.isoformat()], other_survey)  # the night's step reads the setting itself
    with writer(other_survey) as con:
        index = build_dashboards(con, other_survey, service_dates=[]).read_text(encoding="utf-8")
    assert "富山の総合満足度" in index and "Toyama overall satisfaction" in index
    assert 'class="indicator-share"' in index  # the share is drawn ...
    for city in ("旅ナカでの情報取得満足度", "基準値 2023", "目標値 2027", "indicator-baseline", "目標達成度"):
        assert city not in index  # ... but not named or compared as Nagasaki's KPI
    assert "The definition declares no baseline or target" in index


def test_a_declared_plan_is_drawn_for_another_item_too(settings, tmp_path, monkeypatch):
    from flowlib.dashboards import build_dashboards

    path = tmp_path / "with_plan.yaml"
    path.write_text(
        OTHER_SURVEY + "plan:\n  baseline: {year: 2024, percent: {domestic: 60, international: 60}}\n"
        "  target: {year: 2030, percent: {domestic: 80, international: 80}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("FLOW_INDICATOR_FILE", str(path))
    planned = get_settings()
    _answers(planned)
    build_marts([DAY.isoformat()], planned)
    with writer(planned) as con:
        index = build_dashboards(con, planned, service_dates=[]).read_text(encoding="utf-8")
        baseline = con.execute(f"select distinct baseline_share from {INDICATOR_TABLE} where segment = 'domestic'").fetchall()
    assert baseline == [(pytest.approx(0.6),)]
    assert "基準値 2024" in index and "目標値 2030" in index and "indicator-baseline" in index


def test_the_open_data_catalogue_names_the_item_and_only_a_declared_plan(settings, other_survey):
    from flowlib.exports import indicator_datasets

    city = indicator_datasets(load_definition(settings.indicator_file))
    assert city["info_satisfaction_indicator"] == (
        "旅ナカでの情報取得満足度（月・四半期・年度）",
        "In-trip information satisfaction indicator (month, quarter, fiscal year)",
        "観光計画のKPI。満足度と95%信頼区間、2023年基準値・2027年目標値との比較。定義は docs/indicator.md。",
        "The tourism plan's KPI: share with 95 % interval, against the 2023 baseline and the 2027 target. "
        "Method: docs/indicator.md.",
    )
    assert city["info_satisfaction_drivers"][:2] == (
        "旅ナカでの情報取得満足度の要因（年度）",
        "Drivers of in-trip information satisfaction (fiscal year)",
    )
    other = " ".join(" ".join(texts) for texts in indicator_datasets(load_definition()).values())
    assert "富山の総合満足度" in other and "Toyama overall satisfaction" in other
    for city_word in ("KPI", "2023", "2027", "旅ナカ"):
        assert city_word not in other
