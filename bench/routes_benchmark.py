"""How fast are trips, transitions, OD and top routes? The pipeline's SQL against a tuned single pass.

For each size (default 1 M, 10 M, 50 M entry rows) the script generates one service day
of card taps in DuckDB (parquet, raw.entry_log's shape: 64-hex pseudonyms and the 64-bit
card_id that ingest stores beside them, about four taps per card), then measures, each in
a fresh process so that peak memory is its own, ``--repeat`` times (default 3; the median
is reported, with the load average of every run):

* ``floor``    - a DuckDB scan that reads every value of the three columns routes need;
* ``1 pass``   - one partitioned window pass (the previous tap of each card by 64-bit id);
* ``baseline`` - a tuned single-pass computation of the same results, in memory: 64-bit
  ids, one sort of the taps and streaming windows over it (re-entries, trips, stops), then
  the transition matrix (moves, distinct visitors, quartiles), the OD matrix (trips,
  distinct visitors, the median of the trips' minutes) and the top-20 routes of 2-5 stops;
  nothing written to a warehouse;
* ``project``  - the pipeline's models (int_sensor_stays, int_stops written to a warehouse
  file whose raw.entry_log is a view of the parquet, the int_transitions and int_trips
  views, run by flowlib.models) plus the same three queries on them; the stops are built
  in batches of visitors of at most ``FLOW_STOP_BATCH_EVENTS`` events, whose number is
  printed (``stop_batches`` in the JSON);
* ``pandas``   - the same computation written plainly in pandas (only up to
  ``--pandas-max`` rows: at 50 M its frames alone outgrow the machine).

The ratio project / baseline is what to read on a shared machine: both run on the same
taps in the same run, in rounds (baseline, then project, ``--repeat`` times), so that a
drift of the machine's speed reaches both; the ratio of the medians is printed, and below
it each round's ratio and their median (``ratio_by_round`` in the JSON). The project's and
the baseline's results are compared (moves, trips, OD cells with their medians, the
transition matrix, the top-20 routes) and a difference is printed.

Then the nightly increment: ``build_day`` (every model and mart, suppression included)
on a warehouse holding one day of 2 M taps.

DuckDB runs with memory_limit 2.5GB (``--memory-limit``), 2 threads and a temp directory under
the work folder: at 2.5GB the process peaks under 3 GB at 50 M taps (at 3GB about 3.3 GB).
Seconds are wall-clock; CPU seconds are recorded too because the machine may be shared.
Everything lands in ``<workdir>/routes_benchmark.json`` (keys sorted, one figure per
line: diff two runs to compare).

    .venv/bin/python bench/routes_benchmark.py                 # 1M,10M,50M + nightly, 3 runs each
    .venv/bin/python bench/routes_benchmark.py --sizes 1M --repeat 1 --nightly 0   # a quick look
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

DAY = date(2026, 11, 3)
#: DuckDB's buffer limit for every measurement (--memory-limit; the workers read it from the
#: environment). The process's peak runs a few hundred MB above it (Python, Arrow, DuckDB's
#: allocations outside its buffer manager).
MEMORY_LIMIT = os.environ.get("FLOW_ROUTES_BENCH_MEMORY_LIMIT", "2.5GB")
THREADS = 2
ROUTE_MODELS = ["int_sensor_stays", "int_codes", "int_stop_rows", "int_stops", "int_transitions", "int_trips"]
#: bump when the generated taps change, so that old files are not reused
DATA_VERSION = "v2"


def parse_size(text: str) -> int:
    text = text.strip().upper()
    factor = {"K": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("KM")) * factor)


def label(rows: int) -> str:
    return f"{rows // 1_000_000}M" if rows % 1_000_000 == 0 else f"{rows // 1000}k"


# ---------------------------------------------------------------------------- data


def generate(path: Path, rows: int) -> None:
    """One service day of taps, written by DuckDB itself."""
    import duckdb

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    visitors = max(rows // 4, 1)
    con = duckdb.connect()
    con.execute(f"set threads = {THREADS}; set memory_limit = '{MEMORY_LIMIT}'")
    con.execute(f"set temp_directory = '{path.parent / 'tmp'}'")
    facilities = [
        "atomic_bomb_museum",
        "confucius_shrine",
        "dejima",
        "dutch_slope",
        "glover_garden",
        "history_culture_museum",
        "inasayama_observatory",
        "megane_bridge",
        "nagasaki_station",
        "oura_cathedral",
        "peace_park",
        "prefectural_art_museum",
        "shinchi_chinatown",
        "sofukuji",
        "suwa_shrine",
        "twenty_six_martyrs",
    ]
    tmp = path.with_suffix(".tmp.parquet")
    con.execute(f"""
        copy (
            with taps as (
                select
                    i,
                    -- rows fall on visitors at random: about 4 taps each, Poisson-like. Each
                    -- draw hashes its own string: hash(i, 'a') and hash(i, 'b') differ only by a
                    -- constant xor, which tied every visitor to a single facility
                    (hash(i || ':visitor') % {visitors}) as visitor
                from range({rows}) as t(i)
            )
            select
                'bench' as source,
                date '{DAY.isoformat()}' as service_date,
                {facilities!r}[1 + (hash(i || ':facility') % {len(facilities)})::int] as facility_id,
                timestamp '{DAY.isoformat()} 08:00:00'
                    + to_seconds((hash(visitor || ':start') % 21600)::bigint)
                    + to_seconds((hash(i || ':offset') % 14400)::bigint) as entered_at,
                sha256(visitor::varchar) as card_key,
                -- the 64-bit id ingest stores beside the pseudonym (raw.pseudonym_id)
                ('0x' || left(sha256(visitor::varchar), 16))::ubigint as card_id,
                ['adult', 'adult', 'adult', 'student', 'child', 'senior'][1 + (hash(visitor || ':ticket') % 6)::int] as ticket_type,
                500 as amount_jpy,
                ['JP', 'JP', 'JP', 'US', 'CN', null][1 + (hash(visitor || ':country') % 6)::int] as issuer_country,
                'bench.csv' as file_name,
                cast(i + 2 as integer) as line_number
            from taps
        ) to '{tmp}' (format parquet, row_group_size 1000000)
    """)
    con.close()
    tmp.rename(path)


# ----------------------------------------------------------------------- measurements


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _figures(con, started: float, cpu: float) -> dict:
    """Seconds, CPU seconds and peak memory since ``started``/``cpu``, and the memory limit
    DuckDB ran under (as DuckDB reports it: a figure is read beside the limit it had)."""
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "peak_mb": _peak_mb(),
        "duckdb_memory_limit": con.execute("select current_setting('memory_limit')").fetchone()[0],
    }


def measure_floor(path: Path) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute(f"set threads = {THREADS}; set memory_limit = '{MEMORY_LIMIT}'")
    started, cpu = time.perf_counter(), time.process_time()
    # count(*) alone is answered from the parquet footer: touch every value instead
    con.execute(f"select count(*), sum(hash(card_key, facility_id, entered_at)) from read_parquet('{path}')").fetchall()
    return _figures(con, started, cpu)


def measure_window_pass(path: Path) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute(f"set threads = {THREADS}; set memory_limit = '{MEMORY_LIMIT}'")
    started, cpu = time.perf_counter(), time.process_time()
    con.execute(f"""
        select count(*), sum(previous_facility_hash) from (
            select lag(hash(facility_id)) over (partition by card_id order by entered_at)
                as previous_facility_hash
            from read_parquet('{path}')
        )""").fetchall()
    return _figures(con, started, cpu)


BASELINE_STOPS = """
    -- a tuned single pass, in memory: 64-bit ids, facility codes, ONE sort, then streaming
    -- windows (over (): lag, lead, running sums), the same rules as the pipeline
    create temp table codes as
        select facility_id, row_number() over (order by facility_id) as code
        from (select distinct facility_id from read_parquet('{path}'));
    create temp table stops as
    with sorted as (
        select t.card_id, (epoch_ms(t.entered_at) << 16) | codes.code as event
        from read_parquet('{path}') as t inner join codes using (facility_id)
        order by t.card_id, event
    ),
    neighbours as (
        select card_id, event,
               coalesce(lag(card_id) over () <> card_id, true) as first_tap,
               coalesce(lead(card_id) over () <> card_id, true) as last_tap,
               (event >> 16) - (lag(event) over () >> 16) as gap_before,
               (lead(event) over () >> 16) - (event >> 16) as gap_after,
               (lag(event) over () & 65535) <> (event & 65535) as other_before,
               (lead(event) over () & 65535) <> (event & 65535) as other_after,
               lead(event) over () as next_event
        from sorted
    ),
    flagged as (
        select *,
               first_tap or other_before or gap_before > {same_facility_ms} as starts_stop,
               first_tap or (other_before or gap_before > {same_facility_ms}) and gap_before > {trip_ms} as starts_trip,
               last_tap or other_after or gap_after > {same_facility_ms} as ends_stop,
               last_tap or (other_after or gap_after > {same_facility_ms}) and gap_after > {trip_ms} as ends_trip
        from neighbours
    ),
    numbered as (
        select *,
               sum(starts_stop::int) over (rows between unbounded preceding and current row) as stop_seq,
               sum(starts_trip::int) over (rows between unbounded preceding and current row) as trip_seq,
               last_value(case when starts_stop then event end ignore nulls)
                   over (rows between unbounded preceding and current row) as stop_event
        from flagged
    ),
    anchored as (
        select *,
               stop_seq - last_value(case when starts_trip then stop_seq end ignore nulls)
                   over (rows between unbounded preceding and current row) + 1 as stop_number
        from numbered
    )
    select card_id, trip_seq, stop_number, stop_event & 65535 as code, stop_event >> 16 as arrived_ms,
           ends_trip, case when not ends_trip then next_event end as next_event,
           [lag(stop_event & 65535, 4) over (), lag(stop_event & 65535, 3) over (), lag(stop_event & 65535, 2) over (),
            lag(stop_event & 65535, 1) over (), stop_event & 65535] as last_five,
           last_value(case when stop_number = 1 then stop_event & 65535 end ignore nulls)
               over (rows between unbounded preceding and current row) as origin,
           -- the trip's minutes, first arrival to last tap (a stop is emitted at its last tap)
           ((event >> 16) - last_value(case when stop_number = 1 then stop_event >> 16 end ignore nulls)
               over (rows between unbounded preceding and current row)) / 60000.0 as trip_minutes
    from anchored
    where ends_stop
