"""Turning page content into files staff can trust: escaped, offline-only, atomic, bounded.

Why each guard exists:
- text from the data (facility names, sources) lands in HTML and in folium's JS template
  literals, so it is escaped for both;
- LGWAN reaches no CDN, so a page that still links a remote script or stylesheet is a
  build failure, not a warning;
- staff open pages while the nightly job runs, so a page is replaced in one step;
- a page must open quickly on an old office PC, so it has a hard size limit.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from branca.element import Element, MacroElement

from flowlib.assets import REMOTE_URL, remote_urls_in_css
from flowlib.atomic import write_text_atomic
from flowlib.stable_ids import number_ids

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates" / "dashboards"

#: Any published page stays below this, whatever the input volume.
MAX_PAGE_BYTES = 5_000_000
#: A temp file this old belongs to no running writer: a killed run left it behind.
STALE_TEMP_SECONDS = 3600

_ASSET_TAG = re.compile(r"<(script|link|img|iframe|source|embed|audio|video)\b[^>]*>", re.IGNORECASE)
_ASSET_ATTR = re.compile(r"""\b(?:src|href)\s*=\s*(["']?)([^"'\s>]+)\1""", re.IGNORECASE)
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style>", re.IGNORECASE | re.DOTALL)
_CSS_IMPORT = re.compile(r"@import\s+(['\"])([^'\"]+)\1", re.IGNORECASE)


class RemoteAssetError(RuntimeError):
    """A page would load a script or stylesheet from the network (unreachable on LGWAN)."""


class PageTooLargeError(RuntimeError):
    """A page exceeds MAX_PAGE_BYTES; aggregation upstream must be coarser."""


def esc(text: object) -> str:
    """Escape data-derived text for HTML that may sit inside a JS template literal.

    folium puts popup and tooltip HTML between backticks, where `` ` ``, ``${`` and
    backslashes are live, and branca re-renders every macro's output as a Jinja template,
    where ``{{``/``{%`` are live; html.escape alone covers neither.
    """
    return (
        html.escape(str(text), quote=True)
        .replace("`", "&#96;")
        .replace("$", "&#36;")
        .replace("\\", "&#92;")
        .replace("{", "&#123;")
        .replace("}", "&#125;")
    )


def bilingual(ja: object, en: object) -> str:
    """Both labels as escaped spans; CSS shows the one matching html[data-lang]."""
    return f'<span class="lang-ja" lang="ja">{esc(ja)}</span><span class="lang-en" lang="en">{esc(en)}</span>'


class _Verbatim(Element):
    """Markup that renders as itself (branca.Element would parse it as a Jinja template)."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.markup = markup

    def render(self, **kwargs: Any) -> str:
        return self.markup


class RawHtml(MacroElement):
    """Page markup (body and head) added to a folium figure verbatim.

    folium.Element and MacroElement macros re-render their output as Jinja, so data such
    as a facility named ``{{ ... }}`` would be evaluated; this element never parses it.
    """

    def __init__(self, body_markup: str = "", header_markup: str = "") -> None:
        super().__init__()
        self._name = "RawHtml"
        self.body_markup = body_markup
        self.header_markup = header_markup

    def render(self, **kwargs: Any) -> None:
        figure = self.get_root()
        if self.header_markup:
            figure.header.add_child(_Verbatim(self.header_markup), name=f"{self.get_name()}_header")
        if self.body_markup:
            figure.html.add_child(_Verbatim(self.body_markup), name=f"{self.get_name()}_body")


def _finalize(value: Any) -> Any:
    """Every ``{{ }}`` string gets :func:`esc` (also ``{ } $ ` \\``), not only HTML escaping:
    template output may end up inside folium's JS template literals or a branca template."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return markupsafe.Markup(esc(value))
    return value


_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_finalize,
)


def render_template(name: str, **context: Any) -> str:
    """Render one of flowlib/templates/dashboards/ with autoescaping on."""
    return _environment.get_template(name).render(**context)


def find_remote_assets(page_html: str) -> list[str]:
    """URLs of scripts, stylesheets, images or frames that a page would fetch remotely.

    Tile URL templates live inside JS strings, not in tags, so they are not reported.
    """
    found = []
    for tag in _ASSET_TAG.finditer(page_html):
        for _, url in _ASSET_ATTR.findall(tag.group(0)):
            if REMOTE_URL.match(url):
                found.append(url)
    for style in _STYLE_BLOCK.findall(page_html):
        found.extend(remote_urls_in_css(style))
        found.extend(url for _, url in _CSS_IMPORT.findall(style) if REMOTE_URL.match(url))
    return found


def check_page(page_html: str, page_name: str) -> None:
    """Refuse to publish a page that would not work, or not open fast, on the closed network."""
    remote = find_remote_assets(page_html)
    if remote:
        raise RemoteAssetError(
            f"{page_name} loads {remote[0]} from the network ({len(remote)} remote asset(s)); "
            "LGWAN cannot reach it: vendor it in flowlib/assets.py or drop the element that adds it."
        )
    size = len(page_html.encode("utf-8"))
    if size > MAX_PAGE_BYTES:
        raise PageTooLargeError(f"{page_name} is {size:,} bytes, over the {MAX_PAGE_BYTES:,}-byte limit.")


#: folium and branca name every element ``<kind>_<uuid4 hex>``, afresh on each render
_ELEMENT_ID = re.compile(r"(?<=[a-z]_)[0-9a-f]{32}(?![0-9a-f])")


def numbered_element_ids(page_html: str) -> str:
    """Each random element id replaced by its rank of first appearance, written as 32 hex
    digits (``map_000...001``): an element and every reference to it keep one name, and the
    same page renders to the same bytes (a rerun changes no page that did not change)."""
    return number_ids(page_html, _ELEMENT_ID, lambda rank: f"{rank:032x}")


def write_page(path: Path, page_html: str) -> Path:
    """Check a page, then replace ``path`` atomically (temp file in the same dir + os.replace),
    its element ids numbered (``numbered_element_ids``)."""
    check_page(page_html, path.name)
    write_text_atomic(path, numbered_element_ids(page_html))
    return path


def sweep_stale_temp_files(folder: Path, older_than_seconds: int = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete the ``.<name>.*.tmp`` files a killed run left in ``folder`` (and below).

    Writers make them next to their target and rename them within seconds, so anything
    older is debris; younger ones may belong to a writer still running and are kept.
    """
    if not folder.is_dir():
        return []
    cutoff = time.time() - older_than_seconds
    removed = []
    for path in folder.rglob(".*.tmp"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # its writer renamed it meanwhile
            continue
    return removed
