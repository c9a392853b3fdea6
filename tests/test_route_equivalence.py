"""The one-pass route models give exactly what the models before issue 17 gave.

tests/data/reference_sql/ holds the staging, intermediate and mart SQL as it was before
the rewrite. The same raw rows are built with it and with sql/ (same warehouse DDL, same
settings), and every stop, transition, trip and visitor day, and every row of the route,
transition, circulation, dwell and facility marts, must be equal. The old models keyed
visitors by hash(pseudonym), the new ones by the pseudonym's first 64 bits: intermediate
rows are compared by pseudonym. The old int_stops also carried trip_stops on every stop,
which the new one leaves to int_trips (n_stops); it is compared through int_trips.

Data: the demo fortnight (card taps, 20 % volume: every rule of the generator, re-entries,
repeated taps, several trips a day) and the real Kanazawa Wi-Fi stays (sensor stays,
resident devices, long trips). Locally the Kanazawa part skips when /work/shared is
missing; with CI=true it fails instead.
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
from conftest import PROJECT_ROOT, throwaway_settings
from test_demo import _bad_lines, _entry_rows
from test_hokuriku_agreement import FIRST, LAST, hokuriku, load_stays_directly, read_stays  # noqa: F401

from flowlib import demo
from flowlib.config import Settings
from flowlib.models import build_range
from flowlib.pipeline import prepare_warehouse
from flowlib.pseudonym import pseudonymise_many
from flowlib.warehouse import writer

REFERENCE_SQL = PROJECT_ROOT / "tests" / "data" / "reference_sql"
KEY_OF = {"entry_log": ("raw.entry_log", "card_key"), "wifi_sensor": ("raw.wifi_sensor", "device_key")}
INTERMEDIATE = {
    # relation: columns compared (r: the relation), besides the visitor's pseudonym
    "int_stops": "r.service_date, r.source_kind, r.trip_index, r.stop_number, r.facility_id, r.arrived_at, "
    "r.last_seen_at, r.taps, r.next_facility_id, r.next_arrived_at, r.segment, r.ticket_type",
    "int_transitions": "r.* exclude (visitor_id)",
    "int_trips": "r.* exclude (visitor_id)",
    "int_visitor_days": "r.* exclude (visitor_id)",
}
SENSOR_STAYS = (
    "service_date, device_key, facility_id, stay_number, started_at, ended_at, dwell_minutes, detections, "
    "days_seen_in_window, is_resident_device"
)
MARTS = [
    "facility_visits_by_period",
    "transitions_by_period",
    "routes_by_period",
    "circulation_by_period",
    "dwell_by_period",
    "facility_daily",
    "transitions_daily",
    "routes_daily",
    "circulation_daily",
]


def _settings(root: Path, sql_dir: Path, key: str) -> Settings:
    return throwaway_settings(root, hmac_key_env=key, min_cell_count=3, sql_dir=sql_dir)


def _reference_sql(root: Path) -> Path:
    """The old models over today's warehouse tables (the raw tables gained the id columns)."""
    sql = root / "reference_sql"
    for layer in ("staging", "intermediate", "marts"):
        shutil.copytree(REFERENCE_SQL / layer, sql / layer)
    shutil.copytree(PROJECT_ROOT / "sql" / "warehouse", sql / "warehouse")
    # Disclosure rules are not what this test compares: the old marts get today's privacy
    # headers (flowlib.privacy applies them), so both sides hide the same cells.
    for old in (sql / "marts").glob("*.sql"):
        current = PROJECT_ROOT / "sql" / "marts" / old.name
        if current.is_file():
            old.write_text(
                _with_headers_of(current.read_text(encoding="utf-8"), old.read_text(encoding="utf-8")), encoding="utf-8"
            )
    return sql


_PRIVACY_HEADER = re.compile(r"^-- (keys|counts|suppress|margin|additive|share|rank):")


