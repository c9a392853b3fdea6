"""Trips, transitions, routes and circulation from hand-made taps, checked value by value."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from raw_rows import insert_taps

from flowlib.action_marts import STEP_QUERIES, step_inputs
from flowlib.models import Model, ModelError, build_day, dependants, discover
from flowlib.pipeline import prepare_warehouse
from flowlib.pseudonym import pseudonymise
from flowlib.warehouse import writer

DAY = date(2026, 11, 3)


def _tap(card: str, facility: str, hhmm: str, country: str | None = "JP", day: date = DAY) -> tuple:
    hour, minute = map(int, hhmm.split(":"))
    moment = datetime(day.year, day.month, day.day, hour, minute)
    if hour < 4:
        moment = moment.replace(day=day.day + 1)
    return ("test", day, facility, moment, pseudonymise(card, b"k"), "adult", 500, country, "f.csv", 2)


def _load(settings, taps: list[tuple]) -> None:
    prepare_warehouse(settings)
    with writer(settings) as con:
        insert_taps(con, taps)


def _query(settings, sql: str) -> list[tuple]:
    with writer(settings) as con:
        return con.execute(sql).fetchall()


def test_models_are_ordered_by_layer_and_dependency(settings):
    names = [m.name for m in discover(settings.sql_dir)]
    assert names.index("stg_entry_log") < names.index("int_stops") < names.index("int_transitions")
    assert names.index("int_trips") < names.index("routes_daily")
    assert all(m.layer == "marts" for m in discover(settings.sql_dir)[-8:])


def test_dependants_follow_declared_and_undeclared_reads_transitively(tmp_path):
    def model(name: str, sql: str, depends_on: tuple[str, ...] = ()) -> Model:
        return Model(name, "marts", tmp_path / f"{name}.sql", "rollup", depends_on, sql)

    models = [
        model("a_by_period", "select 1"),
        model("b_daily", "select * from marts.a_by_period", ("a_by_period",)),
        model("c_by_period", "select * from marts.b_daily"),  # read, not declared
        model("d_by_period", "select * from marts.a_by_period_other"),  # another name, not a read
        model("e_by_period", "select 1", ("c_by_period",)),  # declared, not named in the SQL
    ]
    assert dependants(models, ["marts.a_by_period"]) == {
        f"marts.{n}" for n in ("a_by_period", "b_daily", "c_by_period", "e_by_period")
    }
    assert dependants(models, ["marts.d_by_period"]) == {"marts.d_by_period"}
    assert dependants(models, []) == set()


def test_the_real_marts_that_read_a_withholdable_mart_are_its_dependants():
    models = discover()
    visits = dependants(models, ["marts.facility_visits_by_period"])
    assert {"marts.facility_daily", "marts.facility_entries_hourly", "marts.spending_by_period"} <= visits
    assert "marts.routes_by_period" not in visits and "marts.transitions_by_period" not in visits
    routes = dependants(models, ["marts.routes_by_period"])
    assert {"marts.routes_daily", "marts.spending_routes_by_period"} <= routes
    assert "marts.facility_daily" not in routes


def test_each_action_step_reads_the_marts_its_queries_name():
    inputs = {step: step_inputs(step) for step in STEP_QUERIES}
    assert all(inputs.values()), "every step's queries are found (they live in the project's sql/)"
    assert {"marts.facility_daily", "marts.transitions_daily", "marts.routes_daily", "marts.circulation_daily"} <= inputs[
        "all_visitors"
    ]
    assert "marts.transitions_by_period" in inputs["opportunities"]
    assert "marts.spending_by_period" not in set().union(*inputs.values())


def test_reentry_collapses_and_long_gap_starts_new_trip(settings, monkeypatch):
    monkeypatch.setenv("FLOW_MIN_CELL_COUNT", "1")
    from flowlib.config import get_settings

    settings = get_settings()
    _load(
        settings,
        [
            _tap("A", "glover_garden", "09:00"),
            _tap("A", "glover_garden", "09:20"),  # re-entry within 30 min: same stop
            _tap("A", "oura_cathedral", "10:30"),
            _tap("A", "dejima", "11:45"),
            _tap("A", "peace_park", "17:00"),  # > 240 min after dejima: new trip
            _tap("B", "dejima", "10:00", None),
            _tap("B", "shinchi_chinatown", "10:00", None),  # same second: facility id breaks the tie
            _tap("C", "glover_garden", "02:30"),  # 02:30 next morning still belongs to DAY
        ],
    )
    with writer(settings) as con:
        build_day(con, DAY, settings)
    stops = _query(
        settings,
        "select trip_index, stop_number, facility_id, taps from intermediate.int_stops "
        f"where visitor_id = {int(pseudonymise('A', b'k')[:16], 16)} order by trip_index, stop_number",
    )
    assert stops == [(1, 1, "glover_garden", 2), (1, 2, "oura_cathedral", 1), (1, 3, "dejima", 1), (2, 1, "peace_park", 1)]
    transitions = _query(
        settings,
        "select from_facility_id, to_facility_id, transitions, visitors, "
        "transfer_minutes_median from marts.transitions_daily order by 1, 2",
    )
    assert transitions == [
        ("dejima", "shinchi_chinatown", 1, 1, 0.0),
        ("glover_garden", "oura_cathedral", 1, 1, 90.0),
        ("oura_cathedral", "dejima", 1, 1, 75.0),
    ]
    routes = _query(settings, "select route_rank, route, n_stops, visitors from marts.routes_daily order by route_rank")
    assert routes == [(1, "dejima > shinchi_chinatown", 2, 1), (2, "glover_garden > oura_cathedral > dejima", 3, 1)]
    circulation = dict(
        (seg, (v, m))
        for seg, v, m in _query(settings, "select segment, visitors, multi_facility_visitors from marts.circulation_daily")
    )
    assert circulation["all"] == (3, 2)
    # every unknown-segment visitor circulated: publishing it would disclose each one's trip
    assert circulation["unknown"] == (None, None)
    facility = dict(_query(settings, "select facility_id, entries from marts.facility_daily"))
    assert facility["glover_garden"] == 3


def test_small_cells_are_suppressed_not_dropped(settings):
    taps = [_tap(f"V{i}", "glover_garden", "10:00") for i in range(12)]
    taps += [_tap(f"V{i}", "oura_cathedral", "11:00") for i in range(12)]
    taps += [_tap(f"W{i}", "dejima", "10:00") for i in range(3)]
    taps += [_tap(f"W{i}", "shinchi_chinatown", "11:00") for i in range(3)]
    _load(settings, taps)
    with writer(settings) as con:
        build_day(con, DAY, settings)
    rows = _query(
        settings, "select from_facility_id, transitions, visitors, is_suppressed from marts.transitions_daily order by 1"
    )
    assert rows == [("dejima", None, None, True), ("glover_garden", 12, 12, False)]
    facility = _query(settings, "select facility_id, visitors, is_suppressed from marts.facility_daily order by 1")
    assert ("dejima", None, True) in facility and ("glover_garden", 12, False) in facility


def test_rebuilding_a_day_replaces_it(settings):
    _load(settings, [_tap(f"V{i}", "glover_garden", "10:00") for i in range(15)])
    with writer(settings) as con:
        first = build_day(con, DAY, settings)
        second = build_day(con, DAY, settings)
        assert first == second
        assert con.execute("select count(*) from marts.facility_daily").fetchone()[0] == 1


def test_a_broken_model_names_its_file_and_changes_nothing(settings, tmp_path):
    _load(settings, [_tap(f"V{i}", "glover_garden", "10:00") for i in range(15)])
    with writer(settings) as con:
        build_day(con, DAY, settings)
    sql_copy = tmp_path / "sql"
    import shutil

    shutil.copytree(settings.sql_dir, sql_copy)
    (sql_copy / "marts" / "zz_broken.sql").write_text("-- materialized: daily\nselect no_such_column from raw.entry_log")
    from dataclasses import replace

    broken = replace(settings, sql_dir=sql_copy)
    with writer(settings) as con:
        with pytest.raises(ModelError, match="zz_broken.sql"):
            build_day(con, DAY, broken)
        assert con.execute("select visitors from marts.facility_daily").fetchall() == [(15,)]


@pytest.mark.parametrize(("taps", "batch_events", "batches"), [(15, 15, 1), (15, 4, 4), (16, 4, 4), (15, 1, 15), (0, 4, 1)])
def test_a_batched_model_is_built_in_batches_of_at_most_the_set_events(settings, tmp_path, taps, batch_events, batches):
    """The runner builds a model reading getvariable('visitor_batches') once per batch of
    visitors, as many batches as FLOW_STOP_BATCH_EVENTS asks for the day's events (taps and
    visitors' sensor stays), and leaves the variables at one batch of everybody."""
    import shutil
    from dataclasses import replace

    _load(settings, [_tap(f"V{i}", "glover_garden", f"10:{i:02d}") for i in range(taps)])
    sql_copy = tmp_path / "sql"
    shutil.copytree(settings.sql_dir, sql_copy)
    for name, day in (("zz_day_by_day", "service_date"), ("zz_ranged", "first_service_date")):
        (sql_copy / "intermediate" / f"{name}.sql").write_text(
            "-- materialized: daily\n"
            f"select getvariable('{day}') as service_date, getvariable('visitor_batch') as batch, "
            "getvariable('visitor_batches') as batches"
        )
    batched = replace(settings, sql_dir=sql_copy, stop_batch_events=batch_events)
    with writer(settings) as con:
        build_day(con, DAY, batched)
        for name in ("zz_day_by_day", "zz_ranged"):
            assert con.execute(f"select batch, batches from intermediate.{name} order by batch").fetchall() == [
                (batch, batches) for batch in range(batches)
            ]
        assert con.execute("select getvariable('visitor_batches'), getvariable('visitor_batch')").fetchone() == (1, 0)


