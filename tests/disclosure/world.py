"""Small demo worlds for the disclosure tests: landing files → warehouse → marts → open
data, in a throw-away root, plus the same marts and files with k = 1 (the truth)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from bench.reliability.harness import make_settings


@dataclass(frozen=True)
class World:
    root: Path
    truth_root: Path
    dates: list[str]
    k: int
    #: the nightly publication step's outcome: its summary, or the DisclosureError text
    publication: dict | str

    @property
    def published(self) -> Path:
        return self.root / "dashboards" / "exports"

    @property
    def truth(self) -> Path:
        return self.truth_root / "dashboards" / "exports"

    @property
    def warehouse(self) -> Path:
        return self.root / "data" / "warehouse.duckdb"


def days(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def build_world(root: Path, first: date, last: date, *, scale: float, seed: int = 7, with_truth: bool = True) -> World:
    from flowlib.demo import generate
    from flowlib.opendata import DisclosureError, write_files
    from flowlib.pipeline import build_marts, ingest_source, prepare_warehouse, publish_open_data
    from flowlib.sources import load_registry
    from flowlib.warehouse import reader

    generate(root / "data" / "landing", first, last, seed=seed, scale=scale)
    settings = make_settings(root)
    dates = days(first, last)
    prepare_warehouse(settings)
    for name in load_registry(settings):
        ingest_source(name, dates, settings)
    truth_root = root.parent / f"{root.name}-truth"
    if with_truth:
        (truth_root / "data").mkdir(parents=True)
        shutil.copy2(settings.warehouse_path, truth_root / "data" / "warehouse.duckdb")
    build_marts(dates, settings)
    try:
        publication: dict | str = publish_open_data(settings)
    except DisclosureError as exc:
        publication = str(exc)
    if with_truth:
        # the truth: every cell published (k = 1), written without the audit
        truth = replace(make_settings(truth_root), min_cell_count=1)
        build_marts(dates, truth)
        folder = truth.dashboards_dir / "exports"
        folder.mkdir(parents=True)
        with reader(truth) as con:
            write_files(con, truth, folder)
    return World(root, truth_root, dates, settings.min_cell_count, publication)
