"""Reference data: facilities, access points and areas from ``geo/`` into schema ``ref``.

The marts join on these tables (which area an access point is in, which facility ids
exist), so they are reloaded whole each night from the GeoJSON that is kept in the repo.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from flowlib import geo
from flowlib.config import Settings, get_settings
from flowlib.warehouse import transaction


def reference_frames(settings: Settings | None = None) -> dict[str, pd.DataFrame]:
    settings = settings or get_settings()
    facilities = geo.load_facilities(settings.geo_dir)
    access_points = geo.load_access_points(settings.geo_dir)
    areas = geo.load_areas(settings.geo_dir)
    facility_frame = pd.DataFrame(
        {
            "facility_id": facilities["facility_id"],
            "name_ja": facilities["name_ja"],
            "name_en": facilities["name_en"],
            "area_id": facilities["area_id"],
            "lat": facilities.geometry.y.round(7),
            "lon": facilities.geometry.x.round(7),
            "confidence": facilities["confidence"],
            "harbour_side": facilities["harbour_side"].astype(bool),
        }
    )
    ap_frame = pd.DataFrame(
        {
            "ap_id": access_points["ap_id"],
            "facility_id": access_points["facility_id"],
            "area_id": access_points["area_id"],
            "lat": access_points.geometry.y.round(7),
            "lon": access_points.geometry.x.round(7),
            "h3_cell": access_points["h3_cell"],
        }
    )
    area_frame = pd.DataFrame({"area_id": areas["area_id"], "name_ja": areas["name_ja"], "name_en": areas["name_en"]})
    return {"facilities": facility_frame, "wifi_access_points": ap_frame, "areas": area_frame}


def load_reference(con: duckdb.DuckDBPyConnection, settings: Settings | None = None) -> dict[str, int]:
    """Replace the ref tables in one transaction; returns row counts per table."""
    frames = reference_frames(settings)
    with transaction(con):
        for name, frame in frames.items():
            con.register("incoming_reference", frame)
            con.execute(f"create or replace table ref.{name} as select * from incoming_reference order by 1")
            con.unregister("incoming_reference")
    return {name: len(frame) for name, frame in frames.items()}
