"""Vendored front-end files for the dashboards, copied into ``dashboards/assets/``.

The city's closed network (LGWAN) reaches no CDN, and folium links every library from
one. So at set-up time this module copies the exact files the pages need from
``vendor/node_modules`` (pinned in ``vendor/package-lock.json``; ``npm ci`` runs when
they are missing) and from the folium wheel's ``templates/`` (the heat-map plugins),
plus our own CSS/JS. Pages then load everything by relative URL; nothing is fetched
while a page renders.

``FOLIUM_LOCAL_LINKS`` maps every folium element class the dashboards use to local
replacements for its ``default_js`` / ``default_css``; ``localize_folium_links`` applies
them per instance (folium's ``add_js_link`` would change the class-wide list).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import folium

from flowlib.atomic import write_bytes_atomic
from flowlib.config import PROJECT_ROOT

log = logging.getLogger(__name__)

VENDOR_DIR = PROJECT_ROOT / "vendor"
FOLIUM_TEMPLATES_DIR = Path(folium.__file__).resolve().parent / "templates"
OWN_STATIC_DIR = Path(__file__).resolve().parent / "templates" / "dashboards" / "static"

#: Any URL that leaves the machine: http(s):// or protocol-relative //.
REMOTE_URL = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*(['\"]?)([^'\")]+)\1\s*\)", re.IGNORECASE)


class AssetError(RuntimeError):
    """The vendored files could not be produced; the message says what to do."""


@dataclass(frozen=True)
class VendoredFile:
    """One file (or directory) copied into assets/: where it comes from, where it goes."""

    origin: str  # "npm", "folium" or "own"
    source: str  # path under node_modules/, folium/templates/ or our static dir
    dest: str  # path under dashboards/assets/
    rewrite: Callable[[str], str] | None = None


# Glyphicons code points used by leaflet-timedimension's control, as Font Awesome 6 Free
# (solid) code points: Font Awesome is vendored anyway, Glyphicons only exist on a CDN.
_GLYPHICON_TO_FONTAWESOME = {
    "e072": "f04b",  # play
    "e073": "f04c",  # pause
    "e031": "f021",  # loading (rotate)
    "e141": "f625",  # speed (gauge)
    "e074": "f04d",  # stop
    "e075": "f051",  # step forward
    "e071": "f048",  # step backward
    "e030": "f363",  # loop (repeat)
}


def rewrite_timedimension_css(css: str) -> str:
    """Drop the CDN @font-face and draw the player buttons with the vendored Font Awesome."""
    css = re.sub(r"@font-face\s*\{[^}]*\}", "", css)
    css = re.sub(
        r"font-family:\s*['\"]Glyphicons Halflings['\"];",
        "font-family: 'Font Awesome 6 Free'; font-weight: 900;",
        css,
    )
    for glyph, fa in _GLYPHICON_TO_FONTAWESOME.items():
        css = css.replace(f'"\\{glyph}"', f'"\\{fa}"')
    return css


def _npm(source: str, dest: str, rewrite: Callable[[str], str] | None = None) -> VendoredFile:
    """A file (or directory) of a package pinned in vendor/package.json."""
    return VendoredFile("npm", source, dest, rewrite)


VENDORED_FILES: tuple[VendoredFile, ...] = (
    _npm("leaflet/dist/leaflet.js", "leaflet/leaflet.js"),
    _npm("leaflet/dist/leaflet.css", "leaflet/leaflet.css"),
    _npm("leaflet/dist/images", "leaflet/images"),
    _npm("leaflet/LICENSE", "leaflet/LICENSE"),
    _npm("jquery/dist/jquery.min.js", "jquery/jquery.min.js"),
    _npm("jquery/LICENSE.txt", "jquery/LICENSE.txt"),
    _npm("bootstrap/dist/js/bootstrap.bundle.min.js", "bootstrap/bootstrap.bundle.min.js"),
    _npm("bootstrap/dist/css/bootstrap.min.css", "bootstrap/bootstrap.min.css"),
    _npm("bootstrap/LICENSE", "bootstrap/LICENSE"),
    _npm("@fortawesome/fontawesome-free/css/all.min.css", "fontawesome/css/all.min.css"),
    _npm("@fortawesome/fontawesome-free/webfonts", "fontawesome/webfonts"),
    _npm("@fortawesome/fontawesome-free/LICENSE.txt", "fontawesome/LICENSE.txt"),
    _npm("drmonty-leaflet-awesome-markers/js/leaflet.awesome-markers.js", "awesome-markers/leaflet.awesome-markers.js"),
    _npm("drmonty-leaflet-awesome-markers/css/leaflet.awesome-markers.css", "awesome-markers/leaflet.awesome-markers.css"),
    _npm("drmonty-leaflet-awesome-markers/css/images", "awesome-markers/images"),
    _npm("iso8601-js-period/iso8601.js", "timedimension/iso8601.js"),
    _npm("leaflet-timedimension/dist/leaflet.timedimension.min.js", "timedimension/leaflet.timedimension.min.js"),
    _npm(
        "leaflet-timedimension/dist/leaflet.timedimension.control.css",
        "timedimension/leaflet.timedimension.control.css",
        rewrite=rewrite_timedimension_css,
    ),
    _npm("leaflet-textpath/leaflet.textpath.js", "textpath/leaflet.textpath.js"),
    _npm("leaflet-textpath/LICENSE", "textpath/LICENSE"),
    VendoredFile("folium", "leaflet_heat.min.js", "heat/leaflet_heat.min.js"),
    VendoredFile("folium", "pa7_hm.min.js", "heat/pa7_hm.min.js"),
    VendoredFile("folium", "pa7_leaflet_hm.min.js", "heat/pa7_leaflet_hm.min.js"),
    VendoredFile("own", "dashboard.css", "flow/dashboard.css"),
    VendoredFile("own", "dashboard.js", "flow/dashboard.js"),
)

Links = list[tuple[str, str]]

#: Local replacements (path under assets/) for folium's CDN links, by element class name.
#: Glyphicons and the awesome-markers rotate CSS are dropped: no page uses those icons.
FOLIUM_LOCAL_LINKS: dict[str, tuple[Links, Links]] = {
    "Map": (
        [
            ("leaflet", "leaflet/leaflet.js"),
            ("jquery", "jquery/jquery.min.js"),
            ("bootstrap", "bootstrap/bootstrap.bundle.min.js"),
            ("awesome_markers", "awesome-markers/leaflet.awesome-markers.js"),
        ],
        [
            ("leaflet_css", "leaflet/leaflet.css"),
            ("bootstrap_css", "bootstrap/bootstrap.min.css"),
            ("awesome_markers_font_css", "fontawesome/css/all.min.css"),
            ("awesome_markers_css", "awesome-markers/leaflet.awesome-markers.css"),
        ],
    ),
    "HeatMap": ([("leaflet-heat.js", "heat/leaflet_heat.min.js")], []),
    "HeatMapWithTime": (
        [
            ("iso8601", "timedimension/iso8601.js"),
            ("leaflet.timedimension.min.js", "timedimension/leaflet.timedimension.min.js"),
            ("heatmap.min.js", "heat/pa7_hm.min.js"),
            ("leaflet-heatmap.js", "heat/pa7_leaflet_hm.min.js"),
        ],
        [("leaflet.timedimension.control.min.css", "timedimension/leaflet.timedimension.control.css")],
    ),
    "PolyLineTextPath": ([("polylinetextpath", "textpath/leaflet.textpath.js")], []),
}

#: Our own stylesheet and script, linked by every page.
OWN_CSS = "flow/dashboard.css"
OWN_JS = "flow/dashboard.js"


def localize_folium_links(root: object, assets_url: str) -> None:
    """Point every folium element under ``root`` at the local copies of its JS/CSS.

    Sets ``default_js``/``default_css`` on the instance, never the class, so nothing leaks
    into other maps. An element class with CDN links and no local mapping is an error here
    rather than a page that breaks on LGWAN.
    """
    from folium.elements import JSCSSMixin

    pending = [root]
    while pending:
        element = pending.pop()
        pending.extend(getattr(element, "_children", {}).values())
        if not isinstance(element, JSCSSMixin):
            continue
        class_name = type(element).__name__
        if class_name not in FOLIUM_LOCAL_LINKS:
            if element.default_js or element.default_css:
                raise AssetError(
                    f"folium element {class_name} links {element.default_js + element.default_css} "
                    "and has no local copy: add it to vendor/package.json and FOLIUM_LOCAL_LINKS."
                )
            continue
        js, css = FOLIUM_LOCAL_LINKS[class_name]
        element.default_js = [(name, f"{assets_url}/{path}") for name, path in js]
        element.default_css = [(name, f"{assets_url}/{path}") for name, path in css]


def _source_root(origin: str, vendor_dir: Path) -> Path:
    return {
        "npm": vendor_dir / "node_modules",
        "folium": FOLIUM_TEMPLATES_DIR,
        "own": OWN_STATIC_DIR,
    }[origin]


def _pinned_versions(vendor_dir: Path) -> dict[str, str]:
    manifest = json.loads((vendor_dir / "package.json").read_text(encoding="utf-8"))
    return dict(manifest.get("dependencies", {}))


def node_modules_problems(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """What is missing or at the wrong version in vendor/node_modules (empty when usable)."""
    problems = []
    for package, version in _pinned_versions(vendor_dir).items():
        installed = vendor_dir / "node_modules" / package / "package.json"
        if not installed.is_file():
            problems.append(f"{package} not installed")
            continue
        found = json.loads(installed.read_text(encoding="utf-8")).get("version")
        if found != version:
            problems.append(f"{package} is {found}, pinned {version}")
    for item in VENDORED_FILES:
        if item.origin == "npm" and not (vendor_dir / "node_modules" / item.source).exists():
            problems.append(f"node_modules/{item.source} missing")
    return problems


def ensure_node_modules(vendor_dir: Path = VENDOR_DIR) -> None:
    """Run ``npm ci`` when vendor/node_modules is missing or differs from the lock file."""
    problems = node_modules_problems(vendor_dir)
    if not problems:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise AssetError(
            f"vendor/node_modules is not usable ({'; '.join(problems[:3])}) and npm is not on "
            "PATH: install Node.js/npm, then run `npm ci --prefix vendor`."
        )
    command = [npm, "ci", "--prefix", str(vendor_dir), "--ignore-scripts", "--no-audit", "--no-fund"]
    log.info("vendor/node_modules not usable (%s); running %s", "; ".join(problems[:3]), " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssetError(f"`{' '.join(command)}` failed ({result.returncode}):\n{result.stderr[-2000:]}")
    still = node_modules_problems(vendor_dir)
    if still:
        raise AssetError(f"after npm ci, vendor/node_modules is still not usable: {'; '.join(still)}")


def _copy_file(source: Path, target: Path, rewrite: Callable[[str], str] | None) -> None:
    data = source.read_bytes()
    if rewrite is not None:
        data = rewrite(data.decode("utf-8")).encode("utf-8")
    if target.is_file() and target.read_bytes() == data:
        return
    write_bytes_atomic(target, data)  # a page never sees a half-copied asset


def _files_of(item: VendoredFile, vendor_dir: Path) -> Iterable[tuple[Path, Path]]:
    """(source file, path under assets/) pairs of one vendored file or directory."""
    source = _source_root(item.origin, vendor_dir) / item.source
    if source.is_dir():
        for child in sorted(p for p in source.rglob("*") if p.is_file()):
            yield child, Path(item.dest) / child.relative_to(source)
    elif source.is_file():
        yield source, Path(item.dest)
    else:
        raise AssetError(f"{item.origin} file {item.source} not found at {source}")


def remote_urls_in_css(css: str) -> list[str]:
    """Every url(...) in a stylesheet that would leave the machine."""
    return [url for _, url in _CSS_URL.findall(css) if REMOTE_URL.match(url)]


def install_assets(assets_dir: Path, vendor_dir: Path = VENDOR_DIR) -> list[Path]:
    """Copy every file the dashboards load into ``assets_dir``; return the paths written.

    Idempotent (unchanged files are left alone). Fails if a copied stylesheet still
    points at a remote URL, since that would break on LGWAN.
    """
    ensure_node_modules(vendor_dir)
    written = []
    for item in VENDORED_FILES:
        for source, relative in _files_of(item, vendor_dir):
            target = assets_dir / relative
            _copy_file(source, target, item.rewrite if source.suffix == ".css" else None)
            written.append(target)
            if target.suffix == ".css":
                remote = remote_urls_in_css(target.read_text(encoding="utf-8"))
                if remote:
                    raise AssetError(f"{relative} loads {remote[0]} from the network; rewrite it in flowlib/assets.py")
    return written


if __name__ == "__main__":  # set-up step: `python -m flowlib.assets [assets_dir]`
    import sys

    from flowlib.config import get_settings

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    destination = Path(sys.argv[1]) if len(sys.argv) > 1 else get_settings().dashboards_dir / "assets"
    paths = install_assets(destination)
    print(f"installed {len(paths)} asset files into {destination}")