"""

BASELINE_QUERIES = {
    # aggregated on integer codes; facility ids decoded for the aggregated rows only
    "transition_matrix": """
        with moves as (
            select code as from_code, next_event & 65535 as to_code, card_id,
                   ((next_event >> 16) - arrived_ms) / 60000.0 as minutes
            from stops where next_event is not null
        ),
        counted as (select from_code, to_code, count(*) as transitions, count(distinct card_id) as visitors
                    from moves group by all),
        quartiles as (select from_code, to_code, quantile_cont(minutes, [0.25, 0.5, 0.75]) as quartiles
                      from moves group by all)
        select 'entry_log', f.facility_id, t.facility_id, transitions, visitors, quartiles
        from counted inner join quartiles using (from_code, to_code)
        inner join codes as f on f.code = from_code inner join codes as t on t.code = to_code""",
    "od_matrix": """
        with trips as (
            select origin, code as destination, card_id, trip_minutes
            from stops where ends_trip and stop_number >= 2
        ),
        od as (select origin, destination, count(*) as trips, count(distinct card_id) as visitors
               from trips group by all),
        medians as (select origin, destination, quantile_cont(trip_minutes, 0.5) as median_minutes
                    from trips group by all)
        select 'entry_log', o.facility_id, d.facility_id, trips, visitors, median_minutes
        from od inner join medians using (origin, destination)
        inner join codes as o on o.code = origin inner join codes as d on d.code = destination""",
    "top_20_routes": """
        with ranked as (
            select last_five[6 - stop_number:] as route_codes, count(distinct card_id) as visitors
            from stops where ends_trip and stop_number between 2 and 5 group by all
        ),
        names as (select list(facility_id order by code) as names from codes)
        select array_to_string(list_transform(route_codes, lambda c: names[c]), ' > ') as route, visitors
        from ranked cross join names
        order by visitors desc, route limit 20""",
}


def stop_rules() -> tuple[int, int]:
    """(same-facility gap, trip gap) in minutes under the project's settings, so that the
    baseline and pandas follow the rule the models follow (flowlib.models.set_parameters):
    two taps at one facility are one stop up to the re-entry gap, or, under the default
    FLOW_SELF_TRANSITIONS=revisit, up to the trip gap (a return is a revisit, not a move)."""
    settings = _settings(PROJECT_ROOT / "bench" / "results")
    same_facility = (
        settings.reentry_gap_minutes
        if settings.self_transitions == "keep"
        else max(settings.reentry_gap_minutes, settings.trip_max_gap_minutes)
    )
    return same_facility, settings.trip_max_gap_minutes


def measure_baseline(path: Path) -> dict:
    import duckdb

    same_facility_minutes, trip_gap_minutes = stop_rules()
    con = duckdb.connect()
    con.execute(f"set threads = {THREADS}; set memory_limit = '{MEMORY_LIMIT}'")
    con.execute(f"set temp_directory = '{path.parent / 'tmp'}'")
    started, cpu = time.perf_counter(), time.process_time()
    stops_sql = BASELINE_STOPS.format(path=path, same_facility_ms=same_facility_minutes * 60000, trip_ms=trip_gap_minutes * 60000)
    for statement in stops_sql.split(";"):
        con.execute(statement)
    results = {name: con.execute(sql).fetchall() for name, sql in BASELINE_QUERIES.items()}
    figures = _figures(con, started, cpu)
    trips = con.execute("select count(*) from stops where ends_trip").fetchone()[0]
    return {**figures, **_summary(results, trips)}


def median_digest(cells) -> str:
    """(origin id, destination id, median minutes) of every OD cell, as a digest."""
    rows = sorted((str(origin), str(destination), round(float(median), 6)) for origin, destination, median in cells)
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def _summary(results: dict[str, list], trips: int) -> dict:
    """What the project and the baseline must agree on."""
    od = sorted((str(r[1]), str(r[2]), int(r[3]), int(r[4]), round(r[5], 6)) for r in results["od_matrix"])
    matrix = sorted(
        (str(r[1]), str(r[2]), int(r[3]), int(r[4]), [round(q, 6) for q in r[5]]) for r in results["transition_matrix"]
    )

    def digest(rows: list) -> str:
        return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]

    return {
        "transitions": sum(r[2] for r in matrix),
        "trips": trips,
        "od_cells": len(od),
        "od_trips": sum(r[2] for r in od),
        "od_digest": digest(od),
        # the OD cells' median minutes alone, which pandas computes too
        "od_median_digest": median_digest((r[0], r[1], r[4]) for r in od),
        "matrix_digest": digest(matrix),
        "top_20_routes": [[str(r[0]), int(r[1])] for r in results["top_20_routes"]],
    }


def _settings(workdir: Path):
    from flowlib.config import Settings

    return Settings(
        data_dir=workdir,
        landing_dir=workdir / "landing",
        warehouse_path=workdir / "warehouse.duckdb",
        dashboards_dir=workdir / "dashboards",
        duckdb_memory_limit=MEMORY_LIMIT,
        duckdb_threads=THREADS,
        demo_mode=True,
        hmac_key_env="bench",
    )


def _prepared_warehouse(workdir: Path, parquet: Path | None):
    """A fresh warehouse: schema, reference data, views; raw.entry_log = the parquet file."""
    import shutil

    from flowlib.calendar import ensure_calendar
    from flowlib.models import build_views
    from flowlib.reference import load_reference
    from flowlib.warehouse import connect, ensure_schema

    shutil.rmtree(workdir, ignore_errors=True)
    settings = _settings(workdir)
    con = connect(settings)
    ensure_schema(con, settings)
    load_reference(con, settings)
    # a live warehouse has its fiscal year's calendar long before the night; not timed
    ensure_calendar(con, DAY, DAY)
    if parquet is not None:
        con.execute("drop table raw.entry_log")
        con.execute(f"create view raw.entry_log as select * from read_parquet('{parquet}')")
    build_views(con, settings)
    return con, settings


ROUTE_QUERIES = {
    # distinct visitors and quartiles in separate aggregations, as in the marts: one
    # aggregation holding both states for every cell needs 150 s at 50 M instead of 8 s.
    # Each day's moves are grouped on that day's codes (int_transitions carries them beside
    # the ids) and the cells decoded after: grouping 35 M moves on the ids took 12.6 s at 50 M
    # taps, on the codes 3.6 s. "not materialized": read twice, the moves are not stored.
    "transition_matrix": """
        with moves as not materialized (
            select service_date, source_code, from_facility_code, to_facility_code, visitor_id, transfer_minutes
            from intermediate.int_transitions
        ),
        counted as (
            select service_date, source_code, from_facility_code, to_facility_code, count(*) as transitions,
                   count(distinct visitor_id) as visitors
            from moves group by all
        ),
        minutes as (
            select service_date, source_code, from_facility_code, to_facility_code,
                   quantile_cont(transfer_minutes, [0.25, 0.5, 0.75]) as quartiles
            from moves group by all
        )
        select source_name(source_code) as source_kind,
               codes.facility_ids[from_facility_code] as from_facility_id,
               codes.facility_ids[to_facility_code] as to_facility_id, transitions, visitors, quartiles
        from counted inner join minutes using (service_date, source_code, from_facility_code, to_facility_code)
        inner join intermediate.int_codes as codes using (service_date)""",
    # The trips too are grouped on the day's codes (int_trips, a view, decodes only what a
    # query keeps), the cells decoded once counted, as in the period marts (route_name and source_name:
    # the marts' macros, which build_range created on this connection).
    "od_matrix": """
        with trips as not materialized (
            select service_date, source_code, origin_facility_code, destination_facility_code, visitor_id, trip_minutes
            from intermediate.int_trips where n_stops >= 2
        ),
        counted as (
            select service_date, source_code, origin_facility_code, destination_facility_code, count(*) as trips,
                   count(distinct visitor_id) as visitors
            from trips group by all
        ),
        medians as (
            select service_date, source_code, origin_facility_code, destination_facility_code,
                   quantile_cont(trip_minutes, 0.5) as median_minutes
            from trips group by all
        )
        select source_name(source_code) as source_kind,
               codes.facility_ids[origin_facility_code] as origin_facility_id,
               codes.facility_ids[destination_facility_code] as destination_facility_id, trips, visitors, median_minutes
        from counted inner join medians using (service_date, source_code, origin_facility_code, destination_facility_code)
        inner join intermediate.int_codes as codes using (service_date)""",
    "top_20_routes": """
        with counted as (
            select service_date, short_route_codes, count(distinct visitor_id) as visitors
            from intermediate.int_trips where n_stops between 2 and 5 group by all
        )
        select route_name(short_route_codes, codes.facility_ids) as route, visitors
        from counted inner join intermediate.int_codes as codes using (service_date)
        order by visitors desc, route limit 20""",
}


def measure_project(path: Path, workdir: Path) -> dict:
    from flowlib.models import build_range, visitor_batches

    con, settings = _prepared_warehouse(workdir, path)
    started, cpu = time.perf_counter(), time.process_time()
    counts = build_range(con, DAY, DAY, settings, only=ROUTE_MODELS)
    models_seconds = time.perf_counter() - started
    results = {name: con.execute(sql).fetchall() for name, sql in ROUTE_QUERIES.items()}
    figures = _figures(con, started, cpu)
    trips = con.execute("select count(*) from intermediate.int_trips").fetchone()[0]
    out = {
        **figures,
        "models_seconds": models_seconds,
        "stops": counts["intermediate.int_stop_rows"],
        # FLOW_STOP_BATCH_EVENTS: how many batches of visitors int_stop_rows was built in
        "stop_batches": visitor_batches(con, settings, DAY, DAY),
        **_summary(results, trips),
    }
    con.close()
    return out


def measure_pandas(path: Path) -> dict:
    """The same trips, transitions, OD and top-20 routes, written plainly in pandas."""
    import pandas as pd

    same_facility_minutes, trip_gap_minutes = stop_rules()

    started, cpu = time.perf_counter(), time.process_time()
    taps = pd.read_parquet(path, columns=["card_key", "facility_id", "entered_at"])
    taps = taps.sort_values(["card_key", "entered_at", "facility_id"], ignore_index=True)
    same_card = taps["card_key"].eq(taps["card_key"].shift())
    gap = taps["entered_at"] - taps["entered_at"].shift()
    new_trip = ~same_card | (gap > pd.Timedelta(minutes=trip_gap_minutes))
    new_stop = (
        new_trip | taps["facility_id"].ne(taps["facility_id"].shift()) | (gap > pd.Timedelta(minutes=same_facility_minutes))
    )
    stops = taps[new_stop].copy()
    stops["trip"] = new_trip[new_stop].cumsum()
    same_trip = stops["trip"].eq(stops["trip"].shift(-1))
    moves = pd.DataFrame(
        {
            "card_key": stops["card_key"],
            "from": stops["facility_id"],
            "to": stops["facility_id"].shift(-1),
            "minutes": (stops["entered_at"].shift(-1) - stops["entered_at"]).dt.total_seconds() / 60,
        }
    )[same_trip]
    matrix = moves.groupby(["from", "to"]).agg(
        transitions=("card_key", "size"),
        visitors=("card_key", "nunique"),
        p25=("minutes", lambda m: m.quantile(0.25)),
        median=("minutes", "median"),
        p75=("minutes", lambda m: m.quantile(0.75)),
    )
    trips = stops.groupby("trip").agg(
        card_key=("card_key", "first"),
        origin=("facility_id", "first"),
        destination=("facility_id", "last"),
        n_stops=("facility_id", "size"),
        route=("facility_id", " > ".join),
        started=("entered_at", "first"),
    )
    # the trip's minutes, first arrival to last tap (new_trip implies new_stop: the taps' trip
    # numbers are the stops')
    ended = taps["entered_at"].groupby(new_trip.cumsum()).max()
    trips["minutes"] = (ended.reindex(trips.index) - trips["started"]).dt.total_seconds() / 60
    multi = trips[trips["n_stops"] >= 2]
    od = multi.groupby(["origin", "destination"]).agg(
        trips=("card_key", "size"), visitors=("card_key", "nunique"), median=("minutes", "median")
    )
    ranked = multi[multi["n_stops"] <= 5].groupby("route")["card_key"].nunique().sort_values(ascending=False).head(20)
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "peak_mb": _peak_mb(),
        "stops": int(len(stops)),
        "transitions": int(len(moves)),
        "trips": int(len(trips)),
        "od_cells": int(len(od)),
        "od_median_digest": median_digest((o, d, m) for (o, d), m in od["median"].items()),
        "matrix_cells": int(len(matrix)),
        "top_route": [ranked.index[0], int(ranked.iloc[0])] if len(ranked) else None,
    }


def measure_nightly(path: Path, workdir: Path) -> dict:
    """build_day with every model and mart on a warehouse holding one day of taps."""
    from flowlib.models import build_day, visitor_batches

    con, settings = _prepared_warehouse(workdir, None)
    con.execute(f"insert into raw.entry_log by name select * from read_parquet('{path}')")
    con.execute("checkpoint")
    started, cpu = time.perf_counter(), time.process_time()
    counts = build_day(con, DAY, settings)
    out = {
        **_figures(con, started, cpu),
        "models": len(counts),
        "mart_rows": sum(n for name, n in counts.items() if name.startswith("marts.")),
        "stop_batches": visitor_batches(con, settings, DAY, DAY),
    }
    con.close()
    return out


WORKERS = {
    "floor": measure_floor,
    "window": measure_window_pass,
    "baseline": measure_baseline,
    "project": measure_project,
    "pandas": measure_pandas,
    "nightly": measure_nightly,
}
#: the results project and baseline must agree on
AGREEMENT = ("transitions", "trips", "od_cells", "od_trips", "od_digest", "matrix_digest", "top_20_routes")


def run_worker(kind: str, path: Path, workdir: Path, timeout: int) -> dict:
    """One measurement in a fresh interpreter (its own peak memory), with the load average before it."""
    command = [sys.executable, __file__, "--worker", kind, "--file", str(path), "--workdir", str(workdir)]
    load = round(os.getloadavg()[0], 2)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"no result within {timeout} s", "load_average": load}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1], "load_average": load}
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "load_average": load}


def measured(runs: list[dict]) -> dict:
    """The median run's figures, and every run's seconds and load average in the order they ran."""
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[-1]
    median = sorted(good, key=lambda r: r["seconds"])[(len(good) - 1) // 2]
    return {
        **median,
        "seconds": statistics.median(r["seconds"] for r in good),
        "runs": [{"seconds": round(r["seconds"], 2), "load_average": r["load_average"]} for r in good],
        "peak_mb": max(r["peak_mb"] for r in good),
    }


def repeated(kind: str, path: Path, workdir: Path, timeout: int, repeat: int) -> dict:
    """``repeat`` runs of one kind in a row."""
    return measured([run_worker(kind, path, workdir, timeout) for _ in range(repeat)])


def alternated(workdirs: dict[str, Path], path: Path, timeout: int, repeat: int) -> dict[str, list[dict]]:
    """``repeat`` rounds, each running every kind once, in turn: every run of each kind as it
    came, round by round. The machine's speed drifts by a third within hours (docs/routes.md):
    kinds run in rounds meet the same drift, and each round's ratio compares runs a minute
    apart instead of medians taken minutes apart."""
    runs: dict[str, list[dict]] = {kind: [] for kind in workdirs}
    for _ in range(repeat):
        for kind, workdir in workdirs.items():
            runs[kind].append(run_worker(kind, path, workdir, timeout))
    return runs


def round_ratios(numerator: list[dict], denominator: list[dict]) -> list[float]:
    """numerator / denominator seconds within each round in which both ran without error."""
    return [
        round(top["seconds"] / bottom["seconds"], 2)
        for top, bottom in zip(numerator, denominator, strict=True)
        if "error" not in top and "error" not in bottom
    ]


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def loads(part: dict) -> str:
    return "/".join(f"{r['load_average']:.1f}" for r in part.get("runs", [])) or "-"


def main(argv: list[str] | None = None) -> int:
    global MEMORY_LIMIT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1M,10M,50M", help="comma-separated row counts, e.g. 1M,10M")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (the median is reported)")
    parser.add_argument("--pandas-max", default="1M", help="largest size pandas is measured at ('0': never)")
    parser.add_argument("--nightly", default="2M", help="rows of the nightly build_day run ('0' to skip)")
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "bench" / "results")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per measurement")
    parser.add_argument("--memory-limit", default=MEMORY_LIMIT, help="DuckDB memory_limit of every measurement")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        kind = args.worker
        result = (
            WORKERS[kind](args.file)
            if kind in ("floor", "window", "baseline", "pandas")
            else WORKERS[kind](args.file, args.workdir)
        )
        print(json.dumps(result, default=str))
        return 0

    MEMORY_LIMIT = os.environ["FLOW_ROUTES_BENCH_MEMORY_LIMIT"] = args.memory_limit  # the workers inherit it
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    pandas_max = parse_size(args.pandas_max)
    print(
        f"routes benchmark: {os.cpu_count()} CPUs, DuckDB memory_limit={MEMORY_LIMIT} threads={THREADS}, "
        f"{args.repeat} run(s) each (median; load average before each run in brackets)"
    )
    report: dict = {"cpus": os.cpu_count(), "memory_limit": MEMORY_LIMIT, "threads": THREADS, "repeat": args.repeat, "sizes": {}}
    header = (
        f"{'rows':>5} | {'floor s':>7} {'1 pass s':>8} | {'baseline s':>10} {'project s':>9} {'ratio':>5} "
        f"{'peak MB':>7} {'same':>4} | {'pandas s':>8} | load averages (baseline; project)"
    )
    print(header)
    print("-" * len(header))
    for rows in sizes:
        path = workdir / "data" / f"taps_{DATA_VERSION}_{label(rows)}.parquet"
        generate(path, rows)
        floor = repeated("floor", path, workdir / "w_floor", args.timeout, args.repeat)
        window = repeated("window", path, workdir / "w_window", args.timeout, args.repeat)
        rounds = alternated(
            {"baseline": workdir, "project": workdir / f"w_project_{label(rows)}"}, path, args.timeout, args.repeat
        )
        baseline, project = measured(rounds["baseline"]), measured(rounds["project"])
        by_round = round_ratios(rounds["project"], rounds["baseline"])
        panda = repeated("pandas", path, workdir, args.timeout, args.repeat) if rows <= pandas_max else {"skipped": True}
        b, d = baseline.get("seconds"), project.get("seconds")
        same = all(baseline.get(k) == project.get(k) for k in AGREEMENT) if b and d else None
        report["sizes"][label(rows)] = {
            "floor": floor,
            "window_pass": window,
            "baseline": baseline,
            "project": project,
            "pandas": panda,
            "ratio_project_to_baseline": round(d / b, 2) if b and d else None,
            "ratio_by_round": by_round,
            "ratio_median_of_rounds": statistics.median(by_round) if by_round else None,
            "same_results": same,
        }
        print(
            f"{label(rows):>5} | {fmt(floor.get('seconds'), 2):>7} {fmt(window.get('seconds')):>8} | {fmt(b):>10} "
            f"{fmt(d):>9} {fmt(d / b if b and d else None, 2):>5} {fmt(project.get('peak_mb'), 0):>7} "
            f"{('yes' if same else '-' if same is None else 'NO'):>4} | {fmt(panda.get('seconds')):>8} "
            f"| {loads(baseline)}; {loads(project)}"
        )
        if by_round:
            print(
                f"      ratio by round (baseline, then project): {', '.join(f'{r:.2f}' for r in by_round)}; median {statistics.median(by_round):.2f}"
            )
        if project.get("stop_batches"):
            print(
                f"      the project built the stops in {project['stop_batches']} batch(es) of visitors (FLOW_STOP_BATCH_EVENTS)"
            )
        for name, part in (("project", project), ("baseline", baseline), ("pandas", panda), ("floor", floor), ("1 pass", window)):
            if "error" in part:
                print(f"      {name}: {part['error']}")
        if same is False:
            print(
                "      project and baseline disagree: "
                + "; ".join(f"{k}: {project.get(k)} vs {baseline.get(k)}" for k in AGREEMENT if project.get(k) != baseline.get(k))
            )
    nightly_rows = parse_size(args.nightly)
    if nightly_rows:
        path = workdir / "data" / f"taps_{DATA_VERSION}_{label(nightly_rows)}.parquet"
        generate(path, nightly_rows)
        nightly = repeated("nightly", path, workdir / "w_nightly", args.timeout, args.repeat)
        report["nightly"] = {"rows": nightly_rows, **nightly}
        print(
            f"nightly build_day, {label(nightly_rows)} taps, every model and mart: {fmt(nightly.get('seconds'))} s "
            f"(cpu {fmt(nightly.get('cpu_seconds'))} s, peak {fmt(nightly.get('peak_mb'), 0)} MB, "
            f"stops in {nightly.get('stop_batches', '-')} batch(es), load {loads(nightly)})"
            + (f" - {nightly['error']}" if "error" in nightly else "")
        )
    out = workdir / "routes_benchmark.json"
    out.write_text(json.dumps(report, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
