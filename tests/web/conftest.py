"""Browser tests: Debian's Chromium driven by Playwright, with no network beyond loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.test_cli import live_serve

CHROMIUM = "/usr/bin/chromium"
# without these, Chromium reaches for Google's hosts at every start (refused here)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def offline_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page whose requests to anything but loopback are refused and recorded."""
    context = browser.new_context()
    outside: list[str] = []

    def guard(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in {"127.0.0.1", "localhost", "::1"} or route.request.url.startswith("data:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    yield page, outside
    context.close()


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``moorage serve`` on the embedded defaults (SQLite, a fresh data dir), one per module."""
    tmp_path = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_")}
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    with live_serve(["--data-dir", str(tmp_path / "data")], env=env, cwd=cwd) as url:
        yield url
