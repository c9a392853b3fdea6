"""Stops, trips, transitions and every mart equal the frozen reference outputs.

tests/data/reference_outputs/ holds what the models gave before two rewrites: the route
models' one ordered pass (issue 17; the outputs were built with the SQL from before it) and
the shared period steps and macros (issue 15). tests/data/make_reference_outputs.py made
them once and says from which commit. Here the same raw rows are built with today's sql/
and every stop, transition, trip and visitor day, and every row of every mart, must be
equal, row for row. The reference counted a visit to the same facility later in the day as
an A -> A move, so these builds keep self-transitions (FLOW_SELF_TRANSITIONS=keep).

Intermediate rows are compared by the visitor's pseudonym, not by the 64-bit id (the old
models keyed visitors by hash(pseudonym)). The old int_stops carried trip_stops on every
stop, which the new one leaves to int_trips (n_stops); it is compared through int_trips.

Data: the demo fortnight (card taps, 20 % volume: every rule of the generator, re-entries,
repeated taps, several trips a day; and its Wi-Fi access-point counts) and the real Kanazawa Wi-Fi stays (sensor stays,
resident devices, long trips). Every relation is stored as a row count and a sha256 digest
of its sorted rows; the demo marts also as zstd parquet, compared row by row (per-visitor
rows and rows of real data are not committed). Locally
the Kanazawa part skips when /work/shared is missing; with CI=true it fails instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import PROJECT_ROOT, throwaway_settings
from test_demo import _bad_lines, _entry_rows
from test_hokuriku_agreement import FIRST, LAST, hokuriku, load_stays_directly, read_stays  # noqa: F401
from test_routes import ROUTE_MARTS as BUILT_ROUTE_MARTS

from flowlib import demo
from flowlib.config import Settings
from flowlib.models import build_range
from flowlib.pipeline import prepare_warehouse
from flowlib.pseudonym import pseudonymise_many
from flowlib.warehouse import writer

REFERENCE = PROJECT_ROOT / "tests" / "data" / "reference_outputs"
DIGESTS = REFERENCE / "digests.json"
#: sha256 of every page and open-data file published from the demo fortnight, normalised
#: (tests/data/make_page_digests.py)
PAGE_DIGESTS = REFERENCE / "pages.json"
KEY_OF = {"entry_log": ("raw.entry_log", "card_key"), "wifi_sensor": ("raw.wifi_sensor", "device_key")}
INTERMEDIATE = {
    # relation: columns compared (r: the relation; None: all but visitor_id and ADDED_COLUMNS),
    # besides the visitor's pseudonym
    "int_stops": "r.service_date, r.source_kind, r.trip_index, r.stop_number, r.facility_id, r.arrived_at, "
    "r.last_seen_at, r.taps, r.next_facility_id, r.next_arrived_at, r.segment, r.ticket_type",
    "int_transitions": None,
    "int_trips": None,
    "int_visitor_days": None,
}
SENSOR_STAYS = (
    "service_date, device_key, facility_id, stay_number, started_at, ended_at, dwell_minutes, detections, "
    "days_seen_in_window, is_resident_device"
)
#: The marts the pre-issue-17 SQL also had (the route reference covers these; tests/data/make_reference_outputs.py).
ROUTE_MARTS = tuple(m for m in BUILT_ROUTE_MARTS if m != "facility_entries_hourly")
#: Columns added after the reference was frozen (revisits: 0 under keep, checked in the tests;
#: the day's source, facility, segment and ticket codes beside what they decode to, checked in test_routes).
ADDED_COLUMNS = (
    "revisits",
    "source_code",
    "facility_code",
    "next_facility_code",
    "from_facility_code",
    "to_facility_code",
    "segment_code",
    "ticket_code",
    "origin_facility_code",
    "destination_facility_code",
    "short_route_codes",
)
DEMO_KEY, KANAZAWA_KEY = "equivalence-demo", "equivalence-kanazawa"


def settings_for(root: Path, key: str, sql_dir: Path = PROJECT_ROOT / "sql") -> Settings:
    return throwaway_settings(root, hmac_key_env=key, min_cell_count=3, sql_dir=sql_dir, self_transitions="keep")


def _wifi_counts(landing: Path) -> pd.DataFrame:
    """The demo's Wi-Fi access-point counts (vendor JSON), as raw.wifi_ap_count rows."""
    frames = []
    for path in sorted((landing / "wifi").rglob("*.json")):
        export = json.loads(path.read_text(encoding="utf-8"))
        records = pd.DataFrame(export["records"])
        # JST wall-clock time, as ingest stores it
        bin_start = pd.to_datetime(records["bin_start"].str[:19])
        frames.append(
            pd.DataFrame(
                {
                    "source": "wifi_" + path.parent.name,
                    "service_date": (bin_start - pd.Timedelta(hours=4)).dt.date,
                    "ap_id": records["ap_id"],
                    "bin_start": bin_start,
                    "bin_minutes": export["bin_minutes"],
                    "connections": records["connections"],
                    "unique_devices": records["unique_devices"],
                    "file_name": path.relative_to(landing).as_posix(),
                    "line_number": range(1, len(records) + 1),
                }
            )
        )
    return pd.concat(frames)


