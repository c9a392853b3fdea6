"""One layer: the dashboards write pages only and read protected marts; the open data is
its own step. Checked on the source, so a later import cannot slip back in."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import PROJECT_ROOT

OPEN_DATA_MODULES = {"flowlib.exports", "flowlib.opendata", "flowlib.disclosure_audit", "flowlib.indicator_mart"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_dashboards_import_nothing_from_the_open_data_code():
    found = {
        path.name: imported_modules(path) & OPEN_DATA_MODULES for path in (PROJECT_ROOT / "flowlib" / "dashboards").glob("*.py")
    }
    assert {name: modules for name, modules in found.items() if modules} == {}


def test_no_suppression_rule_outside_the_protection_layer():
    """The helpers that re-derived suppression after the build are gone."""
    sources = {path: path.read_text(encoding="utf-8") for path in (PROJECT_ROOT / "flowlib").rglob("*.py")}
    assert not [str(path) for path, text in sources.items() if "def protect_segment_total" in text]
    assert "protect_segment_total" not in "".join(sources.values())


def test_the_nightly_dag_publishes_open_data_as_its_own_task_after_the_marts():
    # open data after the marts and the forecast it also publishes; the pages do not wait for
    # the audit (a refused open-data night keeps yesterday's files, the pages still appear),
    # and the final check fails the run when publication failed
    text = (PROJECT_ROOT / "dags" / "nightly_flow.py").read_text(encoding="utf-8")
    assert "marts >> forecast" in text and "forecast >> open_data" in text
    assert "[published, open_data] >> check_feeds" in text
    assert "open_data" not in text.split("[marts, docs, forecast] >> published")[0].split("published = ")[-1]
