"""The index's data-quality figures that the Great Expectations report cannot show: how much
of each Wi-Fi sensor feed the resident-device rule takes out.

A device seen on FLOW_SENSOR_RESIDENT_MIN_DAYS of the last FLOW_SENSOR_RESIDENT_WINDOW_DAYS
service days is resident (staff, fixed equipment) and its stays are left out of every
visitor figure. On the real Kanazawa stays the rule flags 73 % of them, so its share is shown
per source and day, beside the setting that switches it off (FLOW_RESIDENT_DEVICE_RULE).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from flowlib.config import Settings
from flowlib.dashboards.page_sql import page_rows, table_exists

#: How many of the latest sensor days the index lists.
RESIDENT_SHARE_DAYS = 14


@dataclass(frozen=True)
class ResidentShare:
    """The resident-device rule's reach on one sensor source's day."""

    source: str
    service_date: date
    stays: int
    resident_stays: int
    devices: int
    resident_devices: int

    @property
    def share(self) -> float:
        return self.resident_stays / self.stays if self.stays else 0.0


def load_resident_shares(
    con: duckdb.DuckDBPyConnection, settings: Settings, days: int = RESIDENT_SHARE_DAYS
) -> list[ResidentShare]:
    """Per source and day (latest first) over the latest ``days`` sensor days; empty before
    any sensor stay was built."""
    if not (table_exists(con, "intermediate.int_sensor_stays") and table_exists(con, "raw.wifi_sensor")):
        return []
    return [
        ResidentShare(
            row["source"],
            row["service_date"],
            int(row["stays"]),
            int(row["resident_stays"]),
            int(row["devices"]),
            int(row["resident_devices"]),
        )
        for row in page_rows(con, "resident_device_share", days=days)
    ]


def resident_share_view(shares: list[ResidentShare], settings: Settings) -> dict[str, Any] | None:
    """The index's table; counts below k are withheld like every other published count."""
    if not shares:
        return None
    k = settings.min_cell_count
    rows = []
    for share in shares:
        # The share and the total give the resident stays back (share x stays), and the total
        # minus the visitors' stays the sensor marts publish gives them too: all three are shown
        # only when both parts are publishable (0 or at least k), like a margin's parts.
        visitor_stays = share.stays - share.resident_stays
        shown = all(part == 0 or part >= k for part in (share.resident_stays, visitor_stays)) and share.stays >= k
        rows.append(
            {
                "source": share.source,
                "date": share.service_date.isoformat(),
                "stays": f"{share.stays:,}" if shown else f"<{k}" if share.stays < k else "—",
                "resident_stays": f"{share.resident_stays:,}" if shown else f"<{k}" if share.resident_stays < k else "—",
                "share": f"{share.share * 100:.1f}%" if shown else "—",
                "share_value": round(share.share * 100, 1) if shown else None,
            }
        )
    return {
        "rule_on": settings.resident_device_rule,
        "min_days": settings.sensor_resident_min_days,
        "window_days": settings.sensor_resident_window_days,
        "rows": rows,
    }
