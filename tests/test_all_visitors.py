"""All-visitor estimates (推計) against the demo generator's true 入館者数.

The demo writes each facility's admissions over every payment type on about 80 % of its
days (one facility never reports) and keeps the true total of every day. A real night
(demo files → ingest with GX → marts → pages) must give the reported totals back as they
are, estimate the unreported days with intervals that cover the truth, and refuse to
estimate the facility without totals.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flowlib import demo
from flowlib.config import Settings
from flowlib.demo_admissions import NEVER_REPORTS
from flowlib.pipeline import run_all

FIRST, LAST = date(2026, 11, 2), date(2026, 11, 8)


@pytest.fixture(scope="module")
def night(tmp_path_factory) -> tuple[Settings, demo.GroundTruth]:
    root = tmp_path_factory.mktemp("all_visitors")
    data = root / "data"
    settings = Settings(data_dir=data, landing_dir=data / "landing", warehouse_path=data / "warehouse.duckdb",
                        dashboards_dir=root / "dashboards", demo_mode=True, hmac_key_env="all-visitors-test",
                        min_cell_count=10)
    truth = demo.generate(settings.landing_dir, FIRST, LAST, scale=0.3)
    run_all(list(truth.days), settings)
    return settings, truth


def rows(settings: Settings, sql: str) -> list[dict]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def test_reported_days_keep_the_report_and_unreported_days_are_covered(night):
    settings, truth = night
    facility_days = rows(settings, "select *, service_date::varchar as day from marts.all_visitors_facility_daily")
    estimated = covered = 0
    for row in facility_days:
        true = truth.days[row["day"]].admission_totals[row["facility_id"]]
        if row["status"] == "reported":
            assert true["reported"] and row["all_visitors_estimate"] == row["reported_admissions"] == true["total"]
            assert not row["is_estimate"]
        elif row["status"] == "estimated":
            assert not true["reported"] and row["is_estimate"] and row["share_basis"] == "other_days"
            estimated += 1
            covered += row["estimate_ci_low"] <= true["total"] <= row["estimate_ci_high"]
            assert row["estimate_ci_low"] <= row["all_visitors_estimate"] <= row["estimate_ci_high"]
        if not row["is_suppressed"]:
            assert row["cashless_visitors"] == true["cashless"]
    assert estimated >= 5, "the demo should leave some facility-days unreported"
    assert covered >= 0.9 * estimated, f"95 % intervals covered {covered} of {estimated} true totals"


def test_a_facility_without_totals_says_so(night):
    settings, _ = night
    for facility_id in NEVER_REPORTS:
        found = rows(settings, f"select * from marts.all_visitors_facility_daily where facility_id = '{facility_id}'")
        assert found and all(r["status"] in ("no_totals", "suppressed") and r["all_visitors_estimate"] is None for r in found)
        moves = rows(settings, "select * from marts.all_visitors_flows_daily where measure = 'transition' and not is_suppressed "
                               f"and '{facility_id}' in (from_facility_id, to_facility_id)")
        assert moves and all(r["status"] == f"no_totals: {facility_id}" and r["all_visitors_estimate"] is None for r in moves)


def test_share_interval_is_the_wilson_interval():
    """Against the textbook formula (Wilson 1927), computed here by hand."""
    from flowlib.expansion import share_interval

    for cards, admissions in ((40, 100), (1, 3), (997, 1973)):
        p, n, z = cards / admissions, admissions, 1.959963984540054
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        assert share_interval(cards, admissions) == pytest.approx((centre - half, centre + half), abs=1e-9)


def test_moves_are_expanded_by_the_mean_share_of_their_ends_and_hidden_moves_stay_hidden(night):
    settings, _ = night
    shares = {(r["service_date"], r["facility_id"]): r["cashless_share"]
              for r in rows(settings, "select * from marts.all_visitors_facility_daily where cashless_share is not null")}
    moves = rows(settings, "select * from marts.all_visitors_flows_daily where measure = 'transition'")
    checked = 0
    for move in moves:
        if move["is_suppressed"]:
            assert move["cashless_visitors"] is None and move["all_visitors_estimate"] is None
            continue
        ends = [shares.get((move["service_date"], f)) for f in (move["from_facility_id"], move["to_facility_id"])]
        if None in ends:
            continue
        mean = sum(ends) / 2
        assert move["all_visitors_estimate"] == pytest.approx(move["cashless_visitors"] / mean, rel=2e-3, abs=1)
        assert move["estimate_ci_low"] <= move["all_visitors_estimate"] <= move["estimate_ci_high"]
        checked += 1
    assert checked > 20
    hidden = rows(settings, "select count(*) as n from marts.transitions_daily where source_kind = 'entry_log' and is_suppressed")[0]["n"]
    assert sum(m["is_suppressed"] for m in moves) == hidden


def test_the_page_labels_estimates_and_shows_the_share(night):
    settings, _ = night
    page = (settings.dashboards_dir / "action" / "all_visitors.html").read_text(encoding="utf-8")
    assert "推計" in page and "estimate" in page and "キャッシュレス比率" in page
    assert "入館者数の報告なし" in page
    index = (settings.dashboards_dir / "index.html").read_text(encoding="utf-8")
    assert 'href="action/all_visitors.html"' in index and 'href="action/spending.html"' in index


def test_nightly_opportunities_are_fitted_published_safely_and_shown(night):
    settings, _ = night
    fits = rows(settings, "select * from marts.opportunity_fit")
    assert {(f["period_grain"], f["segment"]) for f in fits} >= {("iso_week", "all"), ("iso_week", "domestic")}
    fitted = [f for f in fits if f["status"] == "fitted"]
    assert fitted and all(0 < f["pseudo_r2"] <= 1 and f["distance_coefficient"] < 0 for f in fitted)
    pairs = rows(settings, "select p.*, t.transitions, t.is_suppressed as cell_hidden from marts.opportunity_pairs as p "
                           "left join marts.transitions_by_period as t using (period_grain, period_start, source_kind, "
                           "from_facility_id, to_facility_id) where t.day_type is null or (t.day_type = 'all' and "
                           "t.segment_kind = case when p.segment = 'all' then 'all' else 'residence' end and t.segment = p.segment)")
    assert pairs
    for pair in pairs:
        if pair["cell_hidden"] is None:                      # no cell: nobody made the move
            assert pair["observed_moves"] == 0
        elif pair["cell_hidden"] or pair["transitions"] is None:   # hidden, or withheld ('partial')
            assert pair["observed_moves"] is None and pair["ratio"] is None
        else:
            assert pair["observed_moves"] == pair["transitions"]
    page = (settings.dashboards_dir / "action" / "opportunities.html").read_text(encoding="utf-8")
    assert "疑似R²" in page and "Pseudo-R²" in page
