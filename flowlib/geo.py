"""Load and validate the reference geodata in ``geo/`` (facilities, Wi-Fi APs, areas).

The schematic outline (``outline.geojson``) is drawn as it stands by the pages
(flowlib.dashboards.daily); tests/test_geo.py checks it.

Every map, mart and the demo generator joins against these layers, so a broken file must fail
loudly at load time with a message that names the file and the problem, not as a wrong join
three stages later.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import h3
import pandas as pd
from pyogrio.errors import DataLayerError, DataSourceError

from flowlib.config import get_settings

FACILITIES_FILE = "facilities.geojson"
ACCESS_POINTS_FILE = "wifi_access_points.geojson"
AREAS_FILE = "areas.geojson"

#: Everything the project maps lies in Nagasaki City: (min lon, min lat, max lon, max lat).
#: A point outside is a swapped lat/lon or a typo, not a new sight.
NAGASAKI_BBOX = (129.6, 32.5, 130.0, 32.9)
CONFIDENCE_LEVELS = frozenset({"high", "medium", "low"})


class GeoDataError(ValueError):
    """A reference geodata file is missing or inconsistent; the message names file and problem."""


def _geo_dir(geo_dir: Path | str | None) -> Path:
    return Path(geo_dir) if geo_dir is not None else get_settings().geo_dir


def _read_layer(path: Path, columns: list[str], geometry_types: set[str]) -> gpd.GeoDataFrame:
    """Read one GeoJSON layer and apply the checks every layer shares."""
    if not path.is_file():
        raise GeoDataError(f"{path} does not exist; the reference geodata must be in the geo directory.")
    try:
        frame = gpd.read_file(path)
    except (DataSourceError, DataLayerError) as exc:
        raise GeoDataError(f"{path} cannot be read as GeoJSON ({exc}).") from exc
    if frame.empty:
        raise GeoDataError(f"{path} has no features.")
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        raise GeoDataError(f"{path} is in CRS {frame.crs} but must be EPSG:4326 (WGS84 lon/lat).")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise GeoDataError(f"{path} lacks the properties {', '.join(missing)}.")
    wrong_type = frame.geometry.isna() | ~frame.geom_type.isin(geometry_types)
    if wrong_type.any():
        first = frame[wrong_type].iloc[0]
        raise GeoDataError(
            f"{path} feature {first[columns[0]]!r} has geometry type {first.geometry and first.geometry.geom_type} "
            f"but must be one of {', '.join(sorted(geometry_types))}."
        )
    min_lon, min_lat, max_lon, max_lat = NAGASAKI_BBOX
    bounds = frame.geometry.bounds
    outside = (bounds.minx < min_lon) | (bounds.maxx > max_lon) | (bounds.miny < min_lat) | (bounds.maxy > max_lat)
    if outside.any():
        raise GeoDataError(
            f"{path} feature {frame[outside].iloc[0][columns[0]]!r} lies outside the "
            f"Nagasaki bounding box {NAGASAKI_BBOX} (lon/lat swapped or mistyped?)."
        )
    return frame[columns + ["geometry"]].copy()


def _require_unique(frame: pd.DataFrame, column: str, path: Path) -> None:
    duplicated = frame[column][frame[column].duplicated() | frame[column].isna()]
    if not duplicated.empty:
        raise GeoDataError(f"{path} has a missing or repeated {column} {duplicated.iloc[0]!r}.")


def _require_known(frame: pd.DataFrame, column: str, known: set[str], path: Path, nullable: bool = False) -> None:
    values = frame[column].dropna() if nullable else frame[column]
    unknown = values[~values.isin(known)]
    if not unknown.empty:
        raise GeoDataError(f"{path} refers to unknown {column} {unknown.iloc[0]!r}.")


def _with_lat_lon(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frame["lat"] = frame.geometry.y
    frame["lon"] = frame.geometry.x
    return frame


def load_areas(geo_dir: Path | str | None = None) -> gpd.GeoDataFrame:
    """Tourism areas (one polygon each); other layers and marts group facilities by area_id."""
    path = _geo_dir(geo_dir) / AREAS_FILE
    areas = _read_layer(path, ["area_id", "name_ja", "name_en"], {"Polygon", "MultiPolygon"})
    _require_unique(areas, "area_id", path)
    return areas.sort_values("area_id", ignore_index=True)


def load_facilities(geo_dir: Path | str | None = None) -> gpd.GeoDataFrame:
    """Facility points with area, coordinate confidence and harbour-side flag, plus lat/lon columns."""
    directory = _geo_dir(geo_dir)
    path = directory / FACILITIES_FILE
    columns = ["facility_id", "name_ja", "name_en", "area_id", "confidence", "coord_source", "harbour_side"]
    facilities = _read_layer(path, columns, {"Point"})
    _require_unique(facilities, "facility_id", path)
    _require_known(facilities, "area_id", set(load_areas(directory)["area_id"]), path)
    _require_known(facilities, "confidence", set(CONFIDENCE_LEVELS), path)
    if facilities["harbour_side"].dtype != bool:
        raise GeoDataError(f"{path} has a harbour_side that is not true/false on every feature.")
    return _with_lat_lon(facilities).sort_values("facility_id", ignore_index=True)


def load_access_points(geo_dir: Path | str | None = None, h3_resolution: int = 10) -> gpd.GeoDataFrame:
    """Wi-Fi access points with lat/lon and an ``h3_cell`` so Wi-Fi counts can be mapped on H3."""
    directory = _geo_dir(geo_dir)
    path = directory / ACCESS_POINTS_FILE
    access_points = _read_layer(path, ["ap_id", "name_ja", "name_en", "facility_id", "area_id"], {"Point"})
    _require_unique(access_points, "ap_id", path)
    facilities = load_facilities(directory)
    _require_known(access_points, "facility_id", set(facilities["facility_id"]), path, nullable=True)
    _require_known(access_points, "area_id", set(load_areas(directory)["area_id"]), path)
    facility_area = access_points["facility_id"].map(facilities.set_index("facility_id")["area_id"])
    mismatch = facility_area.notna() & facility_area.ne(access_points["area_id"])
    if mismatch.any():
        raise GeoDataError(f"{path} puts {access_points['ap_id'][mismatch].iloc[0]} in another area than its facility.")
    access_points = _with_lat_lon(access_points)
    access_points["h3_cell"] = [
        h3.latlng_to_cell(lat, lon, h3_resolution) for lat, lon in zip(access_points["lat"], access_points["lon"])
    ]
    return access_points.sort_values("ap_id", ignore_index=True)
