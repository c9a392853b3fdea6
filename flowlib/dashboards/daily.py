"""One map page: a service day, an ISO week or a month, drawn the same way.

Heat maps, facilities, flows, legend and side panel (circulation, comparisons, the
satisfaction indicator, top routes). :func:`render_map_page` draws any
:class:`~flowlib.dashboards.page_data.DayData`, loaded for a day or for a period
(:mod:`flowlib.dashboards.loaders`).

Staff open these pages every morning on LGWAN, where tile servers may be unreachable:
the bundled outline and tourism areas keep the map readable with no tiles at all.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
from folium import plugins

from flowlib.assets import OWN_CSS, OWN_JS, localize_folium_links
from flowlib.dashboards.feeds import feeds_view
from flowlib.dashboards.page_data import SENSOR_SOURCE_KIND, SOURCE_KIND_LABELS, DayData, FacilityDay, Flow, Route
from flowlib.dashboards.panels import comparison_view, fmt_int, fmt_share, indicator_view, segment_rows
from flowlib.dashboards.periods import date_labels
from flowlib.dashboards.publish import RawHtml, bilingual, esc, render_template

log = logging.getLogger(__name__)

GSI_TILES = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
GSI_ATTRIBUTION = '<a href="https://maps.gsi.go.jp/development/ichiran.html">地理院タイル</a>'
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
#: Hosts of the tile URL templates above: the only remote requests a page may make.
TILE_HOSTS = ("cyberjapandata.gsi.go.jp", "tile.openstreetmap.org")

NAGASAKI_CENTRE = (32.7503, 129.8777)
#: Choices of the minimum-flow filter; the first (0) means every published flow (>= k).
FLOW_MIN_THRESHOLDS = (10, 50, 100)
FACILITY_COLOR = "#1f6feb"
SUPPRESSED_COLOR = "#777777"
#: A facility whose feed is missing that day: an outline, no size (there is no figure).
INCOMPLETE_COLOR = "#b42318"
FLOW_COLOR = "#d9480f"
#: Flows measured by Wi-Fi sensors: another colour and a dash, so they are never read as card taps.
SENSOR_FLOW_COLOR = "#6741d9"
SENSOR_FLOW_DASH = "8 6"
#: GeoJSON from geo/ is rounded to ~1 m and simplified past this size.
MAX_GEOJSON_CHARS = 600_000

LAYER_LABELS: dict[str, tuple[str, str]] = {
    "gsi": ("地理院タイル", "GSI tiles"),
    "osm": ("OpenStreetMap", "OpenStreetMap"),
    "outline": ("輪郭（タイルなしでも表示）", "Outline (works without tiles)"),
    "areas": ("観光エリア", "Tourism areas"),
    "heat_hourly": ("Wi-Fi 混雑（時間別）", "Wi-Fi density by hour"),
    "heat_day": ("Wi-Fi 混雑（終日）", "Wi-Fi density, whole day"),
    "flows": ("人の流れ", "Visitor flows"),
    "facilities": ("施設", "Facilities"),
}
#: Period pages sum the Wi-Fi connections of the period's days per cell and clock hour.
PERIOD_LAYER_LABELS: dict[str, tuple[str, str]] = {
    **LAYER_LABELS,
    "heat_hourly": ("Wi-Fi 混雑（時間帯別・期間合計）", "Wi-Fi density by hour, period total"),
    "heat_day": ("Wi-Fi 混雑（期間合計）", "Wi-Fi density, whole period"),
}

__all__ = ["date_labels", "fmt_int", "fmt_share", "render_map_page"]


def layer_name(key: str, period: bool = False) -> str:
    return bilingual(*(PERIOD_LAYER_LABELS if period else LAYER_LABELS)[key])


# ---------------------------------------------------------------- reference geometry


def _round_coordinates(value: Any) -> Any:
    """GeoJSON with coordinates rounded to ~1 m (tuples from shapely become lists)."""
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, (list, tuple)):
        return [_round_coordinates(item) for item in value]
    if isinstance(value, dict):
        return {key: _round_coordinates(item) for key, item in value.items()}
    return value


def _simplified(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Simplify polygons until the layer is small enough to embed in every page."""
    from shapely.geometry import mapping, shape

    tolerance = 0.0001
    while len(json.dumps(features)) > MAX_GEOJSON_CHARS and tolerance < 0.05:
        features = [
            {**feature, "geometry": _round_coordinates(mapping(shape(feature["geometry"]).simplify(tolerance)))}
            for feature in features
        ]
        tolerance *= 2
    return features


