"""The indicator pipeline on real survey microdata (Toyama, Fukui), against independent figures.

The Toyama web survey (CC BY 富山県) is loaded through the source registry exactly like a
delivery: copied into a landing folder and ingested with ``sources/examples/toyama_survey.yaml``.
Two independent checks:

- the per-city NPS that a third party (code4fukui/opendata-hokuriku, MIT) published from the
  same survey: ``nps-city-2025.csv`` (whole period, cities with 100+ answers) and
  ``nps-city.csv`` (per month). Their method, read off the CSVs: score = おすすめ度 (0-10);
  city = 回答場所 (the answering municipality; 宿泊先 "at the lodging" has no city and is left
  out); month = アンケート回答日; NPS = %(9-10) - %(0-6) with JavaScript ``toFixed(1)``;
  the 0..10 shares with ``toFixed(0)``; every delivered line counts, byte-identical lines too.
- the top-two-box satisfaction share and its Wilson interval, recomputed here with pandas
  and statsmodels straight from the CSV.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from conftest import PROJECT_ROOT, require
from nps import nps_table
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from flowlib.config import Settings, get_settings
from flowlib.indicator import load_definition
from flowlib.indicator_mart import DRIVERS_TABLE, INDICATOR_TABLE, build_indicator
from flowlib.ingest import PartitionResult, ingest_partition
from flowlib.models import build_views
from flowlib.sources import SourceSpec, parse_declaration
from flowlib.warehouse import writer

TOYAMA_CSV = Path("hokuriku_survey/toyama.csv")
FUKUI_CSV = Path("fukui_survey/monthly_202204.csv")
#: 回答場所 values that are not a municipality (the publisher's spot table gives them no city)
NOT_A_CITY = {"宿泊先", ""}
TOP_TWO_TOYAMA = {"大いに満足", "満足"}
TOYAMA_LABELS = TOP_TWO_TOYAMA | {"普通", "不満", "大いに不満"}


@dataclass
class Loaded:
    settings: Settings
    specs: dict[str, SourceSpec]
    results: dict[str, PartitionResult]


@pytest.fixture(scope="module")
def loaded(realdata: Path, tmp_path_factory: pytest.TempPathFactory):
    for relative in (TOYAMA_CSV, FUKUI_CSV):
        require((realdata / relative).is_file(), f"{realdata / relative} is missing")
    root = tmp_path_factory.mktemp("indicator_realdata")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLOW_DATA_DIR", str(root / "data"))
        mp.setenv("FLOW_DASHBOARDS_DIR", str(root / "dashboards"))
        mp.setenv("FLOW_DEMO_MODE", "true")
        for name in ("FLOW_HMAC_KEY", "FLOW_LANDING_DIR", "FLOW_WAREHOUSE"):
            mp.delenv(name, raising=False)
        settings = get_settings()
        specs, results = {}, {}
        for name, relative in (("toyama_survey", TOYAMA_CSV), ("fukui_survey", FUKUI_CSV)):
            spec = parse_declaration(PROJECT_ROOT / "sources" / "examples" / f"{name}.yaml")
            assert not spec.is_daily, f"{name} must be a snapshot source"
            target = settings.landing_dir / spec.landing.replace("*", relative.stem)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(realdata / relative, target)
            specs[name] = spec
            results[name] = ingest_partition(spec, None, settings)
        with writer(settings) as con:
            build_views(con, settings)
        yield Loaded(settings, specs, results)


def _query(settings: Settings, sql: str, params: list | None = None) -> pd.DataFrame:
    with writer(settings) as con:
        return con.execute(sql, params or []).df()


def _toyama_csv(realdata: Path) -> pd.DataFrame:
    return pd.read_csv(realdata / TOYAMA_CSV, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _toyama_answers(loaded: Loaded) -> pd.DataFrame:
    """Loaded Toyama answers with the city where they were given (answer_place)."""
    rows = _query(
        loaded.settings,
        "select recommend_score, answered_at, coalesce(answer_place, '') as city "
        "from raw.survey_response where source = 'toyama_survey'",
    )
    rows = rows[~rows.city.isin(NOT_A_CITY)].copy()
    rows["dt"] = pd.to_datetime(rows.answered_at).dt.strftime("%Y-%m")
    return rows


def _published(realdata: Path, name: str) -> pd.DataFrame:
    table = pd.read_csv(realdata / "hokuriku_survey" / name, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return table[table.pref == "富山県"].drop(columns="pref").reset_index(drop=True)


def _same_rows(ours: pd.DataFrame, theirs: pd.DataFrame, keys: list[str]) -> None:
    ours = ours.astype(str).sort_values(keys).reset_index(drop=True)
    theirs = theirs[list(ours.columns)].astype(str).sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(ours, theirs)


# ----------------------------------------------------------------------------- loading


def test_toyama_loads_through_the_registry(loaded, realdata):
    result = loaded.results["toyama_survey"]
    assert result.outcome == "loaded"
    # every delivered line is an answer: the export has no answer id, and 8 lines repeat an
    # earlier line byte for byte (double submissions, which the publisher counts too)
    assert (result.rows_loaded, result.rows_quarantined) == (3339, 0)
    csv = _toyama_csv(realdata)
    assert len(csv) == 3339 and int(csv.duplicated().sum()) == 8
    stored = _query(
        loaded.settings,
        "select min(answered_at)::date as first, max(answered_at)::date as last, "
        "min(service_date) as first_day, "
        "count(distinct residence_country) as countries, "
        "count(*) filter (where info_satisfaction is not null) as info_answers, "
        "count(distinct answer_place) as places "
        "from raw.survey_response where source = 'toyama_survey'",
    ).iloc[0]
    assert (str(stored["first"])[:10], str(stored["last"])[:10]) == ("2025-04-18", "2025-10-31")
    assert str(stored.first_day)[:10] == "2025-04-18"  # a date-only answer time is its own day
    assert stored.countries == 1 and stored.info_answers == 0
    assert stored.places == csv["回答場所"].replace("", None).nunique()


def test_fukui_loads_through_the_registry(loaded):
    result = loaded.results["fukui_survey"]
    assert (result.outcome, result.rows_loaded, result.rows_quarantined) == ("loaded", 234, 0)


# ----------------------------------------------------------------------------- NPS


def test_published_city_nps_is_reproduced_exactly(loaded, realdata):
    answers = _toyama_answers(loaded)
    ours = nps_table(answers, "city", min_count=100)
    published = _published(realdata, "nps-city-2025.csv")
    assert (
        sorted(ours.city)
        == sorted(published.city)
        == sorted(["富山市", "氷見市", "高岡市", "砺波市", "射水市", "黒部市", "魚津市", "立山町"])
    )
    _same_rows(ours, published, ["city"])


def test_published_monthly_city_nps_is_reproduced_exactly(loaded, realdata):
    answers = _toyama_answers(loaded)
    ours = nps_table(answers, ["dt", "city"])
    published = _published(realdata, "nps-city.csv")
    assert len(published) == 94
    _same_rows(ours, published, ["dt", "city"])
    # by the 04:00 tourism day, answers dated the 1st (a date without time = 00:00) would
    # fall into the previous month: why the indicator groups surveys by answer date
    by_service_day = answers.assign(dt=(pd.to_datetime(answers.answered_at) - pd.Timedelta(hours=4)).dt.strftime("%Y-%m"))
    assert not nps_table(by_service_day, ["dt", "city"]).astype(str).equals(ours.astype(str))


# ----------------------------------------------------------------------------- indicator


@pytest.fixture(scope="module")
def toyama_indicator(loaded):
    """The indicator marts with the Toyama form's 5-point item (overall satisfaction)."""
    definition = load_definition().with_changes(item="overall_satisfaction")
    with writer(loaded.settings) as con:
        counts = build_indicator(con, loaded.settings, definition)
    assert counts[INDICATOR_TABLE] > 0
    return definition


