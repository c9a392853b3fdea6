"""The nightly publication's audit on larger worlds: a backfilled month of demo data (every
week, the month and its day types published together) and the real Kanazawa Wi-Fi stays
of the Hokuriku consortium loaded through sources/examples/hokuriku_stays.yaml."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date

import pytest
from conftest import PROJECT_ROOT, SHARED_REALDATA, require

from .world import build_world


@pytest.mark.slow
def test_a_backfilled_month_is_published_with_nothing_exposed(tmp_path):
    world = build_world(tmp_path / "month", date(2026, 11, 1), date(2026, 11, 30), scale=0.05, with_truth=False)
    assert isinstance(world.publication, dict), world.publication
    assert world.publication["exposed"] == 0 and world.publication["hidden"] > 0
    periods = (world.published / "transitions_by_period.csv").read_text(encoding="utf-8-sig").splitlines()
    assert any(line.startswith("month,2026-11-01,") for line in periods)  # the month itself is audited


@pytest.mark.slow
def test_the_kanazawa_stays_are_published_with_nothing_exposed(tmp_path):
    from bench.reliability.harness import make_settings
    from flowlib.ingest import ingest_partition
    from flowlib.pipeline import build_marts, prepare_warehouse, publish_open_data
    from flowlib.sources import parse_declaration

    from .world import days

    stays = SHARED_REALDATA / "hokuriku_wifi_sensor" / "move_kanazawa"
    require(stays.is_dir(), f"the Hokuriku Wi-Fi sensing sample {stays} is missing")
    settings = replace(make_settings(tmp_path), hmac_key_env="hokuriku-test-key", min_cell_count=10)
    shutil.copytree(stays, settings.landing_dir / "hokuriku" / "move_kanazawa")
    prepare_warehouse(settings)
    result = ingest_partition(parse_declaration(PROJECT_ROOT / "sources" / "examples" / "hokuriku_stays.yaml"), None, settings)
    assert result.outcome == "loaded"
    built = build_marts(days(date(2024, 8, 26), date(2024, 10, 30)), settings)
    assert built["2024-08-26..2024-10-30"]["marts.transitions_daily"] > 0
    publication = publish_open_data(settings)
    assert publication["exposed"] == 0 and publication["hidden"] > 0
