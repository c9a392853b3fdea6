"""What the pages and the open data say, normalised so two builds can be compared.

A refactor of the publishing code must not change a page or an open-data file. This
script publishes both from an existing warehouse (``FLOW_WAREHOUSE``, read only) into a
fresh dashboards folder and writes one normalised text file per page and per CSV under
``OUT``: folium's random element ids, build timestamps are replaced by fixed tokens, everything else is kept byte for byte. Run it once
with the code before a change and once after, then ``diff -r`` the two folders::

    FLOW_WAREHOUSE=data/warehouse.duckdb .venv/bin/python scripts/page_snapshot.py /tmp/before
    # ... change the code ...
    FLOW_WAREHOUSE=data/warehouse.duckdb .venv/bin/python scripts/page_snapshot.py /tmp/after
    diff -r /tmp/before /tmp/after

Only ``flowlib.opendata.write_files`` (the open data, without the minutes-long disclosure
audit, which does not change a file) and ``flowlib.pipeline.publish_dashboards`` are
called, so the script runs unchanged against an older checkout (``PYTHONPATH=<checkout>``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

# folium names every element <kind>_<32 hex>; the index and the page footers say when they
# were built.
_NOISE = (
    (re.compile(r"_[0-9a-f]{32}(?![0-9a-f])"), "_ID"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z| UTC)?"), "TIMESTAMP"),
)


def normalise(text: str) -> str:
    for pattern, token in _NOISE:
        text = pattern.sub(token, text)
    return text


def published_pages(settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Every page and open-data file published from ``settings``' warehouse (read only), by
    path relative to a temporary dashboards folder, normalised; assets and data docs are
    left out (copied files, and GX's own pages)."""
    from dataclasses import replace

    from flowlib.opendata import write_files
    from flowlib.pipeline import publish_dashboards
    from flowlib.warehouse import reader

    dashboards = Path(tempfile.mkdtemp(prefix="page_snapshot_"))
    settings = replace(settings, dashboards_dir=dashboards)
    try:
        with reader(settings) as con:
            write_files(con, settings, dashboards / "opendata")
        publish_dashboards(None, settings)
        pages = {}
        for path in sorted(dashboards.rglob("*")):
            relative = path.relative_to(dashboards)
            if not path.is_file() or path.suffix not in {".html", ".csv", ".json"}:
                continue
            if relative.parts[0] in {"assets", "data-docs"}:
                continue
            pages[relative.as_posix()] = normalise(path.read_text(encoding="utf-8"))
        return pages
    finally:
        shutil.rmtree(dashboards, ignore_errors=True)


def snapshot(out: Path) -> int:
    from flowlib.config import get_settings

    pages = published_pages(get_settings())
    if out.exists():
        shutil.rmtree(out)
    for relative, text in pages.items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return len(pages)


if __name__ == "__main__":
    # the checkout this script belongs to, unless PYTHONPATH names another one (an installed
    # flowlib may point anywhere)
    if not os.environ.get("PYTHONPATH"):
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if len(sys.argv) != 2:
        sys.exit("usage: page_snapshot.py OUT_FOLDER (with FLOW_WAREHOUSE set)")
    print(f"{snapshot(Path(sys.argv[1]))} files written to {sys.argv[1]}")