def _independent_toyama(realdata: Path) -> pd.DataFrame:
    csv = _toyama_csv(realdata)
    csv = csv[csv["満足度（旅行全体）"].isin(TOYAMA_LABELS)].copy()
    csv["top_two"] = csv["満足度（旅行全体）"].isin(TOP_TWO_TOYAMA)
    csv["month"] = pd.to_datetime(csv["アンケート回答日"], format="%Y/%m/%d").dt.strftime("%Y-%m")
    return csv


def test_top_two_box_share_and_interval_match_an_independent_count(loaded, realdata, toyama_indicator):
    csv = _independent_toyama(realdata)
    fukui = pd.read_csv(realdata / FUKUI_CSV, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    mart = _query(loaded.settings, f"select * from {INDICATOR_TABLE}")
    fy2025 = mart[(mart.period_label == "FY2025") & (mart.segment == "domestic")].iloc[0]
    n, x = len(csv), int(csv.top_two.sum())
    assert (fy2025.respondents, fy2025.satisfied) == (n, x)
    assert n == 3339 - int((~_toyama_csv(realdata)["満足度（旅行全体）"].isin(TOYAMA_LABELS)).sum())
    assert fy2025.share == pytest.approx(x / n)
    assert (fy2025.ci_low, fy2025.ci_high) == pytest.approx(proportion_confint(x, n, method="wilson"), abs=1e-12)
    assert not fy2025.weighted and not fy2025.too_few_answers and fy2025.months_with_answers == 7
    _, p_value = proportions_ztest(x, n, value=0.531, prop_var=0.531)
    assert fy2025.change_vs_baseline_p_value == pytest.approx(p_value, abs=1e-300)
    # every respondent lives in Japan: no international answers, shown as too few, counts withheld
    intl = mart[(mart.period_label == "FY2025") & (mart.segment == "international")].iloc[0]
    assert intl.too_few_answers and pd.isna(intl.respondents) and pd.isna(intl.share)
    # months: April-October 2025, each against the independent count
    months = mart[
        (mart.period_type == "month") & (mart.segment == "domestic") & mart.period_label.str.startswith("2025")
    ].set_index("period_label")
    expected = csv.groupby("month").top_two.agg(["sum", "size"])
    assert list(months.index) == list(expected.index) == [f"2025-{m:02d}" for m in range(4, 11)]
    for month, (sat, size) in expected.iterrows():
        assert (months.loc[month, "respondents"], months.loc[month, "satisfied"]) == (size, sat)
        assert (months.loc[month, "ci_low"], months.loc[month, "ci_high"]) == pytest.approx(
            proportion_confint(sat, size, method="wilson"), abs=1e-12
        )
    # Fukui, April 2022 (FY2022): 満足度 とても満足 / 満足
    fy2022 = mart[(mart.period_label == "FY2022") & (mart.segment == "domestic")].iloc[0]
    top = int(fukui["満足度"].isin(["とても満足", "満足"]).sum())
    assert (fy2022.respondents, fy2022.satisfied) == (234, top)
    assert (fy2022.ci_low, fy2022.ci_high) == pytest.approx(proportion_confint(top, 234, method="wilson"), abs=1e-12)


def test_drivers_match_an_independent_count(loaded, realdata, toyama_indicator):
    drivers = _query(loaded.settings, f"select * from {DRIVERS_TABLE} where segment = 'domestic' and driver_type = 'info_source'")
    csv = _independent_toyama(realdata)
    official = {"富山県観光公式サイト「とやま観光ナビ」", "富山県内市町村の観光公式サイト"}
    used = csv["情報源（デジタル）"].map(lambda v: bool(official & {p.strip() for p in v.split(",")}))
    row = drivers[(drivers.period == "FY2025") & (drivers.driver_value == "official_site")].iloc[0]
    n, x = int(used.sum()), int(csv.top_two[used].sum())
    assert (row.respondents, row.satisfied) == (n, x)
    assert (row.ci_low, row.ci_high) == pytest.approx(proportion_confint(x, n, method="wilson"), abs=1e-12)
    assert row.gap_vs_segment == pytest.approx(x / n - csv.top_two.mean())
    fy = drivers[drivers.period == "FY2025"]
    assert fy.largest_gap.sum() == 1 and not fy.driver_value.str.startswith("母が").any()  # write-ins pooled
    # Fukui's 0/1 flag columns: SNS = any of Twitter, Instagram, Facebook, ブログ
    fukui = pd.read_csv(realdata / FUKUI_CSV, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    sns = fukui[["Twitter", "Instagram", "Facebook", "ブログ"]].eq("1").any(axis=1)
    fy2022 = drivers[(drivers.period == "FY2022") & (drivers.driver_value == "sns")]
    if fy2022.empty:
        # a value hidden in any segment is pooled into "other" in every segment (docs/privacy.md):
        # then no segment shows it, and the domestic "other" holds at least its answers
        everywhere = _query(
            loaded.settings,
            f"select * from {DRIVERS_TABLE} where period = 'FY2022' and driver_type = 'info_source' and driver_value = 'sns'",
        )
        assert everywhere.empty
        other = drivers[(drivers.period == "FY2022") & (drivers.driver_value == "other")]
        assert len(other) == 1 and other.respondents.iloc[0] >= int(sns.sum())
    else:
        assert fy2022.respondents.iloc[0] == int(sns.sum())
        assert fy2022.satisfied.iloc[0] == int(fukui.loc[sns, "満足度"].isin(["とても満足", "満足"]).sum())
