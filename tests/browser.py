"""Open dashboard pages from disk in Debian's Chromium with the network cut off.

Why: staff open these pages on LGWAN, where no CDN is reachable. A page that only works
online would pass an HTML-only test and fail every morning, so the browser here aborts
every request that is not file:// and records it, plus every console and page error.

Use the ``offline_browser`` fixture (import it into a test module). When Chromium or
Playwright is missing the tests skip with the reason, except under CI=true, where they
fail: CI must never go green without having run the browser.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
READY_TIMEOUT_MS = 15_000
#: Every URL that is not a local file: tiles, CDNs, anything else that would leave LGWAN.
NOT_A_LOCAL_FILE = re.compile(r"^(?!file://)")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def browser_unavailable(reason: str) -> None:
    """Fail under CI=true (never skip there); skip with the reason elsewhere."""
    message = f"{reason}; run scripts/install_system_deps.sh"
    if in_ci():
        pytest.fail(f"CI=true and the browser tests cannot run: {message}")
    pytest.skip(message)


@dataclass
class PageVisit:
    """One page opened offline, with everything that went wrong while it loaded."""

    page: Any  # playwright.sync_api.Page
    console_errors: list[tuple[str, str]] = field(default_factory=list)  # (text, url)
    page_errors: list[str] = field(default_factory=list)
    blocked_urls: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)  # alert()/confirm() texts: injected script ran
    load_ms: float = 0.0  # wall clock from navigation to the page's ready signal
    ready_ms: float | None = None  # the page's own performance.now() at ready

    def unexpected_errors(self, allowed_hosts: tuple[str, ...] = ()) -> list[str]:
        """Console/page errors, except failed requests to ``allowed_hosts`` (map tiles)."""
        errors = [f"pageerror: {error}" for error in self.page_errors]
        for text, url in self.console_errors:
            host = urlparse(url).hostname or ""
            blocked_tile = "net::ERR_FAILED" in text and any(
                host == allowed or host.endswith("." + allowed) for allowed in allowed_hosts
            )
            if not blocked_tile:
                errors.append(f"console: {text} ({url})")
        return errors

    def blocked_outside(self, allowed_hosts: tuple[str, ...]) -> list[str]:
        """Blocked requests that went anywhere but ``allowed_hosts``: remote assets."""
        return [
            url
            for url in self.blocked_urls
            if not any(
                (urlparse(url).hostname or "") == host or (urlparse(url).hostname or "").endswith("." + host)
                for host in allowed_hosts
            )
        ]


class OfflineBrowser:
    """A launched Chromium that opens local files with every other request aborted."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser
        self._contexts: list[Any] = []

    def open(
        self,
        path: Path,
        ready_expression: str = "window.flowDashboard && window.flowDashboard.ready",
        viewport: tuple[int, int] = (1400, 900),
    ) -> PageVisit:
        context = self._browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="ja-JP")
        self._contexts.append(context)
        page = context.new_page()
        visit = PageVisit(page=page)

        def abort(route_request: Any) -> None:
            visit.blocked_urls.append(route_request.request.url)
            route_request.abort()

        # file:// never reaches Python (a round trip per asset would skew the timing).
        context.route(NOT_A_LOCAL_FILE, abort)
        page.on(
            "console",
            lambda message: (
                visit.console_errors.append((message.text, (message.location or {}).get("url", "")))
                if message.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: visit.page_errors.append(str(error)))
        page.on("dialog", lambda dialog: (visit.dialogs.append(dialog.message), dialog.dismiss()))

        started = time.perf_counter()
        page.goto(path.resolve().as_uri(), wait_until="load")
        page.wait_for_function(ready_expression, timeout=READY_TIMEOUT_MS)
        visit.load_ms = (time.perf_counter() - started) * 1000
        visit.ready_ms = page.evaluate("window.flowDashboard ? window.flowDashboard.readyMs : null")
        return visit

    def close(self) -> None:
        for context in self._contexts:
            context.close()
        self._contexts.clear()


@pytest.fixture(scope="session")
def offline_browser() -> Iterator[OfflineBrowser]:
    """Session-wide Chromium (launching once keeps the suite fast)."""
    if not CHROMIUM.exists():
        browser_unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - depends on the environment
        browser_unavailable(f"playwright is not importable ({exc})")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        except Exception as exc:  # noqa: BLE001 - any launch failure means no browser
            browser_unavailable(f"Chromium at {CHROMIUM} did not start ({exc})")
        offline = OfflineBrowser(browser)
        try:
            yield offline
        finally:
            offline.close()
            browser.close()
