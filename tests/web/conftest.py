"""Browser tests: Debian's Chromium driven by Playwright, with no network beyond loopback."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from moorage.config import Settings
from tests.conftest import PG_ADMIN, free_port
from tests.test_cli import MOORAGE, live_serve, run_cli, wait_ready

ADMIN_PG = PG_ADMIN

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


@contextmanager
def serve_logged(data_dir: Path, env: dict[str, str], cwd: Path) -> Iterator[str]:
    """``moorage serve`` with its log in a file: a pipe nobody reads fills up after a few
    hundred requests (a grid's thumbnails) and stalls the server."""
    port = free_port()
    with (cwd / "serve.log").open("w") as log:
        proc = subprocess.Popen(
            [*MOORAGE, "serve", "--port", str(port), "--data-dir", str(data_dir)],
            env={**env, "MOORAGE_LOG_LEVEL": "WARNING"},
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, proc)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@contextmanager
def engine_env(engine: str) -> Iterator[dict[str, str]]:
    """The environment of a server on ``engine``: SQLite in its data dir, or a fresh
    PostgreSQL database (dropped afterwards)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_")}
    if engine == "sqlite":
        yield env
        return
    name = f"moorage_web_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {
            **env,
            "MOORAGE_DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0].replace(
                "postgresql://", "postgresql+psycopg://"
            )
            + f"/{name}",
        }
    finally:
        with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def database_url(env: dict[str, str], data_dir: Path) -> str:
    return env.get("MOORAGE_DATABASE_URL") or Settings(data_dir=data_dir).resolved_database_url


def create_team(slug: str, data_dir: Path, env: dict[str, str], cwd: Path) -> str:
    out = run_cli("admin", "create-team", slug, "--data-dir", str(data_dir), env=env, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["api_key"])


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/datasets")
    expect(page).to_have_title("Sign in · moorage")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Datasets")).to_be_visible()


AXE = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / "axe-core" / "axe.min.js"


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is (the context must bypass
    the pages' CSP, which allows scripts from the site only)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@contextmanager
def session_client(url: str, key: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in through the sign-in form, as a browser would be."""
    with httpx.Client(base_url=url, timeout=60) as client:
        csrf = client.get("/sign-in").cookies["moorage_signin_csrf"]
        r = client.post("/sign-in", data={"api_key": key, "csrf_token": csrf})
        assert r.status_code == 303, r.text
        yield client
