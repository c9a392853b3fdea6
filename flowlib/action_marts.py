"""The nightly step after the SQL marts that builds the marts for acting on circulation
(issue 14): all-visitor estimates, circulation opportunities and measure effects.

They need statistics libraries (statsmodels, scipy) and read several published marts at
once, so they are Python over the warehouse rather than SQL models; each rebuilds its
tables whole (every day of the warehouse), which keeps reruns byte-identical.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection

import duckdb

from flowlib.config import Settings

log = logging.getLogger(__name__)

#: each step and the folder of ``sql/`` its queries live in (all it reads goes through them)
STEP_QUERIES = {"all_visitors": "expansion", "opportunities": "opportunities", "measures": "measures"}
_RELATION = re.compile(r"\b(marts|intermediate|staging|raw|ref)\.(\w+)")


def step_inputs(step: str) -> set[str]:
    """The relations (``layer.name``) a step's queries name: what it reads. The queries are
    the ones ``flowlib.queries`` runs (the project's ``sql/``, whatever ``Settings.sql_dir``
    points the models at)."""
    from flowlib.queries import SQL_DIR

    found: set[str] = set()
    for path in sorted((SQL_DIR / STEP_QUERIES[step]).glob("*.sql")):
        found |= {f"{layer}.{name}" for layer, name in _RELATION.findall(path.read_text(encoding="utf-8"))}
    return found


def build_action_marts(
    con: duckdb.DuckDBPyConnection, settings: Settings, changed: Collection[str] | None = None
) -> dict[str, int]:
    """Rows per table written; inside the caller's writer connection. With ``changed`` (the
    relations rebuilt since these marts were last built, e.g. by a settlement round), a step
    none of whose inputs changed keeps its rows: it would write the same ones again."""
    from flowlib.expansion import build_all_visitors
    from flowlib.measures import build_measures
    from flowlib.opportunities import build_opportunities
    from flowlib.warehouse import transaction

    steps = {
        "all_visitors": lambda: build_all_visitors(con),
        "opportunities": lambda: build_opportunities(con, settings.min_cell_count),
        "measures": lambda: build_measures(con, settings.project_root / "config" / "measures", settings.min_cell_count),
    }
    built: dict[str, int] = {}
    with transaction(con):
        for step, build in steps.items():
            inputs = step_inputs(step)  # none found: assume it reads everything
            if changed is not None and inputs and not inputs & set(changed):
                log.info("action marts: %s kept (none of its inputs was rebuilt)", step)
                continue
            built.update(build())
    log.info("action marts built: %s", built)
    return built
