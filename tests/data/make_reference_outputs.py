"""Freeze the models' outputs on the demo fortnight and the Kanazawa stays (run once).

Writes tests/data/reference_outputs/: ``digests.json`` (row count and sha256 of the sorted
rows of every relation, both data sets) and ``demo/<mart>.parquet`` (every mart of the demo
fortnight, zstd, rows sorted: about 400 kB, so a failing test shows the rows that differ).
Per-visitor intermediate rows (3 MB for the demo, mostly pseudonyms) and anything from the
real Kanazawa data are kept as digests only.
tests/test_route_equivalence.py compares today's models with them.

The SQL comes from a git commit (``--commit``, default the one the committed outputs came
from), not from the working tree:

* that commit's ``sql/`` builds every relation stored;
* that commit's ``tests/data/reference_sql/`` (the SQL from before issue 17's one-pass
  route models, given today's privacy headers as the old equivalence test did) builds the
  route relations again, and they must be equal: the outputs are the pre-issue-17 results.

Usage (from the project root, /work/shared present for the Kanazawa stays)::

    .venv/bin/python tests/data/make_reference_outputs.py [--commit SHA]
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import SHARED_REALDATA  # noqa: E402
from test_hokuriku_agreement import FIRST, LAST, load_stays_directly, read_stays  # noqa: E402
from test_route_equivalence import (  # noqa: E402
    DEMO_KEY,
    KANAZAWA_KEY,
    REFERENCE,
    ROUTE_MARTS,
    all_marts,
    build,
    digest,
    load_demo_taps,
    relations,
    settings_for,
    sorted_rows,
)

from flowlib.warehouse import writer  # noqa: E402

#: The commit whose SQL made the committed outputs (main after issue 17's merge, before issue 15's SQL rework).
SOURCE_COMMIT = "1955a6d"
_PRIVACY_HEADER = re.compile(r"^-- (keys|counts|suppress|margin|additive|share|rank):")


def _extract(commit: str, paths: list[str], into: Path) -> None:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, *paths], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def _with_headers_of(current: str, old: str) -> str:
    """The old mart with the current one's privacy headers (disclosure rules are not compared)."""
    headers = [line for line in current.splitlines() if _PRIVACY_HEADER.match(line)]
    lines = old.splitlines()
    first = next((i for i, line in enumerate(lines) if _PRIVACY_HEADER.match(line)), 0)
    kept = [line for line in lines if not _PRIVACY_HEADER.match(line)]
    return "\n".join(kept[:first] + headers + kept[first:]) + "\n"


def _reference_sql(source: Path, into: Path) -> Path:
    """The pre-issue-17 models over the commit's warehouse tables, with its privacy headers."""
    sql = into / "reference_sql"
    sql.mkdir()
    for layer in ("staging", "intermediate", "marts"):
        (source / "tests/data/reference_sql" / layer).rename(sql / layer)
    (sql / "warehouse").symlink_to(source / "sql" / "warehouse")
    for old in (sql / "marts").glob("*.sql"):
        current = source / "sql" / "marts" / old.name
        if current.is_file():
            old.write_text(_with_headers_of(current.read_text("utf-8"), old.read_text("utf-8")), encoding="utf-8")
    return sql


def _outputs(root: Path, key: str, sql: Path, first, last, load, marts, id_expr) -> dict[str, list[tuple]]:
    settings = settings_for(root, key, sql)
    build(settings, first, last, load)
    with writer(settings) as con:
        return {name: sorted_rows(rel) for name, rel in relations(con, marts, id_expr).items()}


def _dataset(work: Path, name: str, key: str, first, last, load, sql: Path, reference: Path, demo: bool) -> dict:
    print(f"{name}: building with the commit's sql/ and with the pre-issue-17 reference SQL", flush=True)
    current = _outputs(work / f"{name}-sql", key, sql, first, last, load, all_marts(), "raw.pseudonym_id(visitor_key)")
    old = _outputs(work / f"{name}-ref", key, reference, first, last, load, ROUTE_MARTS, "hash(visitor_key)")
    for relation, rows in old.items():
        assert rows == current[relation], f"{name}: {relation} differs between the commit's sql/ and the reference SQL"
    digests = {relation: {"rows": len(rows), "sha256": digest(rows)} for relation, rows in current.items()}
    if demo:
        (REFERENCE / "demo").mkdir(parents=True, exist_ok=True)
        with writer(settings_for(work / f"{name}-sql", key, sql)) as con:
            for relation in all_marts():
                rel = con.sql(f"select * from marts.{relation}")
                path = REFERENCE / "demo" / f"{relation}.parquet"
                rel.order("all").write_parquet(str(path), compression="zstd")
                again = sorted_rows(con.sql(f"select * from read_parquet('{path}')"))
                assert again == current[relation], f"{relation} does not survive a parquet round trip"
    return digests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default=SOURCE_COMMIT, help="the commit whose SQL builds the outputs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "source"
        _extract(args.commit, ["sql", "tests/data/reference_sql"], source)
        reference = _reference_sql(source, work)
        days, load = load_demo_taps(work / "landing")
        digests = {"commit": args.commit}
        digests["demo"] = _dataset(work, "demo", DEMO_KEY, days[0], days[-1], load, source / "sql", reference, demo=True)
        stays = read_stays(SHARED_REALDATA / "hokuriku_wifi_sensor")
        digests["kanazawa"] = _dataset(
            work,
            "kanazawa",
            KANAZAWA_KEY,
            FIRST,
            LAST,
            lambda con, s: load_stays_directly(con, stays, s),
            source / "sql",
            reference,
            demo=False,
        )
    (REFERENCE / "digests.json").write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