def load_reference_geojson(path: Path) -> dict[str, Any] | None:
    """A geo/*.geojson layer reduced to geometry, an escaped bilingual ``label`` and ``kind``.

    Missing files are logged, not fatal: the page still has facilities and flows.
    """
    if not path.is_file():
        log.warning("%s not found; the page is drawn without it", path)
        return None
    collection = json.loads(path.read_text(encoding="utf-8"))
    features = []
    for feature in collection.get("features", []):
        if not feature.get("geometry"):
            continue
        properties = feature.get("properties") or {}
        ja = properties.get("name_ja") or properties.get("area_id") or ""
        en = properties.get("name_en") or ja
        features.append(
            {
                "type": "Feature",
                "geometry": _round_coordinates(feature["geometry"]),
                "properties": {"label": bilingual(ja, en) if ja else "", "kind": esc(properties.get("kind", ""))},
            }
        )
    if not features:
        return None
    return {"type": "FeatureCollection", "features": _simplified(features)}


# ---------------------------------------------------------------- map layers


def circle_radius(entries: int, max_entries: int) -> float:
    """Marker radius in pixels; area (not radius) grows with entries."""
    if max_entries <= 0:
        return 6.0
    return round(6.0 + 22.0 * math.sqrt(entries / max_entries), 1)


def suppressed_text(k: int) -> str:
    return esc(f"秘匿 / suppressed (<{k})")


def withheld_text() -> str:
    return bilingual(
        "入場数は非公表（期間内に秘匿の日があるため）",
        "Entries withheld (a day of the period is suppressed)",
    )


def _split_row(label_ja: str, label_en: str, value: int | None, total: int | None) -> str:
    share = f" ({value / total * 100:.0f}%)" if value is not None and total else ""
    return f'<tr><td>{bilingual(label_ja, label_en)}</td><td class="num">{esc(fmt_int(value))}{esc(share)}</td></tr>'


def facility_popup(day: DayData, facility_day: FacilityDay, k: int) -> str:
    """Popup HTML: names, counts, domestic/international split and likely next stops."""
    facility = facility_day.facility
    parts = [
        f'<div class="facility-popup" data-facility-id="{esc(facility.facility_id)}">',
        f"<h3>{bilingual(facility.name_ja, facility.name_en)}</h3>",
    ]
    if day.feeds and day.feeds.gaps_of(facility.facility_id):
        parts.append(
            f'<p class="coverage-warning facility-incomplete">'
            f"{bilingual('データ欠損のため不完全: ', 'Incomplete, missing data: ')}"
            f"{esc(_missing_text(day, facility.facility_id))}</p>"
        )
    if facility_day.is_suppressed:
        parts.append(f'<p class="suppressed">{suppressed_text(k)}</p>')
    else:
        visitors = facility_day.visitors
        parts.append("<table>")
        parts.append(_split_row("入場数", "Entries", facility_day.entries, None))
        parts.append(_split_row("来訪者", "Visitors", visitors, None))
        parts.append(_split_row("国内", "Domestic", facility_day.domestic_visitors, visitors))
        parts.append(_split_row("海外", "International", facility_day.international_visitors, visitors))
        if facility_day.unknown_visitors:
            parts.append(_split_row("不明", "Unknown", facility_day.unknown_visitors, visitors))
        parts.append("</table>")
        if facility_day.entries is None:
            parts.append(f'<p class="flow-note">{withheld_text()}</p>')
    next_stops = day.next_destinations(facility.facility_id)
    if next_stops:
        parts.append(f"<div><strong>{bilingual('次の行き先（上位3）', 'Next stops (top 3)')}</strong><ol>")
        for flow in next_stops:
            target = day.facility(flow.to_id)
            parts.append(f"<li>{bilingual(target.name_ja, target.name_en)} {esc(fmt_share(flow.next_probability))}</li>")
        parts.append("</ol></div>")
    promote = day.promote.get(facility.facility_id)
    if promote:  # issue 14: close but under-connected sights (flowlib.opportunities)
        parts.append(
            f'<div class="promote"><strong>{bilingual("この施設の来訪者に勧めたい施設", "Promote to this facility’s visitors")}</strong><ol>'
        )
        for target_id, tier in promote[:3]:
            target = day.facility(target_id)
            note = bilingual("（要観察）", " (watch)") if tier == "watch" else ""
            parts.append(f"<li>{bilingual(target.name_ja, target.name_en)}{note}</li>")
        parts.append(f'</ol><a href="../action/opportunities.html">{bilingual("詳しく", "Details")}</a></div>')
    parts.append("</div>")
    return "".join(parts)


