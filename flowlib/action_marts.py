"""The nightly step after the SQL marts that builds the marts for acting on circulation
(issue 14): all-visitor estimates, circulation opportunities and measure effects.

They need statistics libraries (statsmodels, scipy) and read several published marts at
once, so they are Python over the warehouse rather than SQL models; each rebuilds its
tables whole (every day of the warehouse), which keeps reruns byte-identical.
"""

from __future__ import annotations

import logging

import duckdb

from flowlib.config import Settings

log = logging.getLogger(__name__)


def build_action_marts(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, int]:
    """Rows per table written; inside the caller's writer connection."""
    from flowlib.expansion import build_all_visitors
    from flowlib.measures import build_measures
    from flowlib.opportunities import build_opportunities
    from flowlib.warehouse import transaction

    built: dict[str, int] = {}
    with transaction(con):
        built.update(build_all_visitors(con))
        built.update(build_opportunities(con, settings.min_cell_count))
        built.update(build_measures(con, settings.project_root / "config" / "measures", settings.min_cell_count))
    log.info("action marts built: %s", built)
    return built
