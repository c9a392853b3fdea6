"""How fast are trips, transitions, OD and top routes? DuckDB (the pipeline's own SQL) vs pandas.

For each size (default 1 M, 10 M, 50 M entry rows) the script generates one service day
of card taps in DuckDB (parquet, raw.entry_log's shape, 64-hex pseudonyms, about four
taps per card), then measures, each in a fresh process so that peak memory is its own:

* ``floor``  - a DuckDB scan of the same file that reads every value of the three columns
  routes need (count(*) plus a hash of each row);
* ``1 pass`` - one ordered window pass over the same rows (the previous tap of each card,
  partitioned by card, ordered by time): what any window-function route computation pays
  at least once; the pipeline makes two such passes (events, then stops);
* ``duckdb`` - the pipeline's models (the int_stops and int_trips tables and the
  int_transitions view, run by flowlib.models on a warehouse file whose raw.entry_log is
  a view of the parquet) plus the transition matrix (moves, distinct visitors, quartiles),
  the OD matrix and the top-20 routes;
* ``pandas`` - the same computation written plainly in pandas on the same file (by
  default only up to 10 M rows: at 50 M its frames alone outgrow the machine).

Then the nightly increment: ``build_day`` (every model and mart, suppression included)
on a warehouse holding one day of 2 M taps.

DuckDB runs with memory_limit 3GB (the whole process stays under 4 GB), 2 threads and a temp directory under the work folder.
Seconds are wall-clock; CPU seconds are printed too because the machine is shared.

    .venv/bin/python bench/routes_benchmark.py                 # 1M,10M,50M + nightly
    .venv/bin/python bench/routes_benchmark.py --sizes 1M      # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

DAY = date(2026, 11, 3)
MEMORY_LIMIT = "3GB"   # DuckDB buffers; the process (Python, parquet reader) stays under 4 GB
THREADS = 2
ROUTE_MODELS = ["int_sensor_stays", "int_stops", "int_transitions", "int_trips"]


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
    facilities = ["atomic_bomb_museum", "confucius_shrine", "dejima", "dutch_slope", "glover_garden",
                  "history_culture_museum", "inasayama_observatory", "megane_bridge", "nagasaki_station",
                  "oura_cathedral", "peace_park", "prefectural_art_museum", "shinchi_chinatown", "sofukuji",
                  "suwa_shrine", "twenty_six_martyrs"]
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


def measure_floor(path: Path) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute(f"set threads = {THREADS}; set memory_limit = '{MEMORY_LIMIT}'")
    started, cpu = time.perf_counter(), time.process_time()
    # count(*) alone is answered from the parquet footer: touch every value instead
    con.execute(f"select count(*), sum(hash(card_key, facility_id, entered_at)) from read_parquet('{path}')").fetchall()
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu, "peak_mb": _peak_mb()}


def measure_window_pass(path: Path) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute(f"set threads = {THREADS}; set memory_limit = '{MEMORY_LIMIT}'")
    started, cpu = time.perf_counter(), time.process_time()
    con.execute(f"""
        select count(*), sum(previous_facility_hash) from (
            select lag(hash(facility_id)) over (partition by hash(card_key) order by entered_at)
                as previous_facility_hash
            from read_parquet('{path}')
        )""").fetchall()
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu, "peak_mb": _peak_mb()}


def _settings(workdir: Path):
    from flowlib.config import Settings

    return Settings(data_dir=workdir, landing_dir=workdir / "landing", warehouse_path=workdir / "warehouse.duckdb",
                    dashboards_dir=workdir / "dashboards", duckdb_memory_limit=MEMORY_LIMIT,
                    duckdb_threads=THREADS, demo_mode=True, hmac_key_env="bench")


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
    # aggregation holding both states for every cell needs 150 s at 50 M instead of 8 s
    "transition_matrix": """
        with moves as (
            select source_kind, from_facility_id, to_facility_id, count(*) as transitions,
                   count(distinct visitor_id) as visitors
            from intermediate.int_transitions group by all
        ),
        minutes as (
            select source_kind, from_facility_id, to_facility_id,
                   quantile_cont(transfer_minutes, [0.25, 0.5, 0.75]) as quartiles
            from intermediate.int_transitions group by all
        )
        select * from moves inner join minutes using (source_kind, from_facility_id, to_facility_id)""",
    "od_matrix": """
        select source_kind, origin_facility_id, destination_facility_id, count(*) as trips,
               count(distinct visitor_id) as visitors
        from intermediate.int_trips where n_stops >= 2 group by all""",
    "top_20_routes": """
        select route, count(distinct visitor_id) as visitors
        from intermediate.int_trips where n_stops between 2 and 5
        group by all order by visitors desc, route limit 20""",
}


def measure_duckdb(path: Path, workdir: Path) -> dict:
    from flowlib.models import build_range

    con, settings = _prepared_warehouse(workdir, path)
    started, cpu = time.perf_counter(), time.process_time()
    counts = build_range(con, DAY, DAY, settings, only=ROUTE_MODELS)
    models_seconds = time.perf_counter() - started
    results = {name: con.execute(sql).fetchall() for name, sql in ROUTE_QUERIES.items()}
    results["transition_matrix_moves"] = sum(row[3] for row in results["transition_matrix"])
    seconds = time.perf_counter() - started
    out = {"seconds": seconds, "models_seconds": models_seconds, "cpu_seconds": time.process_time() - cpu,
           "peak_mb": _peak_mb(), "stops": counts["intermediate.int_stops"],
           "transitions": results["transition_matrix_moves"], "trips": counts["intermediate.int_trips"],
           "top_route": list(results["top_20_routes"][0]) if results["top_20_routes"] else None,
           "od_cells": len(results["od_matrix"])}
    con.close()
    return out


def measure_pandas(path: Path, reentry_minutes: int = 30, trip_gap_minutes: int = 240) -> dict:
    """The same trips, transitions, OD and top-20 routes, written plainly in pandas."""
    import pandas as pd

    started, cpu = time.perf_counter(), time.process_time()
    taps = pd.read_parquet(path, columns=["card_key", "facility_id", "entered_at"])
    taps = taps.sort_values(["card_key", "entered_at", "facility_id"], ignore_index=True)
    same_card = taps["card_key"].eq(taps["card_key"].shift())
    gap = taps["entered_at"] - taps["entered_at"].shift()
    new_trip = ~same_card | (gap > pd.Timedelta(minutes=trip_gap_minutes))
    new_stop = new_trip | taps["facility_id"].ne(taps["facility_id"].shift()) | (gap > pd.Timedelta(minutes=reentry_minutes))
    stops = taps[new_stop].copy()
    stops["trip"] = new_trip[new_stop].cumsum()
    same_trip = stops["trip"].eq(stops["trip"].shift(-1))
    moves = pd.DataFrame({
        "card_key": stops["card_key"], "from": stops["facility_id"], "to": stops["facility_id"].shift(-1),
        "minutes": (stops["entered_at"].shift(-1) - stops["entered_at"]).dt.total_seconds() / 60,
    })[same_trip]
    matrix = moves.groupby(["from", "to"]).agg(transitions=("card_key", "size"), visitors=("card_key", "nunique"),
                                               p25=("minutes", lambda m: m.quantile(0.25)),
                                               median=("minutes", "median"), p75=("minutes", lambda m: m.quantile(0.75)))
    trips = stops.groupby("trip").agg(card_key=("card_key", "first"), origin=("facility_id", "first"),
                                      destination=("facility_id", "last"), n_stops=("facility_id", "size"),
                                      route=("facility_id", " > ".join))
    multi = trips[trips["n_stops"] >= 2]
    od = multi.groupby(["origin", "destination"]).agg(trips=("card_key", "size"), visitors=("card_key", "nunique"))
    ranked = multi[multi["n_stops"] <= 5].groupby("route")["card_key"].nunique().sort_values(ascending=False).head(20)
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu, "peak_mb": _peak_mb(),
            "stops": int(len(stops)), "transitions": int(len(moves)), "trips": int(len(trips)),
            "od_cells": int(len(od)), "matrix_cells": int(len(matrix)),
            "top_route": [ranked.index[0], int(ranked.iloc[0])] if len(ranked) else None}


def measure_nightly(path: Path, workdir: Path) -> dict:
    """build_day with every model and mart on a warehouse holding one day of taps."""
    from flowlib.models import build_day

    con, settings = _prepared_warehouse(workdir, None)
    con.execute(f"insert into raw.entry_log select * from read_parquet('{path}')")
    con.execute("checkpoint")
    started, cpu = time.perf_counter(), time.process_time()
    counts = build_day(con, DAY, settings)
    seconds = time.perf_counter() - started
    out = {"seconds": seconds, "cpu_seconds": time.process_time() - cpu, "peak_mb": _peak_mb(),
           "models": len(counts), "mart_rows": sum(n for name, n in counts.items() if name.startswith("marts."))}
    con.close()
    return out


WORKERS = {"floor": measure_floor, "window": measure_window_pass, "duckdb": measure_duckdb, "pandas": measure_pandas,
           "nightly": measure_nightly}


def run_worker(kind: str, path: Path, workdir: Path, timeout: int) -> dict:
    """One measurement in a fresh interpreter (its own peak memory)."""
    command = [sys.executable, __file__, "--worker", kind, "--file", str(path), "--workdir", str(workdir)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"no result within {timeout} s"}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1M,10M,50M", help="comma-separated row counts, e.g. 1M,10M")
    parser.add_argument("--pandas-max", default="10M", help="largest size pandas is measured at")
    parser.add_argument("--nightly", default="2M", help="rows of the nightly build_day run ('0' to skip)")
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "bench" / "results")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per measurement")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        kind = args.worker
        result = (WORKERS[kind](args.file) if kind in ("floor", "window", "pandas")
                  else WORKERS[kind](args.file, args.workdir))
        print(json.dumps(result, default=str))
        return 0

    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    pandas_max = parse_size(args.pandas_max)
    print(f"routes benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
          f"(the machine is shared), DuckDB memory_limit={MEMORY_LIMIT} threads={THREADS} "
          f"temp_directory under {workdir}")
    report = {"load_average": os.getloadavg(), "sizes": {}}
    header = (f"{'rows':>5} | {'floor s':>7} {'1 pass s':>8} | {'duckdb s':>8} {'cpu s':>6} {'rows/s':>10} {'peak MB':>8} {'x floor':>7}"
              f" | {'pandas s':>8} {'cpu s':>6} {'peak MB':>8} | {'pandas/duckdb':>13}")
    print(header)
    print("-" * len(header))
    for rows in sizes:
        path = workdir / "data" / f"taps_{label(rows)}.parquet"
        generate(path, rows)
        floor = run_worker("floor", path, workdir / "w_floor", args.timeout)
        window = run_worker("window", path, workdir / "w_window", args.timeout)
        duck = run_worker("duckdb", path, workdir / f"w_duckdb_{label(rows)}", args.timeout)
        panda = run_worker("pandas", path, workdir, args.timeout) if rows <= pandas_max else {"skipped": True}
        report["sizes"][label(rows)] = {"floor": floor, "window_pass": window, "duckdb": duck, "pandas": panda}
        d, p, f = duck.get("seconds"), panda.get("seconds"), floor.get("seconds")
        print(f"{label(rows):>5} | {fmt(f, 2):>7} {fmt(window.get('seconds')):>8} | {fmt(d):>8} {fmt(duck.get('cpu_seconds')):>6} "
              f"{(f'{rows / d:,.0f}' if d else '-'):>10} {fmt(duck.get('peak_mb'), 0):>8} {fmt(d / f if d and f else None):>7}"
              f" | {fmt(p):>8} {fmt(panda.get('cpu_seconds')):>6} {fmt(panda.get('peak_mb'), 0):>8}"
              f" | {fmt(p / d if p and d else None):>13}")
        for name, part in (("duckdb", duck), ("pandas", panda), ("floor", floor), ("1 pass", window)):
            if "error" in part:
                print(f"      {name}: {part['error']}")
        if p and d and (duck.get("transitions"), duck.get("trips")) != (panda.get("transitions"), panda.get("trips")):
            print(f"      note: duckdb and pandas disagree: {duck} vs {panda}")
        if panda.get("skipped"):
            print(f"      pandas not run above {label(pandas_max)} rows (--pandas-max): its frames outgrow the machine")
    nightly_rows = parse_size(args.nightly)
    if nightly_rows:
        path = workdir / "data" / f"taps_{label(nightly_rows)}.parquet"
        generate(path, nightly_rows)
        nightly = run_worker("nightly", path, workdir / "w_nightly", args.timeout)
        report["nightly"] = {"rows": nightly_rows, **nightly}
        print(f"nightly build_day, {label(nightly_rows)} taps, every model and mart: {fmt(nightly.get('seconds'))} s "
              f"(cpu {fmt(nightly.get('cpu_seconds'))} s, peak {fmt(nightly.get('peak_mb'), 0)} MB)"
              + (f" - {nightly['error']}" if "error" in nightly else ""))
    (workdir / "routes_benchmark.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