def _missing_text(day: DayData, facility_id: str) -> str:
    return ", ".join(
        f"{source} {service_date.isoformat()} ({status})"
        for gap in (day.feeds.gaps_of(facility_id) if day.feeds else [])
        for source, service_date, status in gap.feeds
    )


def incomplete_popup(day: DayData, facility_id: str) -> str:
    """A facility with no figures because its feed is missing: say so instead of nothing."""
    facility = day.facility(facility_id)
    return (
        f'<div class="facility-popup" data-facility-id="{esc(facility_id)}">'
        f"<h3>{bilingual(facility.name_ja, facility.name_en)}</h3>"
        f'<p class="coverage-warning facility-incomplete">'
        f"{bilingual('データ欠損のため数値なし: ', 'No figures, missing data: ')}{esc(_missing_text(day, facility_id))}</p>"
        "</div>"
    )


def add_incomplete_markers(group: folium.FeatureGroup, day: DayData) -> None:
    """Dashed outlines where a missing feed left a located facility without any figure."""
    if not day.feeds:
        return
    drawn = {fd.facility.facility_id for fd in day.facility_days}
    for facility_id in sorted(day.feeds.incomplete_facility_ids - drawn):
        facility = day.facility(facility_id)
        if not facility.has_location:
            continue
        folium.CircleMarker(
            location=(facility.lat, facility.lon),
            radius=8.0,
            color=INCOMPLETE_COLOR,
            weight=2,
            fill=False,
            dash_array="2 4",
            class_name="facility-gap-marker",
            popup=folium.Popup(incomplete_popup(day, facility_id), max_width=340),
            tooltip=folium.Tooltip(bilingual(facility.name_ja, facility.name_en)),
        ).add_to(group)


def add_facility_markers(group: folium.FeatureGroup, day: DayData, k: int) -> None:
    """Circles sized by ``day.size_by`` (entries on daily pages, visitors on period pages)."""
    located = [fd for fd in day.facility_days if fd.facility.has_location]

    def size(fd: FacilityDay) -> int | None:
        return fd.entries if day.size_by == "entries" else fd.visitors

    max_size = max((size(fd) or 0 for fd in located if not fd.is_suppressed), default=0)
    for facility_day in located:
        facility = facility_day.facility
        suppressed = facility_day.is_suppressed or size(facility_day) is None
        color = SUPPRESSED_COLOR if suppressed else FACILITY_COLOR
        folium.CircleMarker(
            location=(facility.lat, facility.lon),
            radius=6.0 if suppressed else circle_radius(size(facility_day) or 0, max_size),
            color=color,
            weight=2,
            fill=True,
            fill_color=color,
            fill_opacity=0.35 if suppressed else 0.65,
            dash_array="4 3" if suppressed else None,
            class_name="facility-marker suppressed" if suppressed else "facility-marker",
            popup=folium.Popup(facility_popup(day, facility_day, k), max_width=340),
            tooltip=folium.Tooltip(bilingual(facility.name_ja, facility.name_en)),
        ).add_to(group)


def curved_path(start: tuple[float, float], end: tuple[float, float], bend: float = 0.12) -> list[list[float]]:
    """A gentle arc bending to the right of travel, so A→B and B→A don't overlap."""
    (lat1, lon1), (lat2, lon2) = start, end
    x_scale = math.cos(math.radians((lat1 + lat2) / 2))  # metres per degree differ by axis
    dx, dy = (lon2 - lon1) * x_scale, lat2 - lat1
    mid_x, mid_y = (lon1 * x_scale + lon2 * x_scale) / 2, (lat1 + lat2) / 2
    control_x, control_y = mid_x + dy * bend, mid_y - dx * bend  # right-hand normal
    points = []
    for step in range(9):
        t = step / 8
        x = (1 - t) ** 2 * lon1 * x_scale + 2 * (1 - t) * t * control_x + t**2 * lon2 * x_scale
        y = (1 - t) ** 2 * lat1 + 2 * (1 - t) * t * control_y + t**2 * lat2
        points.append([round(y, 6), round(x / x_scale, 6)])
    return points


def flow_classes(visitors: int) -> str:
    """CSS classes the minimum-flow filter hides by (see daily_overlay.html)."""
    return " ".join(["flow-line"] + [f"flow-lt-{t}" for t in FLOW_MIN_THRESHOLDS if visitors < t])


def source_kind_text(source_kind: str) -> tuple[str, str]:
    """'計測: カード入場記録' / 'measured by: card admissions' for an edge or a route."""
    ja, en = SOURCE_KIND_LABELS.get(source_kind, (source_kind, source_kind))
    return f"計測: {ja}", f"measured by: {en}"


