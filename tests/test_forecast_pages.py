"""Look-ahead pages: each facility's forecast with its bands and stated reasons, the index's
busiest facility-hours with cruise calls marked, the KPI path page with drivers; all offline."""

from __future__ import annotations

import re
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from test_forecast import CRUISE, LAST_DAY, series, synthetic

from flowlib import forecast as fc
from flowlib import kpi_path as kp
from flowlib.dashboards.forecast_page import (
    Lookahead,
    busiest_hours,
    index_view,
    render_forecast_page,
    render_kpi_page,
    weighted_kpi,
)
from flowlib.dashboards.index_page import render_index_page
from flowlib.dashboards.publish import find_remote_assets
from flowlib.indicator import load_definition, prepare_answers

# The session's one Chromium (see tests/test_dashboards.py): registered as a plugin, not imported.
pytest_plugins = ["browser"]

NAMES = {"glover": ("グラバー園", "Glover Garden"), "new_gate": ("新しい施設", "New gate")}


def _hourly(values: pd.Series, facility: str) -> pd.DataFrame:
    shares = np.zeros(24)
    shares[9:17] = [1, 2, 3, 3, 2, 2, 1, 1]
    shares /= shares.sum()
    return pd.DataFrame(
        [
            {
                "service_date": d,
                "source_kind": "entry_log",
                "facility_id": facility,
                "hour_of_day": h,
                "count": round(values[d] * shares[h]),
            }
            for d in values.index
            for h in range(9, 17)
        ]
    )


@pytest.fixture(scope="module")
def look() -> Lookahead:
    values = synthetic(1000, seed=21)
    short = synthetic(300, seed=22, first=LAST_DAY - pd.Timedelta(days=9), cruise=None)
    run = fc.run_forecast(
        [series("glover", values), series("new_gate", short, kind_first=short.index.min())],
        {"entry_log": LAST_DAY},
        CRUISE,
        _hourly(values, "glover"),
    )
    cruise = pd.DataFrame(
        {
            "service_date": [date(2026, 11, 17)],
            "calls": [2],
            "passenger_capacity": [2500],
            "first_arrival": [datetime(2026, 11, 17, 8)],
            "last_departure": [datetime(2026, 11, 17, 18)],
            "ships": ["パシフィック・オーロラ / アジュール・クイーン"],
        }
    )
    definition = load_definition()
    rng = np.random.default_rng(4)
    records = [
        {
            "answered_at": datetime(2026, m, 10, 12) if m <= 12 else datetime(2027, m - 12, 10, 12),
            "service_date": None,
            "residence_country": country,
            "info_satisfaction": int(rng.random() < p) * 3 + 2,
            "weight": None,
        }
        for m in range(9, 12)
        for country, p in (("JP", 0.56), ("KR", 0.72))
        for _ in range(80)
    ]
    answers = prepare_answers(pd.DataFrame(records), definition)
    path = kp.build_path(answers, pd.DataFrame(), definition, date(2026, 11, 14))
    drivers = pd.DataFrame(
        [
            {
                "period_type": "fiscal_year",
                "period_start": date(2026, 4, 1),
                "period": "FY2026",
                "segment": "domestic",
                "driver_type": "info_source",
                "driver_value": "free_wifi",
                "respondents": 120,
                "satisfied": 80,
                "share": 0.667,
                "ci_low": 0.58,
                "ci_high": 0.74,
                "effective_n": 120.0,
                "weighted": False,
                "too_few_answers": False,
                "gap_vs_segment": 0.1,
                "largest_gap": True,
            }
        ]
    )
    return Lookahead(run.daily, run.hourly, run.backtest, cruise, path.monthly, path.fiscal_years, drivers, NAMES)


def test_forecast_page_has_each_facility_with_bands_reasons_and_cruise_marks(look):
    page = render_forecast_page(look)
    assert find_remote_assets(page) == []
    assert '<html lang="ja"' in page
    glover = page[page.index('id="f-glover"') : page.index('id="f-new_gate"')]
    assert glover.count('class="band95"') == 1 and glover.count('class="band80"') == 1
    assert glover.count('data-status="forecast"') == 14
    assert glover.count('class="cruise-mark"') == 1  # 2026-11-17, the one call in the horizon
    assert "グラバー園" in glover and "Glover Garden" in glover
    stated = page[page.index('id="f-new_gate"') :]
    assert 'data-status="insufficient_history"' in stated and "履歴不足" in stated and "insufficient history" in stated
    assert "<svg" not in stated
    assert "パシフィック・オーロラ" in page  # the cruise calls ahead table


def test_busiest_hours_cover_seven_days_rank_by_forecast_and_mark_cruise_calls(look):
    rows = busiest_hours(look)
    assert len(rows) == 10
    values = [float(r["forecast"].replace(",", "")) for r in rows]
    assert values == sorted(values, reverse=True)
    hourly = look.hourly[pd.to_datetime(look.hourly["forecast_date"]) <= LAST_DAY + pd.Timedelta(days=7)]
    assert values[0] == pytest.approx(hourly["forecast"].max(), abs=0.5)
    # the cruise day is by far the busiest: the top hours are on it and carry the call
    assert rows[0]["cruise"] and "パシフィック・オーロラ" in rows[0]["cruise"]
    assert all(r["anchor"] == "f-glover" for r in rows)


