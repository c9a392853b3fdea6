"""Vendored assets: every file a page loads exists locally, and nothing remote slips through.

LGWAN reaches no CDN. These tests prove that the assets step produces every file the pages
reference (including fonts and images referenced from CSS), and that the remote-asset
scan turns any leftover CDN link into a build failure.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import branca.colormap
import folium
import pytest
from folium import plugins

from flowlib import assets
from flowlib.assets import (
    FOLIUM_LOCAL_LINKS,
    OWN_CSS,
    OWN_JS,
    VENDOR_DIR,
    AssetError,
    install_assets,
    localize_folium_links,
    remote_urls_in_css,
)
from flowlib.dashboards.daily import NavLink, render_map_page
from flowlib.dashboards.index_page import render_index_page
from flowlib.dashboards.page_data import DayData, Facility, FacilityDay, Flow, HeatSeries, SegmentShare
from flowlib.dashboards.publish import RemoteAssetError, check_page, find_remote_assets, write_page

LOCAL_REF = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


@pytest.fixture(scope="module")
def dashboards_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("assets") / "dashboards"
    install_assets(root / "assets")
    return root


def sample_day() -> DayData:
    """A day that uses every plugin the dashboards draw with (heat, hourly heat, arrows)."""
    glover = Facility("glover_garden", "グラバー園", "Glover Garden", 32.7333666, 129.8690550)
    dejima = Facility("dejima", "出島", "Dejima", 32.7434177, 129.8729620)
    heat = HeatSeries(
        hour_labels=[f"{h:02d}:00" for h in range(24)],
        by_hour=[[[32.7434, 129.8730, 0.5]] for _ in range(24)],
        whole_day=[[32.7434, 129.8730, 1.0]],
        h3_resolution=10,
    )
    return DayData(
        service_date=date(2025, 11, 23),
        facilities={f.facility_id: f for f in (glover, dejima)},
        facility_days=[
            FacilityDay(glover, 100, 90, 60, 30, 0, False),
            FacilityDay(dejima, 80, 70, 50, 20, 0, False),
        ],
        flows=[Flow("glover_garden", "dejima", 40, 35, 0.5, 20.0, False)],
        routes=[],
        suppressed_routes=0,
        circulation=[SegmentShare("all", 100, 60, 0.6, False)],
        satisfaction=[SegmentShare("all", 20, 15, 0.75, False)],
        heat=heat,
    )


def written_pages(dashboards_dir: Path) -> list[Path]:
    daily = render_map_page(sample_day(), 10, VENDOR_DIR.parent / "geo", [NavLink("../index.html", "一覧", "All")], "../assets")
    index = render_index_page([date(2025, 11, 23)], None, [], None, [], 10, False)
    return [
        write_page(dashboards_dir / "daily" / "2025-11-23.html", daily),
        write_page(dashboards_dir / "index.html", index),
    ]


def test_every_mapped_asset_is_installed(dashboards_dir: Path) -> None:
    mapped = {path for js, css in FOLIUM_LOCAL_LINKS.values() for _, path in js + css} | {OWN_CSS, OWN_JS}
    missing = [path for path in sorted(mapped) if not (dashboards_dir / "assets" / path).is_file()]
    assert missing == []


def test_pages_reference_only_installed_files(dashboards_dir: Path) -> None:
    for page_path in written_pages(dashboards_dir):
        html = page_path.read_text(encoding="utf-8")
        references = LOCAL_REF.findall(html)
        assert references, page_path
        for reference in references:
            assert not re.match(r"^(https?:)?//", reference), f"{page_path.name} links remote {reference}"
            assert (page_path.parent / reference).resolve().is_file(), f"{page_path.name}: {reference} not installed"
        assert find_remote_assets(html) == []


def test_css_references_resolve_locally(dashboards_dir: Path) -> None:
    """Fonts and images named inside stylesheets are vendored too (Leaflet, Font Awesome...)."""
    stylesheets = list((dashboards_dir / "assets").rglob("*.css"))
    assert len(stylesheets) >= 5
    for css in stylesheets:
        text = css.read_text(encoding="utf-8")
        assert remote_urls_in_css(text) == [], css
        for url in CSS_URL.findall(text):
            if url.startswith(("data:", "#")):
                continue
            target = (css.parent / url.split("?")[0].split("#")[0]).resolve()
            assert target.is_file(), f"{css.name} needs {url}"


def test_timedimension_css_uses_vendored_font(dashboards_dir: Path) -> None:
    css = (dashboards_dir / "assets" / "timedimension" / "leaflet.timedimension.control.css").read_text(encoding="utf-8")
    assert "netdna" not in css and "Glyphicons" not in css and "@font-face" not in css
    assert "'Font Awesome 6 Free'" in css and '"\\f04b"' in css  # play button


def test_install_is_idempotent(dashboards_dir: Path) -> None:
    leaflet = dashboards_dir / "assets" / "leaflet" / "leaflet.js"
    before = leaflet.stat().st_mtime_ns
    install_assets(dashboards_dir / "assets")
    assert leaflet.stat().st_mtime_ns == before


@pytest.mark.parametrize(
    "planted, url",
    [
        ('<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script>', "cdn.jsdelivr.net"),
        ("<link rel='stylesheet' href='//cdnjs.cloudflare.com/x.css'/>", "cdnjs.cloudflare.com"),
        ("<style>@import url(https://fonts.googleapis.com/css?family=X);</style>", "fonts.googleapis.com"),
        ('<img src="http://example.org/logo.png">', "example.org"),
    ],
)
def test_remote_asset_scan_raises_on_planted_cdn_link(dashboards_dir: Path, planted: str, url: str) -> None:
    page = written_pages(dashboards_dir)[0]
    html = page.read_text(encoding="utf-8").replace("</head>", planted + "</head>", 1)
    with pytest.raises(RemoteAssetError, match=re.escape(url)):
        write_page(page, html)
    assert url not in page.read_text(encoding="utf-8")  # the good page stays in place


def test_tile_url_templates_are_not_remote_assets() -> None:
    html = '<script>L.tileLayer("https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png", {}).addTo(m);</script>'
    assert find_remote_assets(html) == []
    check_page(html, "tiles.html")


def test_assets_added_at_render_time_are_caught() -> None:
    """branca's colormap adds d3 from a CDN only while the page renders."""
    fmap = folium.Map(tiles=None)
    branca.colormap.LinearColormap(["blue", "red"], vmin=0, vmax=1).add_to(fmap)
    localize_folium_links(fmap, "../assets")
    with pytest.raises(RemoteAssetError, match="d3"):
        check_page(fmap.get_root().render(), "colormap.html")


