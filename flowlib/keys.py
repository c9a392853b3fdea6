"""One pseudonymisation key across the warehouse: days loaded under different keys never meet.

A card's pseudonym is HMAC(key, card number), so the same visitor gets unrelated pseudonyms
under two keys. Marts that link taps across facilities and days (visitors, circulation,
routes) would silently count one visitor as two if one feed of a day, or one day of a
period, were loaded under another key. Every load records the key's fingerprint
(``flowlib.pseudonym.key_fingerprint``) in ``ops.load_log``; building marts first checks
that every loaded source-day carries the current key's fingerprint and otherwise fails,
naming the days to reload (docs/operations.md, "Rotate the HMAC key").
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import duckdb

from flowlib.config import ConfigError, Settings, get_settings
from flowlib.pseudonym import key_fingerprint

#: Days named per source in the message before it says "and N more".
MAX_LISTED_RANGES = 6


class MixedKeys(ConfigError):
    """Loaded source-days carry pseudonyms made under another key than the current one."""


def partitions_under_other_keys(con: duckdb.DuckDBPyConnection, fingerprint: str) -> dict[str, list[date | None]]:
    """Source -> service days whose latest load used another key (loads from before
    fingerprints were recorded carry none and are not judged)."""
    rows = con.execute(
        """
        with latest as (
            select source, service_date, max(loaded_at) as loaded_at
            from ops.load_log
            where outcome in ('loaded', 'reloaded')
            group by all
        ),
        final as (
            select distinct log.source, log.service_date
            from ops.load_log as log
            inner join latest
                on latest.source = log.source
                and latest.service_date is not distinct from log.service_date
                and latest.loaded_at = log.loaded_at
            where log.outcome in ('loaded', 'reloaded')
              and log.key_fingerprint is not null
              and log.key_fingerprint <> ?
        )
        select * from final order by source, service_date nulls first
        """,
        [fingerprint],
    ).fetchall()
    found: dict[str, list[date | None]] = defaultdict(list)
    for source, day in rows:
        found[source].append(day)
    return dict(found)


def _ranges(days: list[date | None]) -> list[str]:
    """2026-11-01..2026-11-03, 2026-11-05: consecutive days as one range."""
    out: list[str] = []
    dated = [d for d in days if d is not None]
    if len(dated) < len(days):
        out.append("its snapshot")
    start = previous = None
    for day in dated:
        if start is None:
            start = previous = day
        elif day == previous + timedelta(days=1):
            previous = day
        else:
            out.append(start.isoformat() if start == previous else f"{start}..{previous}")
            start = previous = day
    if start is not None:
        out.append(start.isoformat() if start == previous else f"{start}..{previous}")
    return out


def check_one_key(con: duckdb.DuckDBPyConnection, settings: Settings | None = None) -> None:
    """Raise MixedKeys, naming the source-days to reload, unless every loaded source-day
    was pseudonymised under the current FLOW_HMAC_KEY."""
    settings = settings or get_settings()
    fingerprint = key_fingerprint(settings.hmac_key)
    other = partitions_under_other_keys(con, fingerprint)
    if not other:
        return
    parts = []
    for source, days in other.items():
        ranges = _ranges(days)
        shown = ", ".join(ranges[:MAX_LISTED_RANGES]) + (
            f" and {len(ranges) - MAX_LISTED_RANGES} more ranges" if len(ranges) > MAX_LISTED_RANGES else ""
        )
        parts.append(f"{source} {shown}")
    raise MixedKeys(
        f"Marts not built: these source-days were pseudonymised under another key than the current FLOW_HMAC_KEY "
        f"(fingerprint {fingerprint}), so their visitors would not link with the rest: {'; '.join(parts)}. "
        "Reload them under the current key (`python -m flowlib ingest <source> --first ... --last ... --force`, "
        "or the DAG's force_reload param) as docs/operations.md 'Rotate the HMAC key' describes, then build again."
    )
