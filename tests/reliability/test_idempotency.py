"""Idempotency: rerunning any date, or the whole range, changes nothing but load times.

After the reference run, the night is run again for one day (with every source of that
day force-reloaded, so raw.* is rewritten from the files), for the whole range, and (slow
variant) for the other day alone. Each time every marts table exported as CSV (total order) must be byte-identical,
every table of raw / intermediate / marts / ops.quarantine equal, the city's CSV exports
byte-identical, and the daily pages byte-identical (folium names every element
``<kind>_<uuid4 hex>`` afresh on each render; ``write_page`` numbers them, see
docs/reliability.md).

These reruns happen on the session's reference root; they leave it as it was.
"""

from __future__ import annotations

from datetime import date

import pytest

from bench.reliability.harness import (
    DEMO_DATES,
    FOLIUM_ID,
    build_exports,
    daily_pages,
    export_marts_csv,
    make_settings,
    normalise_folium_ids,
    open_data,
    run_in_process,
    snapshot,
)
from flowlib.ingest import ingest_partition
from flowlib.sources import load_registry


def rerun_and_compare(reference, dates: list[str], force_day: str | None = None, *, rebuild: bool = True) -> None:
    root = reference.root
    if force_day:
        settings = make_settings(root)
        for spec in load_registry(settings).values():
            if spec.is_daily:
                assert ingest_partition(spec, date.fromisoformat(force_day), settings, force=True).outcome == "reloaded"
    run_in_process(root, dates, rebuild=rebuild)
    warehouse = root / "data" / "warehouse.duckdb"
    assert export_marts_csv(warehouse, root / "marts_csv_rerun") == reference.marts_csv
    got = snapshot(warehouse)
    for table, rows in reference.tables.items():
        assert got[table] == rows, f"{table} changed on a rerun of {dates}"
    assert open_data(root) == reference.open_data
    assert {p.name: p.read_bytes() for p in build_exports(root)} == reference.exports
    assert {n: normalise_folium_ids(t) for n, t in daily_pages(root).items()} == reference.pages


@pytest.mark.parametrize(
    "dates,force_day",
    [
        pytest.param([DEMO_DATES[1]], DEMO_DATES[1], id="one-day-force-reloaded"),
        pytest.param(DEMO_DATES, None, id="whole-range"),
        pytest.param([DEMO_DATES[0]], None, id="other-day", marks=pytest.mark.slow),
    ],
)
def test_rerun_gives_byte_identical_marts_exports_and_pages(reference, dates, force_day):
    """Every rerun here builds the marts again (``rebuild``): a night with nothing new skips
    the build (flowlib.build_state), which is right only because a build is idempotent."""
    rerun_and_compare(reference, dates, force_day)


def test_a_rerun_with_nothing_new_skips_the_build_and_leaves_the_same_results(reference, caplog):
    """The night of unchanged files finds the warehouse as the last build of the same days
    left it and builds nothing; everything a reader sees is the same as a rebuild's."""
    import logging

    rerun_and_compare(reference, DEMO_DATES, rebuild=True)  # the last build: of these days
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="flowlib.pipeline"):
        rerun_and_compare(reference, DEMO_DATES, rebuild=False)
    assert any("are up to date" in record.getMessage() for record in caplog.records)
    assert not any(record.getMessage().startswith("building marts") for record in caplog.records)


def test_daily_pages_are_byte_identical_across_renders(reference):
    """folium names every element with a random id; write_page numbers them, so a page
    rendered again from the same marts has the same bytes (checked against the reference
    run's pages, rendered before the reruns above)."""
    pages = daily_pages(reference.root)
    assert pages.keys() == reference.raw_pages.keys()
    for name, page in pages.items():
        assert FOLIUM_ID.search(page), "no element ids at all: the check below would be empty"
        assert page == reference.raw_pages[name], name
        assert FOLIUM_ID.search(page).group(0) == f"{1:032x}"  # numbered in order of appearance
