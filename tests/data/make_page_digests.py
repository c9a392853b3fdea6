"""Freeze the pages and open-data files the demo fortnight publishes (run for a deliberate change).

Builds the demo fortnight as tests/test_route_equivalence.py does, publishes its pages and
open data into a temporary folder, normalises them (scripts/page_snapshot.py) and writes the
sha256 of each to tests/data/reference_outputs/pages.json, which that test compares with.
Run it only when a page or file is meant to change, and say what changed in the commit::

    .venv/bin/python tests/data/make_page_digests.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from test_route_equivalence import DEMO_KEY, PAGE_DIGESTS, build, load_demo_taps, page_digests, settings_for  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="page-digests-") as scratch:
        root = Path(scratch)
        days, load = load_demo_taps(root / "landing")
        settings = settings_for(root, DEMO_KEY)
        build(settings, days[0], days[-1], load)
        digests = page_digests(settings)
    PAGE_DIGESTS.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(digests)} files written to {PAGE_DIGESTS}")


if __name__ == "__main__":
    main()
