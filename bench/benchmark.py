"""Pipeline benchmark: prints measured figures, asserts nothing.

Generates demo data at a chosen scale, then times each stage of the night the way the DAG
runs it (ingest per source, marts, dashboards) and reports rows per second, seconds, peak
memory of this process, and per page its size and its render time in headless Chromium
with the network blocked; then the worst page a day can give (4,921 H3 cells x 24 hours,
a move between every pair of facilities). Each of ``--runs`` nights (default 3) runs in a
fresh process and folder; the script prints every run, the load average before it and the
medians, and writes them to ``bench/results/pipeline-<time>.json`` (keys sorted).
Performance targets are read off these figures, never enforced by timed tests.

    .venv/bin/python bench/benchmark.py                      # 3 days at scale 1.0, 3 runs
    .venv/bin/python bench/benchmark.py --days 2 --scale 4   # heavier days
    .venv/bin/python bench/benchmark.py --routes             # also the routes benchmark
    .venv/bin/python bench/benchmark.py --ingest-only        # rows/s and peak RSS per source kind
                                                             # at 10k, 1M and 3M rows (median of 3)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
CHROMIUM = Path("/usr/bin/chromium")
PAGE_BUDGET_BYTES = 5 * 1024 * 1024
RENDER_BUDGET_SECONDS = 3.0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def render_seconds(pages: list[Path]) -> dict[str, float]:
    """Seconds from navigation to the page's map-ready signal, network blocked."""
    if not CHROMIUM.exists():
        return {}
    from playwright.sync_api import sync_playwright

    timings = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://") else route.abort())
        for path in pages:
            started = time.perf_counter()
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_function("window.flowDashboard && window.flowDashboard.ready", timeout=30_000)
            timings[str(path)] = time.perf_counter() - started
        browser.close()
    return timings


def heavy_page(settings, day: date) -> Path:
    """The worst page a day can give: the warehouse's day with 4,921 H3 cells x 24 hours of
    Wi-Fi counts and a move between every ordered pair of facilities (far above what the page
    draws: MAX_HEAT_CELLS cells, MAX_FLOWS flows), built into its own folder from a copy of
    the warehouse."""
    import shutil
    from dataclasses import replace

    import duckdb
    import h3

    from flowlib.dashboards import build_dashboards

    heavy = settings.data_dir.parent / "heavy"
    heavy.mkdir()
    warehouse = heavy / "warehouse.duckdb"
    shutil.copy(settings.warehouse_path, warehouse)
    con = duckdb.connect(str(warehouse))
    centre = h3.latlng_to_cell(32.745, 129.873, 10)
    cells = [(cell, *h3.cell_to_latlng(cell)) for cell in h3.grid_disk(centre, 40)]
    con.execute("delete from marts.wifi_h3_hourly where service_date = ?", [day])
    con.executemany(
        "insert into marts.wifi_h3_hourly by name "
        "select ? as service_date, ? as h3_cell, ? as hour_of_day, ? as lat, ? as lon, ? as connections, false as is_suppressed",
        [
            (day, cell, hour, lat, lon, 10 + (i * 7 + hour * 13) % 500)
            for i, (cell, lat, lon) in enumerate(cells)
            for hour in range(24)
        ],
    )
    facilities = [row[0] for row in con.execute("select facility_id from ref.facilities order by facility_id").fetchall()]
    pairs = [(a, b) for a in facilities for b in facilities if a != b]
    con.execute("delete from marts.transitions_daily where service_date = ?", [day])
    con.executemany(
        "insert into marts.transitions_daily by name select ? as service_date, 'entry_log' as source_kind, "
        "? as from_facility_id, ? as to_facility_id, ? as transitions, ? as visitors, 0.1 as next_probability, "
        "10.0 as transfer_minutes_median, false as is_suppressed",
        [(day, a, b, 20 + n, 15 + n) for n, (a, b) in enumerate(pairs)],
    )
    heavy_settings = replace(settings, dashboards_dir=heavy / "dashboards", warehouse_path=warehouse)
    build_dashboards(con, heavy_settings, [day])
    con.close()
    print(f"  heavy page: {len(cells):,} H3 cells x 24 h, {len(pairs)} facility pairs")
    return heavy_settings.dashboards_dir / "daily" / f"{day.isoformat()}.html"


