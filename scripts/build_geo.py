"""Rebuilds geo/*.geojson from ../shared/realdata/nagasaki_facilities.csv and the project's
added facilities, areas and access points. Run after correcting a coordinate:
`.venv/bin/python scripts/build_geo.py` (tests/test_geo.py imports its lists)."""

import csv
import json
import re
from pathlib import Path

import geopandas as gpd
import shapely
from shapely import set_precision
from shapely.geometry import MultiPoint, Point, Polygon, mapping
from shapely.ops import unary_union

OUT = Path(__file__).resolve().parent.parent / "geo"
CSV = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata" / "nagasaki_facilities.csv"
PROJECTED = "EPSG:6669"  # JGD2011 / Japan Plane Rectangular CS I (Nagasaki's zone)
BUFFER_M = 250

HARBOUR_SIDE = {
    "glover_garden",
    "oura_cathedral",
    "dutch_slope",
    "confucius_shrine",
    "dejima",
    "dejima_wharf",
    "shinchi_chinatown",
    "mizubenomori_park",
    "prefectural_art_museum",
    "shikairo",
}
ESTIMATE = "approximate, project estimate; verify against OpenStreetMap before publication"
ADDED = [
    ("sofukuji", "崇福寺", "Sofukuji Temple", 32.7437, 129.8830),
    ("penguin_aquarium", "長崎ペンギン水族館", "Nagasaki Penguin Aquarium", 32.7226, 129.9309),
    ("ropeway_fuchi_shrine", "長崎ロープウェイ淵神社駅", "Nagasaki Ropeway Fuchi Shrine Station", 32.7588, 129.8650),
    ("tokiwa_terminal", "常盤桟橋（軍艦島ツアー）", "Tokiwa Pier (Gunkanjima tours)", 32.7381, 129.8699),
    ("matsugae_cruise_terminal", "松が枝国際ターミナル", "Matsugae International Cruise Terminal", 32.7362, 129.8694),
]
AREAS = {
    "minamiyamate": (
        "南山手",
        "Minamiyamate",
        [
            "glover_garden",
            "oura_cathedral",
            "dutch_slope",
            "confucius_shrine",
            "shikairo",
            "matsugae_cruise_terminal",
            "tokiwa_terminal",
        ],
    ),
    "dejima_chinatown": (
        "出島・中華街",
        "Dejima & Chinatown",
        ["dejima", "shinchi_chinatown", "dejima_wharf", "prefectural_art_museum", "mizubenomori_park"],
    ),
    "nakashimagawa": ("中島川", "Nakashima River", ["megane_bridge", "sofukuji", "suwa_shrine", "history_culture_museum"]),
    "peace_park": ("平和公園", "Peace Park", ["peace_park", "atomic_bomb_museum"]),
    "nagasaki_station": ("長崎駅", "Nagasaki Station", ["nagasaki_station", "twenty_six_martyrs"]),
    "inasayama": ("稲佐山", "Mt. Inasa", ["inasayama_observatory", "ropeway_fuchi_shrine"]),
    "outlying": ("郊外", "Outlying", ["hashima", "penguin_aquarium"]),
}
STREET_APS = [
    ("minamiyamate", "グラバー通り", "Glover Street", "matsugae_cruise_terminal", "oura_cathedral", 0.5),
    ("minamiyamate", "オランダ坂通り", "Dutch Slope street", "confucius_shrine", "dutch_slope", 0.5),
    ("minamiyamate", "大浦海岸通り", "Oura Kaigan Street", "tokiwa_terminal", "dutch_slope", 0.5),
    ("dejima_chinatown", "出島表門橋", "Dejima Omotemon Bridge", "dejima_wharf", "dejima", 0.5),
    ("dejima_chinatown", "新地中華街北門", "Chinatown north gate", "dejima", "shinchi_chinatown", 0.6),
    ("dejima_chinatown", "水辺のプロムナード", "Waterfront promenade", "mizubenomori_park", "prefectural_art_museum", 0.5),
    ("nakashimagawa", "中島川遊歩道", "Nakashima River walk", "megane_bridge", "history_culture_museum", 0.5),
    ("nakashimagawa", "寺町通り", "Teramachi Street", "megane_bridge", "sofukuji", 0.5),
    ("nakashimagawa", "長崎公園通り", "Nagasaki Park street", "history_culture_museum", "suwa_shrine", 0.5),
    ("peace_park", "平和公園南口", "Peace Park south gate", "peace_park", "atomic_bomb_museum", 0.5),
    ("peace_park", "原爆資料館電停前", "Atomic Bomb Museum tram stop", "atomic_bomb_museum", None, (32.7724, 129.8645)),
    ("peace_park", "平和祈念像前広場", "Peace Statue plaza", "peace_park", None, (32.7769, 129.8629)),
    ("nagasaki_station", "西坂公園への坂", "Nishizaka slope", "nagasaki_station", "twenty_six_martyrs", 0.5),
    ("nagasaki_station", "長崎駅前交差点", "Nagasaki Ekimae crossing", "nagasaki_station", None, (32.7519, 129.8703)),
    ("nagasaki_station", "かもめ広場", "Kamome Plaza", "nagasaki_station", None, (32.7521, 129.8676)),
]
# Schematic harbour, hand-drawn (lat, lon), clockwise from the Urakami river mouth.
HARBOUR = [
    (32.7575, 129.8615),
    (32.7560, 129.8630),
    (32.7530, 129.8655),
    (32.7490, 129.8665),
    (32.7460, 129.8670),
    (32.7440, 129.8690),
    (32.7425, 129.8686),
    (32.7410, 129.8675),
    (32.7385, 129.8680),
    (32.7360, 129.8678),
    (32.7340, 129.8670),
    (32.7300, 129.8655),
    (32.7250, 129.8620),
    (32.7200, 129.8560),
    (32.7190, 129.8500),
    (32.7240, 129.8520),
    (32.7300, 129.8545),
    (32.7360, 129.8560),
    (32.7420, 129.8570),
    (32.7480, 129.8585),
    (32.7530, 129.8600),
]