def test_unmapped_plugin_is_refused() -> None:
    fmap = folium.Map(tiles=None)
    plugins.Fullscreen().add_to(fmap)
    with pytest.raises(AssetError, match="Fullscreen"):
        localize_folium_links(fmap, "../assets")


def test_localizing_does_not_leak_into_other_maps() -> None:
    cdn_defaults = list(folium.Map.default_js)
    fmap = folium.Map(tiles=None)
    localize_folium_links(fmap, "../assets")
    assert fmap.default_js[0] == ("leaflet", "../assets/leaflet/leaflet.js")
    assert folium.Map.default_js == cdn_defaults
    assert folium.Map(tiles=None).default_js[0][1].startswith("https://")


def test_npm_ci_runs_when_node_modules_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy(VENDOR_DIR / name, vendor / name)
    calls: list[list[str]] = []

    class Done:
        returncode, stdout, stderr = 0, "", ""

    def fake_run(command: list[str], **_: object) -> Done:
        calls.append(command)
        return Done()

    monkeypatch.setattr(assets.shutil, "which", lambda _: "/usr/bin/npm")
    monkeypatch.setattr(assets.subprocess, "run", fake_run)
    with pytest.raises(AssetError, match="still not usable"):
        assets.ensure_node_modules(vendor)
    assert calls and calls[0][1:4] == ["ci", "--prefix", str(vendor)]


def test_vendor_pins_match_folium_versions() -> None:
    """The vendored versions are the ones folium 0.20 links to (same behaviour as its CDN)."""
    pins = json.loads((VENDOR_DIR / "package.json").read_text(encoding="utf-8"))["dependencies"]
    cdn = " ".join(url for _, url in folium.Map.default_js + folium.Map.default_css)
    cdn += " ".join(url for _, url in plugins.HeatMapWithTime.default_js + plugins.PolyLineTextPath.default_js)
    for package in ("leaflet", "bootstrap", "@fortawesome/fontawesome-free", "leaflet-timedimension", "leaflet-textpath"):
        assert f"{package}@{pins[package]}" in cdn, package
    assert f"jquery-{pins['jquery']}" in cdn
    assert f"awesome-markers/{pins['drmonty-leaflet-awesome-markers']}" in cdn
    assert f"iso8601-js-period@{pins['iso8601-js-period']}" in cdn