def _with_headers_of(current: str, old: str) -> str:
    headers = [line for line in current.splitlines() if _PRIVACY_HEADER.match(line)]
    lines = old.splitlines()
    first = next((i for i, line in enumerate(lines) if _PRIVACY_HEADER.match(line)), 0)
    kept = [line for line in lines if not _PRIVACY_HEADER.match(line)]
    return "\n".join(kept[:first] + headers + kept[first:]) + "\n"


def _keyed_rows(con: duckdb.DuckDBPyConnection, relation: str, columns: str, new: bool) -> list[tuple]:
    """Rows with the visitor's pseudonym in place of the id each side gives it (new: its first 64 bits, old: hash())."""
    keys = " union all ".join(
        f"select distinct '{kind}' as source_kind, {key} as visitor_key from {table}" for kind, (table, key) in KEY_OF.items()
    )
    id_expr = "raw.pseudonym_id(visitor_key)" if new else "hash(visitor_key)"
    return sorted(
        con.execute(
            f"select k.visitor_key, {columns} from {relation} as r "
            f"inner join (select source_kind, visitor_key, {id_expr} as visitor_id from ({keys})) as k "
            "using (source_kind, visitor_id)"
        ).fetchall(),
        key=repr,
    )


def _everything(settings: Settings, first: date, last: date, new: bool) -> dict[str, list[tuple]]:
    with writer(settings) as con:
        build_range(con, first, last, settings)
        out = {name: _keyed_rows(con, f"intermediate.{name}", columns, new) for name, columns in INTERMEDIATE.items()}
        # every stop has its pseudonym: nothing was lost in the join above
        out["stops"] = con.execute("select count(*) from intermediate.int_stops").fetchall()
        out["int_sensor_stays"] = sorted(
            con.execute(f"select {SENSOR_STAYS} from intermediate.int_sensor_stays").fetchall(), key=repr
        )
        for mart in MARTS:
            out[mart] = sorted(con.execute(f"select * from marts.{mart}").fetchall(), key=repr)
    return out


def _assert_same(new: dict[str, list[tuple]], old: dict[str, list[tuple]]) -> None:
    assert new.keys() == old.keys()
    for name in new:
        assert len(new[name]) == len(old[name]), f"{name}: {len(new[name])} rows now, {len(old[name])} before"
        differing = [(a, b) for a, b in zip(new[name], old[name]) if a != b]
        assert not differing, f"{name} differs from the reference models, e.g. {differing[:2]}"
    assert new["int_stops"], "nothing was built"


def _load_twice(tmp_path: Path, key: str, load) -> tuple[Settings, Settings]:
    new = _settings(tmp_path / "new", PROJECT_ROOT / "sql", key)
    old = _settings(tmp_path / "old", _reference_sql(tmp_path), key)
    for settings in (new, old):
        prepare_warehouse(settings)
        with writer(settings) as con:
            load(con, settings)
    return new, old


def test_demo_fortnight_gives_the_same_stops_trips_transitions_and_marts(tmp_path):
    landing = tmp_path / "landing"
    truth = demo.generate(landing, demo.DEMO_START, demo.DEMO_END, scale=0.2)
    days = [date.fromisoformat(day) for day in truth.days]
    rows = pd.DataFrame([row for day in days for row in _entry_rows(landing, day, _bad_lines(truth, day))])

    def load(con, settings):
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

    new, old = _load_twice(tmp_path, "equivalence-demo", load)
    _assert_same(_everything(new, days[0], days[-1], new=True), _everything(old, days[0], days[-1], new=False))


def test_kanazawa_stays_give_the_same_stops_trips_transitions_and_marts(tmp_path, hokuriku):  # noqa: F811
    stays = read_stays(hokuriku)
    new, old = _load_twice(tmp_path, "equivalence-kanazawa", lambda con, settings: load_stays_directly(con, stays, settings))
    _assert_same(_everything(new, FIRST, LAST, new=True), _everything(old, FIRST, LAST, new=False))