def run_once(days_count: int, scale: float, work: Path) -> dict:
    """One measured night of ``days_count`` demo days in ``work`` (this process's own imports)."""
    os.environ.update(
        {
            "FLOW_DATA_DIR": str(work / "data"),
            "FLOW_DASHBOARDS_DIR": str(work / "dashboards"),
            "FLOW_DEMO_MODE": "true",
            "GX_ANALYTICS_ENABLED": "False",
        }
    )
    import logging

    logging.basicConfig(level=logging.WARNING)
    from flowlib import pipeline
    from flowlib.config import get_settings
    from flowlib.demo import generate
    from flowlib.sources import load_registry

    settings = get_settings()
    first = date(2026, 11, 9)
    days = [(first + timedelta(days=i)).isoformat() for i in range(days_count)]
    figures: dict[str, object] = {"days": days_count, "scale": scale}

    started = time.perf_counter()
    generate(settings.landing_dir, first, first + timedelta(days=days_count - 1), scale=scale)
    figures["generate_seconds"] = round(time.perf_counter() - started, 2)

    started = time.perf_counter()
    pipeline.prepare_warehouse(settings)
    figures["prepare_seconds"] = round(time.perf_counter() - started, 2)

    ingest = {}
    for name in load_registry(settings):
        started = time.perf_counter()
        summaries = pipeline.ingest_source(name, days, settings)
        seconds = time.perf_counter() - started
        rows = sum(s["rows_loaded"] + s["rows_quarantined"] for s in summaries)
        ingest[name] = {"rows": rows, "seconds": round(seconds, 2), "rows_per_second": round(rows / seconds)}
        print(f"  ingest {name:16} {rows:>10,} rows {seconds:7.2f} s {rows / seconds:>10,.0f} rows/s")
    figures["ingest"] = ingest

    started = time.perf_counter()
    pipeline.build_marts(days, settings)
    seconds = time.perf_counter() - started
    figures["marts_seconds_per_day"] = round(seconds / days_count, 2)
    print(f"  marts  {seconds / days_count:7.2f} s per day")

    started = time.perf_counter()
    pipeline.build_data_docs(settings)
    figures["data_docs_seconds"] = round(time.perf_counter() - started, 2)

    started = time.perf_counter()
    index = Path(pipeline.publish_dashboards(days, settings))
    figures["dashboards_seconds"] = round(time.perf_counter() - started, 2)
    pages = [
        index,
        *(page for folder in ("daily", "weekly", "monthly") for page in sorted((index.parent / folder).glob("*.html"))),
    ]
    heavy = heavy_page(settings, date.fromisoformat(days[-1]))
    named = {f"{page.parent.name}/{page.name}" if page != index else "index.html": page for page in pages}
    named["heavy/" + heavy.name] = heavy
    sizes = {name: page.stat().st_size for name, page in named.items()}
    renders = render_seconds(list(named.values()))
    by_path = {str(page): name for name, page in named.items()}
    renders = {by_path[path]: seconds for path, seconds in renders.items()}
    print("  pages:")
    for name in named:
        size = sizes[name]
        render = renders.get(name)
        verdict = "ok" if size <= PAGE_BUDGET_BYTES and (render is None or render <= RENDER_BUDGET_SECONDS) else "OVER BUDGET"
        render_text = f"{render:5.2f} s" if render is not None else "  n/a (no chromium)"
        print(f"    {name:26} {size / 1024:9.1f} KiB  render {render_text}  {verdict}")
    figures["page_bytes"] = sizes
    figures["page_render_seconds"] = {k: round(v, 3) for k, v in renders.items()}
    figures["peak_rss_mib"] = round(peak_rss_mib(), 1)
    print(f"  peak memory (this process) {figures['peak_rss_mib']:.0f} MiB")
    return figures