def load_demo_taps(landing: Path) -> tuple[list[date], Callable]:
    """The demo fortnight's card taps (20 % volume) and Wi-Fi counts, loaded as ingest would write them."""
    truth = demo.generate(landing, demo.DEMO_START, demo.DEMO_END, scale=0.2)
    days = [date.fromisoformat(day) for day in truth.days]
    rows = pd.DataFrame([row for day in days for row in _entry_rows(landing, day, _bad_lines(truth, day))])
    counts = _wifi_counts(landing)

    def load(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
        taps = pd.DataFrame(
            {
                "source": "entry_pos_" + rows["file"].str.split("/").str[1].str.removeprefix("pos_"),
                "service_date": (rows["at"] - pd.Timedelta(hours=settings.service_day_start.hour)).dt.date,
                "facility_id": rows["facility"],
                "entered_at": rows["at"],
                "card_key": pseudonymise_many(rows["card"].tolist(), settings.hmac_key),
                "ticket_type": rows["ticket"],
                "amount_jpy": rows["amount"],
                "issuer_country": rows["issuer"].replace("", None),
                "file_name": rows["file"],
                "line_number": rows["line"],
            }
        )
        con.register("incoming_taps", taps)
        con.execute("insert into raw.entry_log by name select * from incoming_taps")
        con.unregister("incoming_taps")
        con.register("incoming_counts", counts)
        con.execute("insert into raw.wifi_ap_count by name select * from incoming_counts")
        con.unregister("incoming_counts")

    return days, load


def _keyed_rows(con: duckdb.DuckDBPyConnection, relation: str, columns: str, id_expr: str) -> duckdb.DuckDBPyRelation:
    """Rows with the visitor's pseudonym in place of the id the models give it (``id_expr`` of visitor_key)."""
    keys = " union all ".join(
        f"select distinct '{kind}' as source_kind, {key} as visitor_key from {table}" for kind, (table, key) in KEY_OF.items()
    )
    return con.sql(
        f"select k.visitor_key, {columns} from {relation} as r "
        f"inner join (select source_kind, visitor_key, {id_expr} as visitor_id from ({keys})) as k "
        "using (source_kind, visitor_id)"
    )


def relations(
    con: duckdb.DuckDBPyConnection, marts: tuple[str, ...], id_expr: str = "raw.pseudonym_id(visitor_key)"
) -> dict[str, duckdb.DuckDBPyRelation]:
    """Every compared relation of a built warehouse, by name."""
    out = {
        name: _keyed_rows(con, f"intermediate.{name}", columns or f"r.* {_exclude(con, f'intermediate.{name}')}", id_expr)
        for name, columns in INTERMEDIATE.items()
    }
    # every stop has its pseudonym: nothing was lost in the join above
    out["stops"] = con.sql("select count(*) as stops from intermediate.int_stops")
    out["int_sensor_stays"] = con.sql(f"select {SENSOR_STAYS} from intermediate.int_sensor_stays")
    for mart in marts:
        out[mart] = con.sql(f"select * {_exclude(con, f'marts.{mart}', ())} from marts.{mart}")
    return out


def _exclude(con: duckdb.DuckDBPyConnection, relation: str, always: tuple[str, ...] = ("visitor_id",)) -> str:
    """An exclude clause for ``always`` and the ADDED_COLUMNS the relation has."""
    columns = [c for c in con.sql(f"select * from {relation}").columns if c in always or c in ADDED_COLUMNS]
    return f"exclude ({', '.join(columns)})" if columns else ""


def all_marts() -> tuple[str, ...]:
    return tuple(sorted(path.stem for path in (PROJECT_ROOT / "sql" / "marts").glob("*.sql")))


def sorted_rows(relation: duckdb.DuckDBPyRelation) -> list[tuple]:
    return sorted(relation.fetchall(), key=repr)


def digest(rows: list[tuple]) -> str:
    """sha256 of the sorted rows as Python literals (types included: 1 and 1.0 differ)."""
    return hashlib.sha256("\n".join(repr(row) for row in rows).encode("utf-8")).hexdigest()


def build(settings: Settings, first: date, last: date, load: Callable) -> None:
    prepare_warehouse(settings)
    with writer(settings) as con:
        load(con, settings)
        build_range(con, first, last, settings)


def _assert_same_rows(name: str, now: list[tuple], before: list[tuple]) -> None:
    assert len(now) == len(before), f"{name}: {len(now)} rows now, {len(before)} in the reference"
    differing = [(a, b) for a, b in zip(now, before) if a != b]
    assert not differing, f"{name} differs from the reference outputs, e.g. {differing[:2]}"


def _assert_same_digest(name: str, rows: list[tuple], expected: dict) -> None:
    assert len(rows) == expected["rows"], f"{name}: {len(rows)} rows now, {expected['rows']} in the reference"
    assert digest(rows) == expected["sha256"], f"{name} differs from the reference outputs (same row count)"


def _assert_matches_reference(settings, case: str) -> None:
    """Every compared relation of the built warehouse equals the reference outputs of `case`:
    the digest always, row by row too where the rows are stored (parquet beside the digests)."""
    expected = json.loads(DIGESTS.read_text(encoding="utf-8"))[case]
    with writer(settings) as con:
        now = relations(con, all_marts())
        assert con.sql("select count(*) from intermediate.int_stops where revisits <> 0").fetchall() == [(0,)]
        assert con.sql("select count(*) from marts.circulation_by_period where revisits <> 0").fetchall() == [(0,)]
        assert sorted(now) == sorted(expected), "the compared relations changed: regenerate the reference outputs"
        for name, relation in now.items():
            rows = sorted_rows(relation)
            stored = REFERENCE / case / f"{name}.parquet"
            if stored.is_file():
                _assert_same_rows(name, rows, sorted_rows(con.sql(f"select * from read_parquet('{stored}')")))
            _assert_same_digest(name, rows, expected[name])
        assert now["stops"].fetchall()[0][0] > 0, "nothing was built"


def page_digests(settings: Settings) -> dict[str, str]:
    """sha256 of every page and open-data file published from the warehouse, normalised by
    scripts/page_snapshot.py (folium's random ids and build times replaced)."""
    spec = importlib.util.spec_from_file_location("page_snapshot", PROJECT_ROOT / "scripts" / "page_snapshot.py")
    page_snapshot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(page_snapshot)
    pages = page_snapshot.published_pages(settings)
    return {name: hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in pages.items()}


def _assert_pages_match_reference(now: dict[str, str], expected: dict[str, str]) -> None:
    assert sorted(now) == sorted(expected), (
        f"published files changed: new {sorted(set(now) - set(expected))}, gone {sorted(set(expected) - set(now))}"
    )
    differing = sorted(name for name in now if now[name] != expected[name])
    assert not differing, (
        f"{len(differing)} published file(s) differ from the reference, e.g. {differing[:4]}: compare two "
        "builds with scripts/page_snapshot.py; regenerate with tests/data/make_page_digests.py only for a "
        "deliberate change of a page or file"
    )


def test_demo_fortnight_gives_the_reference_stops_trips_transitions_and_marts(tmp_path):
    """... and the reference pages and open-data files: a refactor of the SQL, the page
    queries or the templates must not change what is published."""
    days, load = load_demo_taps(tmp_path / "landing")
    settings = settings_for(tmp_path, DEMO_KEY)
    build(settings, days[0], days[-1], load)
    _assert_matches_reference(settings, "demo")
    _assert_pages_match_reference(page_digests(settings), json.loads(PAGE_DIGESTS.read_text(encoding="utf-8")))


#: the Kanazawa stays' stops are built in batches of visitors this small, so that the
#: reference (one batch) is met by a build of many batches (FLOW_STOP_BATCH_EVENTS)
KANAZAWA_BATCH_EVENTS = 5_000


def test_kanazawa_stays_give_the_reference_stops_trips_transitions_and_marts(tmp_path, hokuriku):  # noqa: F811
    stays = read_stays(hokuriku)
    settings = replace(settings_for(tmp_path, KANAZAWA_KEY), stop_batch_events=KANAZAWA_BATCH_EVENTS)
    build(settings, FIRST, LAST, lambda con, s: load_stays_directly(con, stays, s))
    with writer(settings) as con:
        events = con.execute("select count(*) from intermediate.int_sensor_stays where not is_resident_device").fetchone()[0]
    assert events > 3 * KANAZAWA_BATCH_EVENTS, f"{events} stays: the build must take several batches"
    _assert_matches_reference(settings, "kanazawa")


@pytest.mark.parametrize("perturb", ["drop_row", "change_value"])
def test_the_comparison_fails_on_a_changed_output(tmp_path, perturb):
    """A stored reference that differs by one row or one value is caught (the test can fail)."""
    rows = sorted_rows(duckdb.sql(f"select * from read_parquet('{REFERENCE / 'demo' / 'routes_daily'}.parquet')"))
    assert rows
    changed = rows[1:] if perturb == "drop_row" else [(*rows[0][:-1], "changed"), *rows[1:]]
    with pytest.raises(AssertionError):
        _assert_same_rows("routes_daily", changed, rows)
    with pytest.raises(AssertionError):
        _assert_same_digest("routes_daily", changed, {"rows": len(rows), "sha256": digest(rows)})
    pages = json.loads(PAGE_DIGESTS.read_text(encoding="utf-8"))
    assert len(pages) > 30
    with pytest.raises(AssertionError):
        _assert_pages_match_reference({**pages, "daily/2026-11-03.html": digest(changed)}, pages)
    with pytest.raises(AssertionError):
        _assert_pages_match_reference({name: value for name, value in pages.items() if name != "index.html"}, pages)