def flow_tooltip(day: DayData, flow: Flow) -> str:
    origin, target = day.facility(flow.from_id), day.facility(flow.to_id)
    minutes_ja = f"・所要中央値 {flow.median_minutes:.0f}分" if flow.median_minutes is not None else ""
    minutes_en = f", median {flow.median_minutes:.0f} min" if flow.median_minutes is not None else ""
    kind_ja, kind_en = source_kind_text(flow.source_kind)
    return bilingual(
        f"{origin.name_ja} → {target.name_ja}: {fmt_int(flow.visitors)}人（{fmt_share(flow.next_probability)}）{minutes_ja}"
        f"・{kind_ja}",
        f"{origin.name_en} → {target.name_en}: {fmt_int(flow.visitors)} visitors ({fmt_share(flow.next_probability)}){minutes_en}"
        f"; {kind_en}",
    )


def add_flows(group: folium.FeatureGroup, day: DayData) -> None:
    """Unsuppressed flows only: width by visitors, an arrow head mid-way for direction.

    Card-tap flows are solid; Wi-Fi sensor flows dashed in another colour, each line's
    tooltip naming its kind. Widths share one scale: both count distinct people per edge.
    """
    card, sensor = day.drawable_flows, day.drawable_sensor_flows
    max_visitors = max((flow.visitors or 0 for flow in [*card, *sensor]), default=0)
    for flow in [*card, *sensor]:
        visitors = flow.visitors or 0
        origin, target = day.facility(flow.from_id), day.facility(flow.to_id)
        weight = round(2 + 9 * math.sqrt(visitors / max_visitors), 1) if max_visitors else 2
        by_sensor = flow.source_kind == SENSOR_SOURCE_KIND
        colour = SENSOR_FLOW_COLOR if by_sensor else FLOW_COLOR
        classes = flow_classes(visitors) + (" flow-sensor" if by_sensor else "")
        line = folium.PolyLine(
            curved_path((origin.lat, origin.lon), (target.lat, target.lon)),
            color=colour,
            weight=weight,
            opacity=0.7,
            dash_array=SENSOR_FLOW_DASH if by_sensor else None,
            class_name=classes,
            tooltip=folium.Tooltip(flow_tooltip(day, flow)),
        ).add_to(group)
        font_size = round(10 + weight * 1.4)
        plugins.PolyLineTextPath(
            line,
            "➤",
            center=True,
            offset=round(font_size * 0.35),
            attributes={"fill": colour, "font-size": f"{font_size}px", "class": classes.replace("flow-line", "flow-arrow")},
        ).add_to(group)


def add_heat_layers(fmap: folium.Map, day: DayData) -> None:
    if day.heat.is_empty:
        return
    period = day.period is not None
    plugins.HeatMapWithTime(
        day.heat.by_hour,
        index=day.heat.hour_labels,
        name=layer_name("heat_hourly", period),
        radius=28,
        min_opacity=0.1,
        max_opacity=0.7,
        auto_play=False,
        position="bottomleft",
        show=False,
    ).add_to(fmap)
    plugins.HeatMap(
        day.heat.whole_day,
        name=layer_name("heat_day", period),
        radius=30,
        blur=20,
        min_opacity=0.3,
        max_zoom=16,
        show=True,
    ).add_to(fmap)


def outline_style(feature: dict[str, Any]) -> dict[str, Any]:
    """Water reads as water and land as land, so the page makes sense with no tiles."""
    if feature["properties"].get("kind") == "harbour":
        return {"color": "#6a9bc3", "weight": 1, "fillColor": "#b7d3ea", "fillOpacity": 0.8}
    return {"color": "#a39a82", "weight": 1, "fillColor": "#efe9d8", "fillOpacity": 0.6}


def add_reference_layers(fmap: folium.Map, geo_dir: Path) -> None:
    outline = load_reference_geojson(geo_dir / "outline.geojson")
    if outline:
        folium.GeoJson(
            outline,
            name=layer_name("outline"),
            style_function=outline_style,
            tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
        ).add_to(fmap)
    areas = load_reference_geojson(geo_dir / "areas.geojson")
    if areas:
        folium.GeoJson(
            areas,
            name=layer_name("areas"),
            style_function=lambda _: {"color": "#0b5394", "weight": 1.5, "dashArray": "5 4", "fillOpacity": 0.04},
            tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
        ).add_to(fmap)


# ---------------------------------------------------------------- page


@dataclass(frozen=True)
class NavLink:
    href: str
    ja: str
    en: str


