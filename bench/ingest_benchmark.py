"""Ingest benchmark: rows per second and peak memory per source kind and delivery size.

Prints figures, asserts nothing. For each kind (entry_log as a POS A CP932 export,
wifi_ap_count as a vendor A JSON export, wifi_sensor as a raw sensor CSV, survey as a web
survey CSV) and each size it writes one synthetic delivery of that many rows into a
fresh warehouse and loads it through the real path (``ingest_partition``: parsing, mapping,
pseudonymisation, repeat and conflict checks, Great Expectations, quarantine, the
transaction). Each load runs in its own child process, so the peak resident memory
(``ru_maxrss``) is that load's alone; the child imports everything before it starts the
clock. About 2 % of the rows are planted bad (unparseable time, unknown ticket type), so
quarantine is part of the cost.

    .venv/bin/python bench/ingest_benchmark.py                          # 10k, 1M, 3M rows
    .venv/bin/python bench/ingest_benchmark.py --sizes 10000,1000000 --kinds entry_log
    .venv/bin/python bench/ingest_benchmark.py --sizes 3600000 --kinds entry_log --runs 3   # ~200 MB

Each figure is the median of ``--runs`` loads (seconds, rows/s and peak RSS taken from the
run with the median time; the peak RSS printed is the largest of the runs).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
DAY = date(2026, 11, 3)
KINDS = ("entry_log", "wifi_ap_count", "wifi_sensor", "survey")
SOURCE_OF = {
    "entry_log": "entry_pos_a",
    "wifi_ap_count": "bench_wifi",
    "wifi_sensor": "hokuriku_wifi_sensor",
    "survey": "survey_web",
}
#: a benchmark Wi-Fi feed like vendor A's, without the reference check (synthetic AP ids)
BENCH_WIFI = """name: bench_wifi
kind: wifi_ap_count
owner: {name: bench, email: bench@example.invalid}
landing: "wifi/bench/{service_date}.json"
format: json
records_path: records
encoding: utf-8
check_reference_ids: false
columns:
  ap_id: ap_id
  bin_start: {header: bin_start, format: iso8601}
  bin_minutes: {constant: 10}
  connections: connections
  unique_devices: unique_devices
