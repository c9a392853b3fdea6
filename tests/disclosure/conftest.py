"""A published ISO week (Monday 2 to Sunday 8 November 2026, three tenths of the demo's
volume) shared by the disclosure tests: small, but every hierarchy has hidden cells."""

from __future__ import annotations

from datetime import date

import pytest

from .world import World, build_world


@pytest.fixture(scope="session")
def week(tmp_path_factory) -> World:
    return build_world(tmp_path_factory.mktemp("week") / "root", date(2026, 11, 2), date(2026, 11, 8), scale=0.3)