def overlay_view(day: DayData, k: int, nav_links: list[NavLink], related_links: list[NavLink] | None = None) -> dict[str, Any]:
    """Plain values for daily_overlay.html (the template autoescapes them)."""
    title_ja, title_en = day.titles()
    return {
        "date_ja": title_ja,
        "date_en": title_en,
        "is_period": day.period is not None,
        "grain": day.period.grain if day.period else "day",
        "span_days": day.span_days,
        "days_with_data": day.days_with_data,
        "size_by": day.size_by,
        "k": k,
        "nav_links": nav_links,
        "related_links": related_links or [],
        "circulation": segment_rows(day.circulation, k),
        "satisfaction": None if day.satisfaction is None else segment_rows(day.satisfaction, k),
        "comparisons": [comparison_view(comparison, k) for comparison in day.comparisons],
        "indicator": indicator_view(day.indicator),
        "routes": [_route_view(day, route) for route in day.routes],
        "sensor_routes": [_route_view(day, route) for route in day.sensor_routes],
        "suppressed_routes": day.suppressed_routes,
        "suppressed_sensor_routes": day.suppressed_sensor_routes,
        "has_sensor_flows": bool(day.drawable_sensor_flows),
        "hidden_flows": day.suppressed_flow_count,
        "flow_min_options": [0] + [t for t in FLOW_MIN_THRESHOLDS if t > k],
        "feeds": feeds_view(day.feeds, day.period is not None),
    }


def _route_view(day: DayData, route: Route) -> dict[str, Any]:
    kind_ja, kind_en = source_kind_text(route.source_kind)
    return {
        "rank": route.rank,
        "text_ja": " → ".join(day.facility(fid).name_ja for fid in route.facility_ids),
        "text_en": " → ".join(day.facility(fid).name_en for fid in route.facility_ids),
        "visitors": fmt_int(route.visitors),
        "kind_ja": kind_ja,
        "kind_en": kind_en,
        "source_kind": route.source_kind,
    }


def page_header_markup(assets_url: str) -> str:
    """Our CSS/JS, linked after folium's so its rules win over Bootstrap's."""
    return f'<link rel="stylesheet" href="{esc(assets_url)}/{OWN_CSS}"/>\n<script src="{esc(assets_url)}/{OWN_JS}"></script>\n'


def _fit_to(fmap: folium.Map, day: DayData) -> None:
    points = [(fd.facility.lat, fd.facility.lon) for fd in day.facility_days if fd.facility.has_location]
    if not points:
        points = [(f.lat, f.lon) for f in day.facilities.values() if f.has_location]
    if len(points) >= 2:
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        # Room for the layer list (top right), hour slider (bottom left) and legend.
        fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(70, 70), max_zoom=16)


def render_map_page(
    day: DayData,
    k: int,
    geo_dir: Path,
    nav_links: list[NavLink],
    assets_url: str,
    related_links: list[NavLink] | None = None,
) -> str:
    """The full HTML of one map page, day or period (not yet checked or written)."""
    title_ja, title_en = day.titles()
    fmap = folium.Map(location=NAGASAKI_CENTRE, zoom_start=14, tiles=None, control_scale=True)
    fmap.get_root().title = f"長崎市 観光動態 {title_ja} / Nagasaki Tourism Flow {title_en}"
    folium.TileLayer(GSI_TILES, attr=GSI_ATTRIBUTION, name=layer_name("gsi"), max_zoom=18).add_to(fmap)
    folium.TileLayer(OSM_TILES, attr=OSM_ATTRIBUTION, name=layer_name("osm"), max_zoom=19, show=False).add_to(fmap)
    add_reference_layers(fmap, geo_dir)
    add_heat_layers(fmap, day)
    flows = folium.FeatureGroup(name=layer_name("flows"), show=True).add_to(fmap)
    add_flows(flows, day)
    facilities = folium.FeatureGroup(name=layer_name("facilities"), show=True).add_to(fmap)
    add_facility_markers(facilities, day, k)
    add_incomplete_markers(facilities, day)
    folium.LayerControl(collapsed=False, position="topright").add_to(fmap)
    _fit_to(fmap, day)

    overlay = render_template("daily_overlay.html", day=overlay_view(day, k, nav_links, related_links))
    RawHtml(body_markup=overlay, header_markup=page_header_markup(assets_url)).add_to(fmap)
    localize_folium_links(fmap, assets_url)
    return with_language(fmap.get_root().render())


def with_language(page_html: str) -> str:
    """Japanese first: <html lang="ja" data-lang="ja"> (branca's figure has no lang)."""
    return page_html.replace("<html>", '<html lang="ja" data-lang="ja">', 1)