"""


def _moment(i: int, n: int) -> datetime:
    """Spread n rows over the service day 04:00-03:59, second by second (wrapping)."""
    return datetime(DAY.year, DAY.month, DAY.day, 4) + timedelta(seconds=(i * 86_399) // max(n, 1))


def write_delivery(kind: str, n: int, landing: Path) -> Path:
    rng = random.Random(7)
    if kind == "entry_log":
        path = landing / "entry_log" / "pos_a" / DAY.isoformat() / "glover_garden.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        tickets = ["大人", "中高生", "小学生", "団体", "シニア"]
        with path.open("w", encoding="cp932", newline="") as out:
            out.write("利用日時,カードID,券種,金額,発行国\r\n")
            for i in range(n):
                when = _moment(i, n).strftime("%Y/%m/%d %H:%M:%S") if i % 97 else "2026/13/45 99:99:99"
                ticket = tickets[i % 5] if i % 101 else "招待"
                out.write(f"{when},{4_000_000_000_000_000 + i * 7919 % 10**15},{ticket},{rng.choice((620, 310, 0))},JP\r\n")
        return path
    if kind == "wifi_ap_count":
        path = landing / "wifi" / "bench" / f"{DAY.isoformat()}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as out:
            out.write('{"records": [')
            for i in range(n):
                bin_start = datetime(2026, 11, 3, 4) + timedelta(minutes=10 * (i % 144))
                stamp = bin_start.strftime("%Y-%m-%dT%H:%M:%S+09:00") if i % 97 else "soon"
                out.write(
                    ("," if i else "")
                    + json.dumps(
                        {
                            "ap_id": f"AP-{i // 144:06d}",
                            "bin_start": stamp,
                            "connections": 20 + i % 50,
                            "unique_devices": 10 + i % 10,
                        }
                    )
                )
            out.write("]}")
        return path
    if kind == "wifi_sensor":
        path = landing / "hokuriku" / "raw_sample" / f"29_{DAY:%Y%m%d}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as out:
            out.write("時間,施設No,ユーザー情報\n")
            for i in range(n):
                when = _moment(i, n).strftime("%Y-%m-%d %H:%M:%S") if i % 97 else "yesterday"
                out.write(f"{when},29,{rng.getrandbits(48):012x}\n")
        return path
    path = landing / "survey" / "web" / f"{DAY.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(
            "回答ID,回答日時,回答言語,居住国,居住都道府県,旅ナカでの情報取得満足度,旅行全体の満足度,"
            "おすすめ度,利用した情報源,訪問した施設,自由記述\n"
        )
        for i in range(n):
            when = _moment(i, n).strftime("%Y-%m-%d %H:%M:%S") if i % 97 else "--"
            out.write(
                f"R{i:09d},{when},ja,JP,長崎県,{1 + i % 5},{1 + (i // 5) % 5},{i % 11},SNS;友人,dejima,"
                f'"とても良かった, また来ます"\n'
            )
    return path


def child(kind: str, n: int, work: Path) -> dict:
    """Load one delivery (run in a fresh process); figures as a dict."""
    os.environ.update(
        {
            "FLOW_DATA_DIR": str(work / "data"),
            "FLOW_DASHBOARDS_DIR": str(work / "dashboards"),
            "FLOW_DEMO_MODE": "true",
            "GX_ANALYTICS_ENABLED": "False",
            "FLOW_SOURCES_DIR": str(work / "sources"),
            "FLOW_MAX_FILE_MB": "2000",
            "FLOW_MAX_JSON_FILE_MB": "2000",
        }
    )
    import logging

    logging.basicConfig(level=logging.WARNING)
    from flowlib import validation
    from flowlib.config import get_settings
    from flowlib.ingest import ingest_partition
    from flowlib.pipeline import prepare_warehouse
    from flowlib.sources import load_registry

    settings = get_settings()
    prepare_warehouse(settings)
    validation._gx()  # GX's one-off start-up is not part of a load
    path = write_delivery(kind, n, settings.landing_dir)
    spec = load_registry(settings)[SOURCE_OF[kind]]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = ingest_partition(spec, DAY, settings)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "kind": kind,
        "rows": n,
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "seconds": round(seconds, 2),
        "rows_per_second": round(n / seconds),
        "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined,
        "peak_rss_mib": round(peak / 1024),
        "rss_before_load_mib": round(before / 1024),
    }


def _one_load(kind: str, n: int) -> dict:
    """One load in a fresh child process and a fresh warehouse; its figures or an error."""
    work = Path(tempfile.mkdtemp(prefix="flow-ingest-bench-"))
    try:
        sources = work / "sources"
        sources.mkdir()
        for declaration in (PROJECT_ROOT / "sources").glob("*.yaml"):
            shutil.copy2(declaration, sources)
        shutil.copy2(PROJECT_ROOT / "sources" / "examples" / "hokuriku_wifi_sensor.yaml", sources)
        (sources / "bench_wifi.yaml").write_text(BENCH_WIFI, encoding="utf-8")
        done = subprocess.run([sys.executable, __file__, "--child", kind, str(n), str(work)], capture_output=True, text=True)
        if done.returncode != 0:
            return {"error": done.stderr or "the child process failed without a message"}
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000,3000000")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--runs", type=int, default=3, help="loads per figure; the median is printed")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "ROWS", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, n, work = args.child
        print(json.dumps(child(kind, int(n), Path(work))))
        return 0
    figures = []
    load = os.getloadavg()
    print(f"ingest benchmark, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cores")
    for kind in args.kinds.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            runs = []
            for _ in range(args.runs):
                run = _one_load(kind, n)
                if "error" in run:
                    break
                runs.append(run)
            if len(runs) < args.runs:
                print(f"  {kind:14} {n:>10,} rows  FAILED: {run['error'].strip().splitlines()[-1:]}")
                figures.append({"kind": kind, "rows": n, "error": run["error"][-2000:]})
                continue
            row = dict(sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2])
            row.update(
                runs=len(runs), seconds_each=[r["seconds"] for r in runs], peak_rss_mib=max(r["peak_rss_mib"] for r in runs)
            )
            figures.append(row)
            row["load_average"] = round(os.getloadavg()[0], 2)
            print(
                f"  {kind:14} {n:>10,} rows {row['file_mb']:8.1f} MB {row['seconds']:8.2f} s "
                f"{row['rows_per_second']:>10,} rows/s  peak {row['peak_rss_mib']:>6,} MiB "
                f"({row['rows_quarantined']:,} quarantined; median of {row['runs']}; load {row['load_average']:.2f})"
            )
    results = PROJECT_ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    # one figure per line in a fixed order, so two runs diff line by line; -latest is the last run
    document = {
        "load_average_at_start": [round(x, 2) for x in load],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "settings": {
            k: os.environ[k]
            for k in (
                "FLOW_INGEST_CHUNK_ROWS",
                "FLOW_INGEST_ARROW_CHUNK_ROWS",
                "FLOW_VALIDATION_CHUNK_ROWS",
                "FLOW_INGEST_MEMORY_LIMIT",
                "FLOW_INGEST_WRITE_MEMORY_LIMIT",
            )
            if k in os.environ
        },
        "figures": figures,
    }
    text = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    out = results / f"ingest-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(text, encoding="utf-8")
    (results / "ingest-latest.json").write_text(text, encoding="utf-8")
    print(f"figures written to {out} (and {results / 'ingest-latest.json'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