def _median_figures(runs: list[dict]) -> dict:
    """The median of every figure over the runs (a page or source missing from a run is left out)."""

    def median_of(values: list) -> object:
        if isinstance(values[0], dict):
            keys = set().union(*values)
            return {k: median_of([v[k] for v in values if k in v]) for k in sorted(keys)}
        return statistics.median(values)

    return {key: median_of([run[key] for run in runs]) for key in runs[0] if key != "load_average"}


def _page_kind(name: str) -> str:
    return name.split("/")[0] if "/" in name else "index"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--runs", type=int, default=3, help="measured nights, each in a fresh process and folder (medians printed)"
    )
    parser.add_argument("--routes", action="store_true", help="also run bench/routes_benchmark.py")
    parser.add_argument(
        "--ingest", action="store_true", help="also run bench/ingest_benchmark.py (each kind at 10k, 1M and 3M rows)"
    )
    parser.add_argument("--ingest-only", action="store_true", help="run only bench/ingest_benchmark.py")
    parser.add_argument("--ingest-runs", type=int, default=3, help="loads per ingest figure (the median is printed)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        figures = run_once(args.days, args.scale, args.worker)
        (args.worker / "figures.json").write_text(json.dumps(figures), encoding="utf-8")
        return 0
    ingest_command = [
        sys.executable,
        str(PROJECT_ROOT / "bench" / "ingest_benchmark.py"),
        "--sizes",
        "10000,1000000,3000000",
        "--runs",
        str(args.ingest_runs),
    ]
    if args.ingest_only:
        return subprocess.call(ingest_command)

    print(f"benchmark: {args.days} day(s) from 2026-11-09 at scale {args.scale}, {args.runs} run(s)")
    runs = []
    for number in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="flow-bench-") as work:
            load = os.getloadavg()[0]
            print(f"run {number} (load average {load:.2f}), work dir {work}", flush=True)
            command = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                work,
                "--days",
                str(args.days),
                "--scale",
                str(args.scale),
            ]
            if subprocess.call(command) != 0:
                print(f"run {number} failed", file=sys.stderr)
                return 1
            runs.append({**json.loads((Path(work) / "figures.json").read_text(encoding="utf-8")), "load_average": load})
    median = _median_figures(runs)
    loads = ", ".join(f"{run['load_average']:.2f}" for run in runs)
    print(f"medians of {len(runs)} run(s) (load averages before them: {loads}):")
    for name, part in median["ingest"].items():
        print(f"  ingest {name:16} {part['rows']:>10,.0f} rows {part['seconds']:7.2f} s {part['rows_per_second']:>10,.0f} rows/s")
    print(
        f"  marts {median['marts_seconds_per_day']:.2f} s per day; data docs {median['data_docs_seconds']:.2f} s; "
        f"pages {median['dashboards_seconds']:.2f} s; peak {median['peak_rss_mib']:.0f} MiB"
    )
    kinds: dict[str, list[str]] = {}
    for name in median["page_bytes"]:
        kinds.setdefault(_page_kind(name), []).append(name)
    for kind, names in kinds.items():
        sizes = [median["page_bytes"][n] / 1024 for n in names]
        renders = [median["page_render_seconds"][n] for n in names if n in median["page_render_seconds"]]
        render_text = f", render {min(renders):.2f}-{max(renders):.2f} s" if renders else ""
        print(f"  {kind:8} {len(names):>2} page(s): {min(sizes):.0f}-{max(sizes):.0f} KiB{render_text}")
    results = PROJECT_ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    out = results / f"pipeline-{time.strftime('%Y%m%d-%H%M%S')}.json"
    report = {"runs": runs, "median": median, "load_averages": [run["load_average"] for run in runs]}
    out.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"figures written to {out}")

    status = 0
    if args.ingest:
        status = subprocess.call(ingest_command) or status
    if args.routes:
        routes = PROJECT_ROOT / "bench" / "routes_benchmark.py"
        status = subprocess.call([sys.executable, str(routes)]) or status
    return status


if __name__ == "__main__":
    raise SystemExit(main())
