"""Pipeline benchmark: prints measured figures, asserts nothing.

Generates demo data at a chosen scale, then times each stage of the night the way the DAG
runs it (ingest per source, marts, dashboards) and reports rows per second, seconds, peak
memory of this process, and per page its size and its render time in headless Chromium
with the network blocked. Performance targets are read off these figures, never enforced
by timed tests.

    .venv/bin/python bench/benchmark.py                      # 3 days at scale 1.0
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
            timings[path.name] = time.perf_counter() - started
        browser.close()
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--routes", action="store_true", help="also run bench/routes_benchmark.py")
    parser.add_argument(
        "--ingest", action="store_true", help="also run bench/ingest_benchmark.py (each kind at 10k, 1M and 3M rows)"
    )
    parser.add_argument("--ingest-only", action="store_true", help="run only bench/ingest_benchmark.py")
    parser.add_argument("--ingest-runs", type=int, default=3, help="loads per ingest figure (the median is printed)")
    args = parser.parse_args(argv)
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

    work = Path(tempfile.mkdtemp(prefix="flow-bench-"))
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
    days = [(first + timedelta(days=i)).isoformat() for i in range(args.days)]
    figures: dict[str, object] = {"days": args.days, "scale": args.scale}
    print(f"benchmark: {args.days} day(s) from {days[0]} at scale {args.scale}, work dir {work}")

    started = time.perf_counter()
    generate(settings.landing_dir, first, first + timedelta(days=args.days - 1), scale=args.scale)
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
    figures["marts_seconds_per_day"] = round(seconds / args.days, 2)
    print(f"  marts  {seconds / args.days:7.2f} s per day")

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
    sizes = {p.name: p.stat().st_size for p in pages}
    renders = render_seconds(pages)
    print("  pages:")
    for page in pages:
        size = sizes[page.name]
        render = renders.get(page.name)
        verdict = "ok" if size <= PAGE_BUDGET_BYTES and (render is None or render <= RENDER_BUDGET_SECONDS) else "OVER BUDGET"
        render_text = f"{render:5.2f} s" if render is not None else "  n/a (no chromium)"
        print(f"    {page.name:18} {size / 1024:9.1f} KiB  render {render_text}  {verdict}")
    figures["page_bytes"] = sizes
    figures["page_render_seconds"] = {k: round(v, 3) for k, v in renders.items()}
    figures["peak_rss_mib"] = round(peak_rss_mib(), 1)
    print(f"  peak memory (this process) {figures['peak_rss_mib']:.0f} MiB")

    results = PROJECT_ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    out = results / f"pipeline-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
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