def test_index_shows_the_lookahead_section_and_kpi_chart(look):
    page = render_index_page([], None, [], None, [], 10, False, lookahead=index_view(look))
    section = page[page.index('id="lookahead"') : page.index('id="daily-pages"')]
    assert 'href="forecast/index.html#f-glover"' in section
    assert "cruise-badge" in section
    assert '<svg class="kpi-chart"' in section and 'href="forecast/kpi.html"' in section
    assert find_remote_assets(page) == []


def test_kpi_page_labels_month_to_date_and_states_the_tests(look):
    page = render_kpi_page(look)
    assert find_remote_assets(page) == []
    assert "2026-11（月途中）" in page
    assert page.count('class="month-to-date"') == 4  # domestic, international, all weighted and unweighted
    assert "proportions_ztest" in page and "test_proportions_2indep" in page
    assert re.search(r'data-status="(on track|ahead|behind)"', page)
    assert 'id="kpi-drivers"' in page and "free_wifi" in page and 'class="largest-gap"' in page
    assert page.count('class="share-domestic"') == 3


def test_lookahead_pages_work_offline_in_chromium(look, tmp_path, offline_browser):
    """Both pages open from disk with the network cut off: no request leaves, no script error,
    the bands are drawn and the language toggle works."""
    from flowlib.assets import install_assets
    from flowlib.dashboards.publish import write_page

    install_assets(tmp_path / "assets")
    forecast = write_page(tmp_path / "forecast" / "index.html", render_forecast_page(look))
    kpi = write_page(tmp_path / "forecast" / "kpi.html", render_kpi_page(look))
    for path, chart in ((forecast, "svg.forecast-chart"), (kpi, "svg.kpi-chart")):
        visit = offline_browser.open(path)
        assert visit.unexpected_errors() == []
        assert visit.blocked_outside(()) == []
        assert visit.page.locator(chart).first.is_visible()
        visit.page.click("#lang-toggle")
        assert visit.page.evaluate("document.documentElement.getAttribute('data-lang')") == "en"


def _weighted_path() -> kp.KpiPath:
    """Respondents half domestic, half international; the entry logs measure 80 % domestic visitors."""
    rng = np.random.default_rng(7)
    records = [
        {
            "answered_at": datetime(2026, m, 10, 12),
            "service_date": None,
            "residence_country": country,
            "info_satisfaction": int(rng.random() < p) * 3 + 2,
            "weight": None,
        }
        for m in (10, 11)
        for country, p in (("JP", 0.55), ("KR", 0.80))
        for _ in range(150)
    ]
    answers = prepare_answers(pd.DataFrame(records), load_definition())
    mix = pd.DataFrame(
        {
            "month": [date(2026, 10, 1), date(2026, 10, 1), date(2026, 11, 1), date(2026, 11, 1)],
            "segment": ["domestic", "international"] * 2,
            "visitor_days": [800, 200, 8000, 2000],
        }
    )
    return kp.build_path(answers, mix, load_definition(), date(2026, 11, 14))


def test_the_index_kpi_is_the_weighted_share_with_the_unweighted_one_and_kish_n():
    path = _weighted_path()
    headline = weighted_kpi(path.monthly)
    november = path.monthly[(path.monthly["month"] == date(2026, 11, 1)) & (path.monthly["segment"] == "all")]
    weighted = november[november["weighting"] == "post-stratified"].iloc[0]
    unweighted = november[november["weighting"] == "unweighted"].iloc[0]
    # independently: post-stratification with equal base weights is the mix-weighted segment shares,
    # and the weights mix_s / n_s give a Kish n of 1 / sum(mix_s^2 / n_s)
    cells = path.monthly[
        (path.monthly["month"] == date(2026, 11, 1)) & path.monthly["segment"].isin(["domestic", "international"])
    ]
    share = cells.set_index("segment")["share"]
    n = cells.set_index("segment")["respondents"].astype(float)
    assert weighted["share"] == pytest.approx(0.8 * share["domestic"] + 0.2 * share["international"])
    assert weighted["effective_n"] == pytest.approx(1 / (0.8**2 / n["domestic"] + 0.2**2 / n["international"]))
    assert unweighted["share"] - weighted["share"] > 0.03  # the over-represented international answers pull it up
    assert headline["month"] == "2026-11（月途中）" and headline["mtd"]
    assert headline["share"] == f"{100 * weighted['share']:.1f}%"
    assert headline["unweighted"] == f"{100 * unweighted['share']:.1f}%"
    assert headline["n_eff"] == f"{weighted['effective_n']:,.0f}"
    assert headline["respondents"] == "300"


def test_the_index_page_shows_both_kpi_figures_and_kish_n(look):
    path = _weighted_path()
    view = index_view(
        Lookahead(look.daily, look.hourly, look.backtest, look.cruise, path.monthly, path.fiscal_years, look.drivers, NAMES)
    )
    page = render_index_page([], None, [], None, [], 10, False, lookahead=view)
    panel = page[page.index('id="kpi"') : page.index('id="lookahead"')]
    headline = view["kpi_weighted"]
    assert f'<div class="value weighted-share">{headline["share"]}</div>' in panel
    assert f'<span class="unweighted-share">{headline["unweighted"]}</span>' in panel
    assert f'<span class="kish-n">{headline["n_eff"]}</span>' in panel
    assert headline["share"] != headline["unweighted"]
    # without a measured visitor mix there is no weighted figure, and the panel shows none
    assert weighted_kpi(look.kpi_monthly) is None
    plain = render_index_page([], None, [], None, [], 10, False, lookahead=index_view(look))
    assert 'id="kpi-weighted"' not in plain