@pytest.mark.parametrize(
    ("materialized", "headers"),
    [("daily", "-- keys: service_date\n-- counts: visitors\n-- suppress: visitors\n"), ("rollup", ""), ("view", "")],
)
def test_only_an_unprotected_daily_model_may_be_built_in_batches(tmp_path, materialized, headers):
    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "batched.sql").write_text(
        f"-- materialized: {materialized}\n{headers}select 1 as visitors where getvariable('visitor_batches') > 0"
    )
    with pytest.raises(ModelError, match="batched.sql: only a daily model without privacy headers"):
        discover(tmp_path)


def _answer(i: int, country: str | None, score: int) -> tuple:
    return ("test", DAY, pseudonymise(f"R{i}", b"k"), datetime(2026, 11, 3, 12, 0), "ja", country, score, "f.csv", i)


def _load_answers(settings, answers: list[tuple]) -> None:
    prepare_warehouse(settings)
    with writer(settings) as con:
        con.executemany(
            "insert into raw.survey_response (source, service_date, response_key, answered_at, "
            "form_language, residence_country, info_satisfaction, file_name, line_number) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            answers,
        )
        build_day(con, DAY, settings)


def test_survey_share_suppresses_the_total_when_a_segment_is_small(settings):
    answers = [_answer(i, "JP", 5 if i < 12 else 2) for i in range(24)]
    answers += [_answer(100 + i, "US", 4) for i in range(4)]
    _load_answers(settings, answers)
    rows = {
        seg: (n, sat, share, hidden, why)
        for seg, n, sat, share, hidden, why in _query(
            settings,
            "select segment, respondents, satisfied, satisfied_share, is_suppressed, suppression "
            "from marts.survey_satisfaction_daily",
        )
    }
    assert rows["domestic"] == (24, 12, 0.5, False, None)
    assert rows["international"] == (None, None, None, True, "primary")
    assert rows["all"] == (None, None, None, True, "secondary")  # 28 - 24 would give the 4 back


