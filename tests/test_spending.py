"""Admission revenue marts (消費喚起) against an independent pandas computation.

Random cashless admissions (seeded) with their POS amounts are inserted into raw.entry_log;
the marts must give the revenue, paid admissions, visitor-days and per-visitor-day figures
that pandas computes from the same rows with its own grouping (no SQL shared).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import throwaway_settings
from raw_rows import insert_taps

from flowlib.config import Settings
from flowlib.models import build_range
from flowlib.pipeline import prepare_warehouse
from flowlib.pseudonym import pseudonymise
from flowlib.warehouse import writer

FIRST, LAST = date(2026, 11, 2), date(2026, 11, 8)  # one ISO week, Monday to Sunday
KEY = b"spending-test"
FACILITIES = ("glover_garden", "oura_cathedral", "dejima", "atomic_bomb_museum")
TICKETS = ("adult", "student", "child")


def make_settings(root: Path, k: int) -> Settings:
    return throwaway_settings(root, hmac_key_env="spending-test", min_cell_count=k)


def random_admissions(seed: int = 7, cards: int = 60) -> pd.DataFrame:
    """1-4 admissions per card-day at distinct facilities, an hour apart; some amounts missing or zero."""
    rng = np.random.default_rng(seed)
    rows = []
    for card in range(cards):
        country = rng.choice(["JP", "US", None], p=[0.6, 0.3, 0.1])
        for offset in rng.choice(7, size=int(rng.integers(1, 3)), replace=False):
            day = FIRST + timedelta(days=int(offset))
            for stop, facility in enumerate(rng.choice(FACILITIES, size=int(rng.integers(1, 5)), replace=False)):
                amount = int(rng.choice([0, 200, 520, 620, 1000])) if rng.random() > 0.05 else None
                rows.append(
                    {
                        "service_date": day,
                        "facility_id": str(facility),
                        "entered_at": datetime(day.year, day.month, day.day, 9 + stop, int(rng.integers(0, 50))),
                        "card": f"card-{card}",
                        "ticket_type": str(rng.choice(TICKETS)),
                        "amount_jpy": amount,
                        "issuer_country": country,
                    }
                )
    return pd.DataFrame(rows)


def build(settings: Settings, frame: pd.DataFrame) -> None:
    prepare_warehouse(settings)
    rows = [
        (
            "test",
            r.service_date,
            r.facility_id,
            r.entered_at,
            pseudonymise(r.card, KEY),
            r.ticket_type,
            None if pd.isna(r.amount_jpy) else int(r.amount_jpy),
            r.issuer_country,
            "taps.csv",
            i + 2,
        )
        for i, r in enumerate(frame.itertuples())
    ]
    with writer(settings) as con:
        insert_taps(con, rows)
        build_range(con, FIRST, LAST, settings)


def mart(settings: Settings, name: str, where: str) -> pd.DataFrame:
    with writer(settings) as con:
        return con.execute(f"select * from marts.{name} where {where}").df()


@pytest.fixture(scope="module")
def admissions() -> pd.DataFrame:
    frame = random_admissions()
    frame["residence"] = frame["issuer_country"].map(
        lambda c: "unknown" if c is None else "domestic" if c == "JP" else "international"
    )
    frame["amount"] = frame["amount_jpy"].fillna(0)
    # a visitor-day's ticket is that of its first admission (time, then facility id)
    first = frame.sort_values(["entered_at", "facility_id"]).groupby(["service_date", "card"])["ticket_type"].first()
    frame["day_ticket"] = [first[(d, c)] for d, c in zip(frame["service_date"], frame["card"])]
    return frame


@pytest.fixture(scope="module")
def open_build(tmp_path_factory, admissions) -> Settings:
    settings = make_settings(tmp_path_factory.mktemp("spending"), k=1)
    build(settings, admissions)
    return settings


def expected_by_facility(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    grouped = frame.groupby(by, dropna=False)
    out = pd.DataFrame(
        {
            "visitors": grouped["card"].nunique(),
            "visitor_days": grouped.apply(lambda g: len(set(zip(g["service_date"], g["card"]))), include_groups=False),
            "admissions": grouped.size(),
            "paid_admissions": grouped["amount"].apply(lambda a: int((a > 0).sum())),
            "revenue_jpy": grouped["amount"].sum().astype(int),
        }
    )
    out["revenue_per_visitor_day"] = (out["revenue_jpy"] / out["visitor_days"]).round(1)
    return out


def test_revenue_per_facility_and_segment_over_the_week(open_build, admissions):
    rows = mart(open_build, "spending_by_period", "period_grain = 'iso_week' and day_type = 'all'")
    checks = [
        ("all", "facility_id <> 'all'", ["facility_id"], None),
        ("residence", "facility_id <> 'all'", ["facility_id", "residence"], "segment"),
        ("ticket_type", "facility_id <> 'all'", ["facility_id", "day_ticket"], "segment"),
        ("residence", "facility_id = 'all'", ["residence"], "segment"),
    ]
    for segment_kind, where, by, segment_column in checks:
        got = rows.query(f"segment_kind == '{segment_kind}'").query(where.replace("<>", "!=").replace(" = ", " == "))
        got = got.rename(columns={"segment": by[-1]} if segment_column else {}).set_index(by).sort_index()
        want = expected_by_facility(admissions, by).sort_index()
        assert list(got.index) == list(want.index), segment_kind
        for column in want.columns:
            assert got[column].astype(float).tolist() == pytest.approx(want[column].astype(float).tolist()), (
                segment_kind,
                column,
            )


def test_city_wide_revenue_per_visitor_day_per_day(open_build, admissions):
    rows = mart(
        open_build, "spending_by_period", "period_grain = 'day' and facility_id = 'all' and segment_kind = 'all'"
    ).set_index("period_start")
    for day, group in admissions.groupby("service_date"):
        visitor_days = group["card"].nunique()
        assert rows.at[pd.Timestamp(day), "revenue_jpy"] == int(group["amount"].sum())
        assert rows.at[pd.Timestamp(day), "revenue_per_visitor_day"] == pytest.approx(
            round(group["amount"].sum() / visitor_days, 1)
        )


def test_revenue_by_first_facility_and_by_route(open_build, admissions):
    ordered = admissions.sort_values(["service_date", "card", "entered_at"])
    days = ordered.groupby(["service_date", "card"]).agg(
        first=("facility_id", "first"),
        revenue=("amount", "sum"),
        paid=("amount", lambda a: int((a > 0).sum())),
        route=("facility_id", " > ".join),
        stops=("facility_id", "size"),
    )
    rows = mart(open_build, "spending_routes_by_period", "period_grain = 'iso_week' and day_type = 'all'")
    first = rows.query("breakdown == 'first_facility'").set_index("facility_id")
    # a cell is withheld ('partial') when its twin in circulation_by_period hides a day
    # (k = 1 still hides a day on which everybody circulated): those are not compared
    withheld = set(first.index[first["visitor_days"].isna()])
    assert len(withheld) < len(first) / 2
    for facility, group in days.groupby("first"):
        if facility in withheld:
            continue
        assert first.at[facility, "visitor_days"] == len(group)
        assert first.at[facility, "revenue_jpy"] == int(group["revenue"].sum())
        assert first.at[facility, "revenue_per_unit_jpy"] == pytest.approx(round(group["revenue"].mean(), 1))
    assert set(first.index) == set(days["first"])
    # every card-day is one trip here (admissions an hour apart); routes of 2-5 stops
    routes = rows.query("breakdown == 'route'").set_index("route")
    trips = days[days["stops"] >= 2]
    for route, group in trips.groupby("route"):
        assert routes.at[route, "trips"] == len(group)
        assert routes.at[route, "paid_admissions"] == int(group["paid"].sum())
        assert routes.at[route, "revenue_jpy"] == int(group["revenue"].sum())
    assert set(routes.index) == set(trips["route"])
    city = mart(
        open_build,
        "spending_by_period",
        "period_grain = 'iso_week' and day_type = 'all' and facility_id = 'all' and segment_kind = 'all'",
    ).iloc[0]
    assert city["revenue_jpy"] == int(admissions["amount"].sum())


def test_small_cells_are_hidden_and_cannot_be_recovered_from_the_total(tmp_path, admissions):
    settings = make_settings(tmp_path, k=8)
    build(settings, admissions)
    rows = mart(settings, "spending_by_period", "period_grain = 'day' and day_type = 'all'")
    hidden = rows[rows["is_suppressed"]]
    assert len(hidden) > 0
    assert hidden[["visitors", "revenue_jpy", "revenue_per_visitor_day"]].isna().all().all()
    assert (rows.loc[~rows["is_suppressed"], "visitors"] >= 8).all()
    # a cell hidden in facility_visits_by_period is hidden here too (the same cards)
    with writer(settings) as con:
        leaks = con.execute("""
            select count(*) from marts.spending_by_period as s
            inner join marts.facility_visits_by_period as f
                on f.source_kind = 'entry_log' and f.hour_of_day is null
                and (f.period_grain, f.period_start, f.day_type, f.segment_kind, f.segment, f.facility_id)
                  = (s.period_grain, s.period_start, s.day_type, s.segment_kind, s.segment, s.facility_id)
            where f.is_suppressed and not s.is_suppressed
        """).fetchone()[0]
    assert leaks == 0
    # per day and segment kind: a published total never has exactly one hidden part
    for (day, kind), group in rows[rows["facility_id"] != "all"].groupby(["period_start", "segment_kind"]):
        for segment, cells in group.groupby("segment"):
            total = rows[
                (rows["period_start"] == day)
                & (rows["segment_kind"] == kind)
                & (rows["segment"] == segment)
                & (rows["facility_id"] == "all")
            ]
            if len(total) and not total["is_suppressed"].iloc[0]:
                assert cells["is_suppressed"].sum() != 1, (day, kind, segment)


def test_spending_page_shows_the_published_figures_and_hides_small_cells(tmp_path, admissions):
    import re

    from flowlib.dashboards.action_pages import build_action_pages

    settings = make_settings(tmp_path, k=5)
    # two cards at a rarely visited temple on one day: that day's cell is hidden (and one more
    # with it), so the week's totals of those facilities are withheld; the others are published
    # dense enough that most facility-days reach k: a week is withheld whole ("partial") as
    # soon as one of its days is hidden (docs/privacy.md), which a sparse week always has
    dense = random_admissions(seed=11, cards=900)
    rare = dense.head(2).assign(facility_id="sofukuji", card=["rare-1", "rare-2"])
    build(settings, pd.concat([dense, rare], ignore_index=True))
    with writer(settings) as con:
        links = build_action_pages(con, settings)
        week = con.execute(
            "select facility_id, revenue_jpy, is_suppressed from marts.spending_by_period "
            "where period_grain = 'iso_week' and day_type = 'all' and segment_kind = 'all' "
            "and facility_id <> 'all'"
        ).fetchall()
    assert {
        "href": "action/spending.html",
        "title_ja": "消費喚起：入館料収入",
        "title_en": "Spending: admission revenue",
    } in links
    page = (settings.dashboards_dir / "action" / "spending.html").read_text(encoding="utf-8")
    assert page.index('lang="ja"') < page.index('lang="en"')  # Japanese first
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    table = page[page.index('id="by-facility"') : page.index('id="by-segment"')]
    for facility_id, revenue, hidden in week:
        row = re.search(rf'data-key="{facility_id}">(.*?)</tr>', table).group(1)
        if hidden:
            assert "秘匿" in row
        elif revenue is None:  # partial: a day of the week is hidden
            assert "—" in row
        else:
            assert f"{revenue:,}" in row
    assert any(hidden or revenue is None for _, revenue, hidden in week)
    assert any(revenue is not None for _, revenue, _ in week)


def test_route_and_first_facility_cells_hide_whatever_their_twins_hide(tmp_path, admissions):
    settings = make_settings(tmp_path, k=4)
    build(settings, admissions)
    with writer(settings) as con:
        leaks = con.execute("""
            select count(*) from marts.spending_routes_by_period as s
            left join marts.circulation_by_period as c
                on s.breakdown <> 'route' and c.source_kind = 'entry_log' and c.segment_kind = 'all'
                and (c.period_grain, c.period_start, c.day_type) = (s.period_grain, s.period_start, s.day_type)
                and c.facility_role = case s.breakdown when 'all' then 'all' else 'first' end
                and coalesce(c.facility_id, 'all') = s.facility_id
            left join marts.routes_by_period as r
                on s.breakdown = 'route' and r.source_kind = 'entry_log' and r.segment_kind = 'all'
                and (r.period_grain, r.period_start, r.day_type, r.route) = (s.period_grain, s.period_start, s.day_type, s.route)
            where not s.is_suppressed and (c.is_suppressed or r.is_suppressed)
        """).fetchone()[0]
        hidden_twins = con.execute(
            "select count(*) from marts.spending_routes_by_period where suppression = 'secondary'"
        ).fetchone()[0]
    assert leaks == 0
    assert hidden_twins > 0, "k = 4 should hide some twins by their own margins"
