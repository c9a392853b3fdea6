"""Shared fixtures: every test gets its own data folder, warehouse and dashboards folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowlib.config import Settings, get_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_REALDATA = PROJECT_ROOT.parent / "shared" / "realdata"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip locally when a prerequisite is missing, but fail in CI (never skip there)."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("FLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FLOW_DASHBOARDS_DIR", str(tmp_path / "dashboards"))
    monkeypatch.setenv("FLOW_DEMO_MODE", "true")
    monkeypatch.delenv("FLOW_HMAC_KEY", raising=False)
    monkeypatch.delenv("FLOW_LANDING_DIR", raising=False)
    monkeypatch.delenv("FLOW_WAREHOUSE", raising=False)
    yield get_settings()


@pytest.fixture(scope="session")
def realdata() -> Path:
    require(SHARED_REALDATA.is_dir(), f"the shared real data folder {SHARED_REALDATA} is missing")
    return SHARED_REALDATA