def r6(x: float) -> float:
    return round(x, 6)


def dump(path: Path, features: list[dict]) -> None:
    text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False, indent=2)
    text = re.sub(r"\[\s+(-?[\d.]+),\s+(-?[\d.]+)\s+\]", r"[\1, \2]", text)
    path.write_text(text + "\n", encoding="utf-8")


def rounded(geom):
    return set_precision(geom, 1e-6)


def access_point(ap_id: str, name_ja: str, name_en: str, facility_id: str | None, area_id: str, lon: float, lat: float) -> dict:
    """An access point, named after the facility or street it covers."""
    return {
        "ap_id": ap_id,
        "name_ja": f"{name_ja} Wi-Fi",
        "name_en": f"{name_en} Wi-Fi",
        "facility_id": facility_id,
        "area_id": area_id,
        "lon": lon,
        "lat": lat,
    }


def main() -> None:
    rows = list(csv.DictReader(CSV.open(encoding="utf-8")))
    area_of = {f: a for a, (_, _, members) in AREAS.items() for f in members}
    facilities = []
    for r in rows:
        facilities.append(
            dict(
                facility_id=r["facility_id"],
                name_ja=r["name_ja"],
                name_en=r["name_en"],
                lat=float(r["lat"]),
                lon=float(r["lon"]),
                confidence=r["confidence"],
                coord_source=r["source"],
            )
        )
    for fid, ja, en, lat, lon in ADDED:
        facilities.append(
            dict(facility_id=fid, name_ja=ja, name_en=en, lat=lat, lon=lon, confidence="low", coord_source=ESTIMATE)
        )
    facilities.sort(key=lambda f: f["facility_id"])
    assert len(facilities) == 24 and set(area_of) == {f["facility_id"] for f in facilities}
    pos = {f["facility_id"]: (f["lon"], f["lat"]) for f in facilities}

    pts = gpd.GeoSeries([Point(pos[f]) for f in pos], index=list(pos), crs="EPSG:4326").to_crs(PROJECTED)
    area_geoms = {}
    for area_id, (_, _, members) in AREAS.items():
        if area_id == "outlying":
            # Hashima and the aquarium are 20 km apart across the sea: a hull would be meaningless.
            g = unary_union([pts[m].buffer(BUFFER_M, 16) for m in members])
        else:
            g = MultiPoint([pts[m] for m in members]).convex_hull.buffer(BUFFER_M, 16)
        area_geoms[area_id] = g
    # Clip each hull to the Voronoi cells of its own members so that areas never overlap.
    cells = shapely.voronoi_polygons(MultiPoint(list(pts)), extend_to=unary_union(list(area_geoms.values())).buffer(1000))
    cell_of = {}
    for fid, p in pts.items():
        cell_of[fid] = next(c for c in cells.geoms if c.covers(p))
    for area_id, (_, _, members) in AREAS.items():
        area_geoms[area_id] = area_geoms[area_id].intersection(unary_union([cell_of[m] for m in members]))
    area_4326 = gpd.GeoSeries(list(area_geoms.values()), index=list(area_geoms), crs=PROJECTED).to_crs("EPSG:4326")
    area_4326 = area_4326.simplify(0.00002).apply(rounded)
    # Simplifying each polygon alone leaves slivers on shared edges: cut them off on the grid.
    order = sorted(area_4326.index)
    for i, a in enumerate(order):
        for b in order[i + 1 :]:
            area_4326[b] = shapely.difference(area_4326[b], area_4326[a], grid_size=1e-6)
    area_4326 = area_4326.apply(lambda g: shapely.from_wkt(shapely.to_wkt(g, rounding_precision=6)))
    for a in area_4326.index:
        for b in area_4326.index:
            assert a == b or area_4326[a].intersection(area_4326[b]).area < 1e-11, (
                a,
                b,
                area_4326[a].intersection(area_4326[b]).area,
            )
        assert area_4326[a].is_valid
    # checks: each facility in exactly its area
    for fid, (lon, lat) in pos.items():
        hits = [a for a, g in area_4326.items() if g.covers(Point(lon, lat))]
        assert hits == [area_of[fid]], (fid, hits)

    area_features = []
    for area_id in sorted(AREAS):
        ja, en, _ = AREAS[area_id]
        area_features.append(
            {
                "type": "Feature",
                "properties": {"area_id": area_id, "name_ja": ja, "name_en": en},
                "geometry": mapping(area_4326[area_id]),
            }
        )
    dump(OUT / "areas.geojson", area_features)

    fac_features = []
    for f in facilities:
        fac_features.append(
            {
                "type": "Feature",
                "properties": {
                    "facility_id": f["facility_id"],
                    "name_ja": f["name_ja"],
                    "name_en": f["name_en"],
                    "area_id": area_of[f["facility_id"]],
                    "confidence": f["confidence"],
                    "coord_source": f["coord_source"],
                    "harbour_side": f["facility_id"] in HARBOUR_SIDE,
                },
                "geometry": {"type": "Point", "coordinates": [f["lon"], f["lat"]]},
            }
        )
    dump(OUT / "facilities.geojson", fac_features)

    harbour = Polygon([(lon, lat) for lat, lon in HARBOUR])
    assert harbour.is_valid
    aps = []
    for f in facilities:
        fid = f["facility_id"]
        aps.append(access_point(f"AP-{fid}", f["name_ja"], f["name_en"], fid, area_of[fid], f["lon"], f["lat"]))
    counter: dict[str, int] = {}
    for area_id, ja, en, a, b, t in STREET_APS:
        counter[area_id] = counter.get(area_id, 0) + 1
        if b is None:
            lat, lon = t
        else:
            (alon, alat), (blon, blat) = pos[a], pos[b]
            lon, lat = alon + (blon - alon) * t, alat + (blat - alat) * t
        lon, lat = r6(lon), r6(lat)
        p = Point(lon, lat)
        hits = [x for x, g in area_4326.items() if g.covers(p)]
        assert hits == [area_id], (ja, hits)
        assert not harbour.covers(p), ja
        aps.append(access_point(f"AP-ST-{area_id}-{counter[area_id]}", ja, en, None, area_id, lon, lat))
    aps.sort(key=lambda a: a["ap_id"])
    for fid, (lon, lat) in pos.items():
        assert not harbour.covers(Point(lon, lat)), fid
    dump(
        OUT / "wifi_access_points.geojson",
        [
            {
                "type": "Feature",
                "properties": {k: a[k] for k in ("ap_id", "name_ja", "name_en", "facility_id", "area_id")},
                "geometry": {"type": "Point", "coordinates": [a["lon"], a["lat"]]},
            }
            for a in aps
        ],
    )

    central = unary_union([g for a, g in area_geoms.items() if a != "outlying"])
    urban = gpd.GeoSeries([central.buffer(400).convex_hull], crs=PROJECTED).to_crs("EPSG:4326").iloc[0]
    urban = urban.simplify(0.0003).difference(harbour)
    urban = rounded(urban)
    harbour_r = rounded(harbour)
    for a, g in area_4326.items():
        if a != "outlying":
            assert urban.union(harbour_r).buffer(1e-9).covers(g), a
    dump(
        OUT / "outline.geojson",
        [
            {
                "type": "Feature",
                "properties": {"kind": "harbour", "name_en": "Nagasaki Harbour (schematic)", "name_ja": "長崎港（模式図）"},
                "geometry": mapping(harbour_r),
            },
            {
                "type": "Feature",
                "properties": {"kind": "urban", "name_en": "Central Nagasaki (schematic)", "name_ja": "長崎市中心部（模式図）"},
                "geometry": mapping(urban),
            },
        ],
    )
    print(urban.geom_type, len(aps))


if __name__ == "__main__":
    main()
