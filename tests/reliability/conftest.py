"""Session fixtures of the reliability suite: one demo data set (with planted personal ids)
and one uninterrupted reference run of it, shared by the crash, idempotency and privacy
modules so the expensive run happens once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.reliability.crash import Chain, run_chain
from bench.reliability.harness import (
    DEMO_FIRST,
    DEMO_LAST,
    DEMO_SCALE,
    DEMO_SEED,
    build_dataset,
    build_exports,
    capture_logging,
    clone,
    daily_pages,
    export_marts_csv,
    normalise_folium_ids,
    open_data,
    partitions,
    run_in_process,
    snapshot,
)


@dataclass(frozen=True)
class Reference:
    """An uninterrupted in-process run of the data set: what every other run must equal."""

    root: Path
    tables: dict[str, list[tuple]]
    marts_csv: dict[str, bytes]
    pages: dict[str, str]  # daily pages, folium ids normalised
    raw_pages: dict[str, str]  # daily pages as written
    exports: dict[str, bytes]  # the city's CSV exports (indicator)
    log_text: str  # every Python log record of the run
    partitions: dict[tuple[str, ...], list[tuple]]
    open_data: dict[str, bytes]  # dashboards/exports (CSV, GeoJSON, catalogue)


@pytest.fixture(scope="session")
def demo_landing(tmp_path_factory) -> Path:
    from flowlib.demo import generate

    landing = tmp_path_factory.mktemp("demo") / "landing"
    generate(landing, DEMO_FIRST, DEMO_LAST, seed=DEMO_SEED, scale=DEMO_SCALE)
    return landing


@pytest.fixture(scope="session")
def dataset(tmp_path_factory, demo_landing) -> Path:
    """Landing files (demo + planted ids) and sources; never run on directly: clone it."""
    return build_dataset(tmp_path_factory.mktemp("dataset"), demo_landing)


@pytest.fixture(scope="session")
def reference(tmp_path_factory, dataset) -> Reference:
    root = clone(dataset, tmp_path_factory.mktemp("reference"))
    handler, detach = capture_logging()
    try:
        run_in_process(root)
        tables = snapshot(root / "data" / "warehouse.duckdb")
        parts = partitions(root / "data" / "warehouse.duckdb")
        marts_csv = export_marts_csv(root / "data" / "warehouse.duckdb", root / "marts_csv")
        exports = {p.name: p.read_bytes() for p in build_exports(root)}
    finally:
        detach()
    raw_pages = daily_pages(root)
    return Reference(
        root,
        tables,
        marts_csv,
        {n: normalise_folium_ids(t) for n, t in raw_pages.items()},
        raw_pages,
        exports,
        handler.text,
        parts,
        open_data(root),
    )


@pytest.fixture(scope="session")
def cli_chain(dataset, reference, tmp_path_factory) -> Chain:
    """The real CLI killed during ingest, a mart rebuild and dashboard writing, then rerun."""
    return run_chain(clone(dataset, tmp_path_factory.mktemp("crash")), reference.partitions)
