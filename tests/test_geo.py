"""The reference geodata in geo/ is consistent, and broken copies fail with clear errors."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
from pathlib import Path

import geopandas as gpd
import h3
import pytest
from shapely.geometry import Point

from flowlib import geo
from flowlib.config import PROJECT_ROOT

GEO_DIR = PROJECT_ROOT / "geo"
SHARED_FACILITIES = Path("/work/shared/realdata/nagasaki_facilities.csv")


def _build_script():
    """scripts/build_geo.py, which made geo/: the lists the layers must carry come from it."""
    spec = importlib.util.spec_from_file_location("build_geo", PROJECT_ROOT / "scripts" / "build_geo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD_GEO = _build_script()
HARBOUR_SIDE = BUILD_GEO.HARBOUR_SIDE
ADDED = {row[0] for row in BUILD_GEO.ADDED}


@pytest.fixture(scope="module")
def facilities():
    return geo.load_facilities(GEO_DIR)


@pytest.fixture(scope="module")
def areas():
    return geo.load_areas(GEO_DIR)


@pytest.fixture(scope="module")
def access_points():
    return geo.load_access_points(GEO_DIR)


def load_outline(geo_dir: Path) -> gpd.GeoDataFrame:
    """The schematic outline the pages draw: polygons of kind urban or harbour."""
    outline = gpd.read_file(geo_dir / "outline.geojson")
    assert set(outline["kind"]) == {"urban", "harbour"}
    assert set(outline.geom_type) <= {"Polygon", "MultiPolygon"}
    return outline


def test_all_layers_load_in_wgs84(facilities, areas, access_points):
    outline = load_outline(GEO_DIR)
    for layer in (facilities, areas, access_points, outline):
        assert layer.crs.to_epsg() == 4326
        assert len(layer) > 0
    assert len(facilities) == 24
    assert set(areas["area_id"]) == {
        "minamiyamate",
        "dejima_chinatown",
        "nakashimagawa",
        "peace_park",
        "nagasaki_station",
        "inasayama",
        "outlying",
    }
    assert set(outline["kind"]) == {"urban", "harbour"}


def test_ids_are_unique(facilities, areas, access_points):
    assert facilities["facility_id"].is_unique
    assert areas["area_id"].is_unique
    assert access_points["ap_id"].is_unique


def test_every_facility_lies_in_its_own_area_only(facilities, areas):
    for row in facilities.itertuples():
        containing = [a.area_id for a in areas.itertuples() if a.geometry.covers(row.geometry)]
        assert containing == [row.area_id], row.facility_id


def test_areas_do_not_overlap(areas):
    for first in areas.itertuples():
        for second in areas.itertuples():
            if first.area_id < second.area_id:
                assert first.geometry.intersection(second.geometry).area < 1e-12, (first.area_id, second.area_id)


@pytest.mark.skipif(not SHARED_FACILITIES.exists(), reason="shared real-data folder not mounted")
def test_shared_rows_are_carried_exactly(facilities):
    by_id = facilities.set_index("facility_id")
    with SHARED_FACILITIES.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 19
    for row in rows:
        ours = by_id.loc[row["facility_id"]]
        assert ours["confidence"] == row["confidence"], row["facility_id"]
        assert ours["coord_source"] == row["source"], row["facility_id"]
        assert (ours["name_ja"], ours["name_en"]) == (row["name_ja"], row["name_en"])
        assert ours["lat"] == pytest.approx(float(row["lat"]), abs=1e-9)
        assert ours["lon"] == pytest.approx(float(row["lon"]), abs=1e-9)


def test_added_facilities_are_flagged_as_estimates(facilities):
    added = facilities[facilities["facility_id"].isin(ADDED)]
    assert set(added["facility_id"]) == ADDED
    assert (added["confidence"] == "low").all()
    assert added["coord_source"].str.contains("verify against OpenStreetMap").all()


def test_harbour_side_flags(facilities):
    assert set(facilities.loc[facilities["harbour_side"], "facility_id"]) == HARBOUR_SIDE


def test_access_points_map_to_facilities_and_areas(facilities, areas, access_points):
    facility_area = dict(zip(facilities["facility_id"], facilities["area_id"]))
    area_shape = dict(zip(areas["area_id"], areas.geometry))
    at_facility = access_points[access_points["facility_id"].notna()]
    assert sorted(at_facility["facility_id"]) == sorted(facilities["facility_id"])
    assert (at_facility["ap_id"] == "AP-" + at_facility["facility_id"]).all()
    for row in access_points.itertuples():
        assert area_shape[row.area_id].covers(row.geometry), row.ap_id
        if isinstance(row.facility_id, str):
            assert facility_area[row.facility_id] == row.area_id
        assert h3.is_valid_cell(row.h3_cell) and h3.get_resolution(row.h3_cell) == 10
        assert h3.latlng_to_cell(row.lat, row.lon, 10) == row.h3_cell
    street = access_points[access_points["facility_id"].isna()]
    assert street["ap_id"].str.match(r"^AP-ST-[a-z_]+-\d$").all()
    central = {"minamiyamate", "dejima_chinatown", "nakashimagawa", "peace_park", "nagasaki_station"}
    assert set(street["area_id"]) == central
    assert 35 <= len(access_points) <= 45


def test_outline_gives_context_for_the_central_areas(facilities):
    outline = load_outline(GEO_DIR).set_index("kind")
    land, harbour = outline.geometry["urban"], outline.geometry["harbour"]
    for row in facilities[facilities["area_id"] != "outlying"].itertuples():
        assert land.covers(row.geometry), row.facility_id
        assert not harbour.covers(row.geometry), row.facility_id


def test_default_directory_comes_from_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("FLOW_GEO_DIR", str(tmp_path))
    with pytest.raises(geo.GeoDataError, match=str(tmp_path / "areas.geojson")):
        geo.load_areas()


def _edit_features(path: Path, edit) -> None:
    collection = json.loads(path.read_text(encoding="utf-8"))
    edit(collection)
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")


def _duplicate_first(collection: dict) -> None:
    collection["features"].append(collection["features"][0])


def _unknown_area(collection: dict) -> None:
    collection["features"][0]["properties"]["area_id"] = "atlantis"


def _swap_lat_lon(collection: dict) -> None:
    lon, lat = collection["features"][0]["geometry"]["coordinates"]
    collection["features"][0]["geometry"]["coordinates"] = [lat, lon]


def _declare_projected_crs(collection: dict) -> None:
    collection["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::6669"}}


def _bad_confidence(collection: dict) -> None:
    collection["features"][0]["properties"]["confidence"] = "certain"


@pytest.mark.parametrize(
    ("file_name", "edit", "problem"),
    [
        ("facilities.geojson", _duplicate_first, "repeated facility_id"),
        ("facilities.geojson", _unknown_area, "unknown area_id 'atlantis'"),
        ("facilities.geojson", _swap_lat_lon, "outside the Nagasaki bounding box"),
        ("facilities.geojson", _declare_projected_crs, "must be EPSG:4326"),
        ("facilities.geojson", _bad_confidence, "unknown confidence 'certain'"),
    ],
)
def test_broken_facilities_file_is_named_in_the_error(tmp_path, file_name, edit, problem):
    shutil.copytree(GEO_DIR, tmp_path, dirs_exist_ok=True)
    _edit_features(tmp_path / file_name, edit)
    with pytest.raises(geo.GeoDataError, match=problem) as error:
        geo.load_facilities(tmp_path)
    assert file_name in str(error.value)


def test_access_point_with_unknown_facility_is_rejected(tmp_path):
    shutil.copytree(GEO_DIR, tmp_path, dirs_exist_ok=True)

    def rename_facility(collection: dict) -> None:
        first = next(f for f in collection["features"] if f["properties"]["facility_id"])
        first["properties"]["facility_id"] = "tokyo_tower"

    _edit_features(tmp_path / "wifi_access_points.geojson", rename_facility)
    problem = r"wifi_access_points\.geojson refers to unknown facility_id 'tokyo_tower'"
    with pytest.raises(geo.GeoDataError, match=problem):
        geo.load_access_points(tmp_path)


def test_unreadable_and_missing_files_are_reported(tmp_path):
    shutil.copytree(GEO_DIR, tmp_path, dirs_exist_ok=True)
    (tmp_path / "areas.geojson").write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(geo.GeoDataError, match=r"areas\.geojson cannot be read as GeoJSON"):
        geo.load_areas(tmp_path)
    (tmp_path / "areas.geojson").unlink()
    with pytest.raises(geo.GeoDataError, match=r"areas\.geojson does not exist"):
        geo.load_areas(tmp_path)


def test_point_layer_with_polygon_is_rejected(tmp_path):
    shutil.copytree(GEO_DIR, tmp_path, dirs_exist_ok=True)

    def polygon_instead_of_point(collection: dict) -> None:
        lon, lat = collection["features"][0]["geometry"]["coordinates"]
        ring = [list(c) for c in Point(lon, lat).buffer(0.001).exterior.coords]
        collection["features"][0]["geometry"] = {"type": "Polygon", "coordinates": [ring]}

    _edit_features(tmp_path / "facilities.geojson", polygon_instead_of_point)
    problem = r"facilities\.geojson feature 'atomic_bomb_museum' has geometry type Polygon"
    with pytest.raises(geo.GeoDataError, match=problem):
        geo.load_facilities(tmp_path)