def test_survey_share_hides_satisfied_or_not_satisfied_below_k(settings):
    """13 answers, 9 satisfied: published, they would tell that 4 were not satisfied."""
    answers = [_answer(i, "JP", 5 if i < 9 else 2) for i in range(13)]
    answers += [_answer(100 + i, "US", 5 if i < 12 else 1) for i in range(24)]
    _load_answers(settings, answers)
    rows = {
        seg: (n, sat, hidden)
        for seg, n, sat, hidden in _query(
            settings, "select segment, respondents, satisfied, is_suppressed from marts.survey_satisfaction_daily"
        )
    }
    assert rows["domestic"] == (None, None, True)
    assert rows["international"] == (24, 12, False)
    assert rows["all"] == (None, None, True)


def test_survey_share_publishes_the_total_when_every_segment_is_large(settings):
    answers = [_answer(i, "JP", 5 if i < 20 else 1) for i in range(30)]
    answers += [_answer(100 + i, "KR", 5 if i < 10 else 1) for i in range(20)]
    _load_answers(settings, answers)
    rows = dict(_query(settings, "select segment, satisfied_share from marts.survey_satisfaction_daily"))
    assert rows == {"all": round(30 / 50, 4), "domestic": round(20 / 30, 4), "international": 0.5}


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("int_transitions", "select from_facility_id, to_facility_id from intermediate.int_transitions"),
        ("int_trips", "select origin_facility_id, destination_facility_id from intermediate.int_trips"),
    ],
)
def test_a_model_that_became_a_view_replaces_the_old_table(settings, model, query):
    """Warehouses built when int_transitions or int_trips was a table take the view on the next build."""
    _load(settings, [_tap("A", "glover_garden", "09:00"), _tap("A", "dejima", "10:00")])
    with writer(settings) as con:
        con.execute(f"drop view if exists intermediate.{model}")
        con.execute(f"create table intermediate.{model} as select 1 as stale")
        build_day(con, DAY, settings)
        kind = con.execute(
            "select table_type from information_schema.tables where table_schema = 'intermediate' and table_name = ?",
            [model],
        ).fetchone()[0]
        moves = con.execute(query).fetchall()
    assert kind == "VIEW"
    assert moves == [("glover_garden", "dejima")]
