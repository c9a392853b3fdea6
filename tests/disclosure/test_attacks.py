"""The outsider's attacks of issue 12, run on a published week: none may recover anything.

Each attack only reads the open-data files; a recovery counts when its value equals the
truth (the same marts with k = 1, or the loaded survey answers)."""

from __future__ import annotations

import shutil

import pytest

from bench.reliability import open_data_attacks as attacks


def test_week_minus_its_days_recovers_no_hidden_pair(week):
    found = attacks.every_attack(week.published, week.truth, week.warehouse, week.k)["week minus days (pairs)"]
    assert found == []


def test_week_minus_its_days_recovers_no_hidden_facility_hour(week):
    found = attacks.every_attack(week.published, week.truth, week.warehouse, week.k)["week minus days (facility-hours)"]
    assert found == []


def test_drivers_all_minus_domestic_recovers_no_international_cell(week):
    found = attacks.every_attack(week.published, week.truth, week.warehouse, week.k)["drivers all minus domestic"]
    assert found == []


def test_no_satisfied_or_not_satisfied_count_below_k_is_published(week):
    found = attacks.small_published_answers(week.published, week.k)
    assert found == []


def _write(folder, name, header, rows):
    folder.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    (folder / f"{name}.csv").write_text("\ufeff" + "\r\n".join(lines) + "\r\n", encoding="utf-8")


def test_the_week_attack_recovers_a_planted_hidden_day(tmp_path):
    """On hand-made files that protect only the day, the attack gives the day back (so the
    tests above can fail)."""
    header = ["service_date", "source_kind", "from_facility_id", "to_facility_id", "transitions", "visitors", "is_suppressed"]
    published, truth = tmp_path / "published", tmp_path / "truth"
    days = [f"2026-11-0{d}" for d in range(2, 9)]
    _write(
        published,
        "transitions_daily",
        header,
        [
            [
                d,
                "entry_log",
                "a",
                "b",
                "" if d == "2026-11-04" else 20,
                "" if d == "2026-11-04" else 20,
                "TRUE" if d == "2026-11-04" else "FALSE",
            ]
            for d in days
        ],
    )
    _write(
        truth,
        "transitions_daily",
        header,
        [[d, "entry_log", "a", "b", 20 if d != "2026-11-04" else 3, 20 if d != "2026-11-04" else 3, "FALSE"] for d in days],
    )
    _write(
        published,
        "transitions_by_period",
        [
            "period_grain",
            "period_start",
            "period_end",
            "day_type",
            "segment_kind",
            "source_kind",
            "from_facility_id",
            "to_facility_id",
            "transitions",
            "visitors",
        ],
        [["iso_week", "2026-11-02", "2026-11-08", "all", "all", "entry_log", "a", "b", 123, 123]],
    )
    found = attacks.every_attack(published, truth, tmp_path / "none.duckdb", 10)["week minus days (pairs)"]
    assert found == [
        "pairs: pair ('entry_log', 'a', 'b') 2026-11-04 transitions = 3",
        "pairs: pair ('entry_log', 'a', 'b') 2026-11-04 visitors = 3",
    ]


def test_the_published_week_passes_the_audit(week):
    """The nightly step audited the week's files before publishing them: nothing exposed."""
    assert isinstance(week.publication, dict), week.publication
    assert week.publication["exposed"] == 0 and week.publication["hidden"] > 0
    assert (week.root / "dashboards" / "exports").is_symlink()


# ------------------------------------------------------------------ the derived files

DERIVED_FILES = {
    "all-visitor estimates (facility-days)": "all_visitors_facility_daily",
    "all-visitor estimates (pairs, routes)": "all_visitors_flows_daily",
    "admission revenue (facility-days)": "spending_by_period",
    "revenue per route (trips)": "spending_routes_by_period",
    "opportunity pairs (period moves)": "opportunity_pairs",
}


@pytest.mark.parametrize("name", list(attacks.DERIVED_ATTACKS))
def test_no_derived_file_gives_back_a_count_hidden_in_a_visit_file(week, name):
    assert attacks.every_attack(week.published, week.truth, week.warehouse, week.k)[name] == []


@pytest.mark.parametrize(
    "name", ["all-visitor estimates (pairs, routes)", "revenue per route (trips)", "opportunity pairs (period moves)"]
)
def test_the_derived_file_written_without_protection_gives_hidden_counts_back(week, tmp_path, name):
    """The published week with one derived file as it would be unprotected (the k = 1
    file): the attack recovers counts the visit files hide (so the test above can fail)."""
    folder = tmp_path / "published"
    shutil.copytree(week.published, folder)
    shutil.copy2(week.truth / f"{DERIVED_FILES[name]}.csv", folder / f"{DERIVED_FILES[name]}.csv")
    found = attacks.confirmed(attacks.DERIVED_ATTACKS[name](folder), name, week.truth, attacks.derived_truth(week.truth))
    assert found


def test_the_facility_day_attacks_divide_derived_numbers_back_into_a_hidden_day(tmp_path):
    """Hand-made files whose derived numbers are left unprotected: share x reported
    admissions, revenue / revenue per visitor-day and 'all' admissions minus the other
    facilities give back dejima's hidden day (7 card payers, 8 admissions)."""
    published, truth = tmp_path / "published", tmp_path / "truth"
    header = ["service_date", "source_kind", "facility_id", "entries", "visitors", "is_suppressed"]
    day = "2026-11-02"
    _write(
        published,
        "facility_daily",
        header,
        [[day, "entry_log", "dejima", "", "", "TRUE"], [day, "entry_log", "glover_garden", 52, 50, "FALSE"]],
    )
    _write(
        truth,
        "facility_daily",
        header,
        [[day, "entry_log", "dejima", 8, 7, "FALSE"], [day, "entry_log", "glover_garden", 52, 50, "FALSE"]],
    )
    _write(
        published,
        "all_visitors_facility_daily",
        [
            "service_date",
            "facility_id",
            "cashless_visitors",
            "reported_admissions",
            "cashless_share",
            "share_basis",
            "all_visitors_estimate",
            "is_estimate",
        ],
        [[day, "dejima", "", 20, 0.35, "same_day", 20, "FALSE"]],
    )
    _write(
        published,
        "spending_by_period",
        [
            "period_grain",
            "period_start",
            "segment_kind",
            "facility_id",
            "visitors",
            "visitor_days",
            "admissions",
            "revenue_jpy",
            "revenue_per_visitor_day",
        ],
        [["day", day, "all", "all", 57, 57, 60, 30000, 526.3], ["day", day, "all", "dejima", "", "", "", 3500, 500.0]],
    )
    found = {
        name: attacks.confirmed(attacks.DERIVED_ATTACKS[name](published), name, truth, attacks.derived_truth(truth))
        for name in ("all-visitor estimates (facility-days)", "admission revenue (facility-days)")
    }
    assert found == {
        "all-visitor estimates (facility-days)": [
            "all-visitor estimates (facility-days): facility-day 2026-11-02 dejima visitors = 7"
        ],
        "admission revenue (facility-days)": [
            "admission revenue (facility-days): facility-day 2026-11-02 dejima visitors = 7",
            "admission revenue (facility-days): facility-day 2026-11-02 dejima entries = 8",
        ],
    }
