"""The outsider's attacks of issue 12, run on a published week: none may recover anything.

Each attack only reads the open-data files; a recovery counts when its value equals the
truth (the same marts with k = 1, or the loaded survey answers)."""

from __future__ import annotations

from bench.reliability import open_data_attacks as attacks


def test_week_minus_its_days_recovers_no_hidden_pair(week):
    found = attacks.every_attack(week.published, week.truth, week.warehouse, week.k)["week minus days (pairs)"]
    assert found == []


def test_week_minus_its_days_recovers_no_hidden_facility_hour(week):
    found = attacks.every_attack(week.published, week.truth, week.warehouse, week.k)[
        "week minus days (facility-hours)"]
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
    header = ["service_date", "source_kind", "from_facility_id", "to_facility_id", "transitions", "visitors",
              "is_suppressed"]
    published, truth = tmp_path / "published", tmp_path / "truth"
    days = [f"2026-11-0{d}" for d in range(2, 9)]
    _write(published, "transitions_daily", header,
           [[d, "entry_log", "a", "b", "" if d == "2026-11-04" else 20, "" if d == "2026-11-04" else 20,
             "TRUE" if d == "2026-11-04" else "FALSE"] for d in days])
    _write(truth, "transitions_daily", header, [[d, "entry_log", "a", "b", 20 if d != "2026-11-04" else 3,
                                                 20 if d != "2026-11-04" else 3, "FALSE"] for d in days])
    _write(published, "transitions_by_period", ["period_grain", "period_start", "period_end", "day_type",
                                                "segment_kind", "source_kind", "from_facility_id", "to_facility_id",
                                                "transitions", "visitors"],
           [["iso_week", "2026-11-02", "2026-11-08", "all", "all", "entry_log", "a", "b", 123, 123]])
    found = attacks.every_attack(published, truth, tmp_path / "none.duckdb", 10)["week minus days (pairs)"]
    assert found == ["pairs: pair ('entry_log', 'a', 'b') 2026-11-04 transitions = 3",
                     "pairs: pair ('entry_log', 'a', 'b') 2026-11-04 visitors = 3"]


def test_the_published_week_passes_the_audit(week):
    """The nightly step audited the week's files before publishing them: nothing exposed."""
    assert isinstance(week.publication, dict), week.publication
    assert week.publication["exposed"] == 0 and week.publication["hidden"] > 0
    assert (week.root / "dashboards" / "exports").is_symlink()
