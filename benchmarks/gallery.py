"""The gallery's dataset page on 100,000 items against the same page on 100 (issue 11).

`uv run python benchmarks/gallery.py` (`--only sqlite|postgresql`, `--items`, `--runs`).
Per engine: a real ``moorage serve`` (its own process), one team, a dataset of 100 and one of
100,000 processed image items bulk-loaded into its tables (every slot pointing at one real
thumbnail), then, for both datasets:

- the server's render of the dataset page over HTTP, signed in (median of ``--runs``, bar
  100 ms), and of the next page of the grid (the fragment the page appends as one scrolls);
- in Debian's Chromium (Playwright, headless): from navigation to the first grid of
  thumbnails visible (every card in the viewport with its image decoded; bar 1 s), then from
  a scroll to just before the next page is fetched (the cards on the way loaded) on to the
  grid's end, until the next page's cards are in, and until its first thumbnail is decoded
  (bar 200 ms). Medians of 5 fresh page loads (a sixth, first, warms Chromium and is left out).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from PIL import Image
from playwright.sync_api import Browser, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers

from tests.test_cli import MOORAGE, free_port, run_cli, wait_ready
from tests.web.bulk import bulk_load
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

from moorage.config import Settings

BARS = {"render": 100.0, "visible": 1000.0, "next cards": 200.0, "next": 200.0}
VISIBLE = """() => {
  const cards = [...document.querySelectorAll('#grid li.card')];
  const shown = cards.filter(c => c.getBoundingClientRect().top < innerHeight);
  return shown.length > 0 && shown.every(c => { const i = c.querySelector('img.thumb');
    return i && !i.dataset.src && i.complete && i.naturalWidth > 1; });
}"""
#: the page fetches the next one when its "More items" link is within 600 px of the viewport
BEFORE_NEXT = """() => { const more = document.querySelector('#grid a.next');
  window.scrollTo(0, more.getBoundingClientRect().top + scrollY - innerHeight - 650); }"""
CARDS_IN = "n => document.querySelectorAll('#grid li.card').length > n"
NEXT_IN = """n => { const cards = document.querySelectorAll('#grid li.card');
  if (cards.length <= n) return false;
  const i = cards[n].querySelector('img.thumb');
  return i && !i.dataset.src && i.complete && i.naturalWidth > 1; }"""


def _thumbnail() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (178, 100), (40, 120, 200)).save(out, "JPEG", quality=80)
    return out.getvalue()


@contextmanager
def serve(data_dir: Path, env: dict[str, str], cwd: Path) -> Iterator[str]:
    """``moorage serve`` with its log in a file (a pipe nobody reads would fill and stall it)."""
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
def server(engine: str) -> Iterator[tuple[str, Path, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_")}
        data_dir, cwd = Path(tmp) / "data", Path(tmp) / "cwd"
        cwd.mkdir()
        dbname = None
        if engine == "postgresql":
            dbname = f"moorage_gallery_{uuid.uuid4().hex[:8]}"
            with psycopg.connect("postgresql://postgres@127.0.0.1/postgres", autocommit=True) as c:
                c.execute(f'CREATE DATABASE "{dbname}"')
            env["MOORAGE_DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1/{dbname}"
        try:
            with serve(data_dir, env, cwd) as url:
                out = run_cli(
                    "admin", "create-team", "bench", "--data-dir", str(data_dir), env=env, cwd=cwd
                )
                db_url = (
                    env.get("MOORAGE_DATABASE_URL")
                    or Settings(data_dir=data_dir).resolved_database_url
                )
                yield url, data_dir, orjson.loads(out.stdout)["api_key"] + "\n" + db_url
        finally:
            if dbname:
                with psycopg.connect(
                    "postgresql://postgres@127.0.0.1/postgres", autocommit=True
                ) as c:
                    c.execute(f'DROP DATABASE "{dbname}" WITH (FORCE)')


def load(url: str, data_dir: Path, key: str, db_url: str, sizes: dict[str, int]) -> None:
    thumbs = data_dir / "storage" / "bench" / "media" / "thumbs"
    thumbs.mkdir(parents=True)
    (thumbs / "t.jpg").write_bytes(_thumbnail())
    with httpx.Client(base_url=url, headers={"Authorization": f"ApiKey {key}"}) as api:
        r = api.post(
            "/api/teams/bench/storage",
            json={"name": "media", "provider": "local", "bucket": "media"},
        )
        r.raise_for_status()
        for name, total in sizes.items():
            api.post("/api/datasets", json={"name": name}).raise_for_status()
            start = time.perf_counter()
            bulk_load(
                db_url,
                team_slug="bench",
                dataset_slug=name,
                storage_slug="media",
                thumbnail_key="thumbs/t.jpg",
                total=total,
            )
            print(f"  bulk-loaded {total:,} items in {time.perf_counter() - start:.1f} s")


def sign_in(url: str, key: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    form = client.get("/sign-in")
    csrf = form.cookies["moorage_signin_csrf"]
    r = client.post("/sign-in", data={"api_key": key, "csrf_token": csrf})
    assert r.status_code == 303, r.text
    return client


def _requests(client: httpx.Client, slug: str) -> dict[str, Callable[[], None]]:
    """The server's part of the page: the page, its next grid page, its folder counts."""
    first = client.get(f"/datasets/{slug}")
    assert first.status_code == 200 and first.text.count('class="card') == 60, first.text[:300]
    href = first.text.split('data-fragment="', 1)[1].split('"', 1)[0].replace("&amp;", "&")

    def page() -> None:
        assert client.get(f"/datasets/{slug}").status_code == 200

    def fragment() -> None:
        assert client.get(href).text.count('class="card') > 0

    def counts() -> None:
        assert client.get(f"/datasets/{slug}?fragment=folders").status_code == 200

    return {
        "render": page,
        "next page (server)": fragment,
        "folder counts (after the page)": counts,
    }


def server_figures(
    client: httpx.Client, slugs: list[str], runs: int
) -> dict[str, dict[str, float]]:
    """Medians of ``runs``, the datasets alternated in every run (after one warm-up each)."""
    calls = {slug: _requests(client, slug) for slug in slugs}
    times: dict[str, dict[str, list[float]]] = {s: {n: [] for n in calls[s]} for s in slugs}
    for run in range(runs + 1):
        for slug in slugs:
            for name, fn in calls[slug].items():
                start = time.perf_counter()
                fn()
                if run:
                    times[slug][name].append(time.perf_counter() - start)
    return {
        slug: {name: statistics.median(t) * 1000 for name, t in by_name.items()}
        for slug, by_name in times.items()
    }


def browser_figures(
    browser: Browser, url: str, cookies: list[dict[str, Any]], slug: str
) -> dict[str, float]:
    visible: list[float] = []
    cards_in: list[float] = []
    following: list[float] = []
    for _ in range(6):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_cookies(cookies)  # type: ignore[arg-type]
        page = context.new_page()
        start = time.perf_counter()
        page.goto(f"{url}/datasets/{slug}")
        page.wait_for_function(VISIBLE, polling="raf")
        visible.append(time.perf_counter() - start)
        # scroll as a reader does: down to just before the next page is fetched, the cards
        # seen on the way loaded; then on to the end of the grid, timed
        page.evaluate(BEFORE_NEXT)
        page.wait_for_function(VISIBLE, polling="raf")
        page.wait_for_load_state("networkidle")
        assert page.locator("#grid li.card").count() == 60
        start = time.perf_counter()
        page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_function(CARDS_IN, arg=60, polling="raf")
        cards_in.append(time.perf_counter() - start)
        page.wait_for_function(NEXT_IN, arg=60, polling="raf")
        following.append(time.perf_counter() - start)
        context.close()
    # the first load warms Chromium's own caches (fonts, the stylesheet): left out
    return {
        "visible": statistics.median(visible[1:]) * 1000,
        "next cards": statistics.median(cards_in[1:]) * 1000,
        "next": statistics.median(following[1:]) * 1000,
    }


def run(engine: str, items: int, runs: int, browser: Browser) -> None:
    sizes = {"small": 100, "large": items}
    with server(engine) as (url, data_dir, secret):
        key, db_url = secret.split("\n")
        print(f"[{engine}] server {url}")
        load(url, data_dir, key, db_url, sizes)
        client = sign_in(url, key)
        cookies = [{"name": c.name, "value": c.value or "", "url": url} for c in client.cookies.jar]
        rows = server_figures(client, list(sizes), runs)
        for slug in sizes:
            rows[slug].update(browser_figures(browser, url, cookies, slug))
        client.close()
    labels = {
        "render": f"server render of the page (median of {runs})",
        "next page (server)": "server render of the next grid page",
        "folder counts (after the page)": "folder counts fragment (fetched after the page)",
        "visible": "Chromium: navigation to first grid visible (median of 5)",
        "next cards": "Chromium: scroll to the next page's cards in (median of 5)",
        "next": "Chromium: scroll to the next page's first thumbnail decoded (median of 5)",
    }
    for name, label in labels.items():
        small, large = rows["small"][name], rows["large"][name]
        bar = f"; bar {BARS[name]:.0f} ms" if name in BARS else ""
        print(
            f"[{engine}] {label}: {items:,} items {large:.1f} ms, 100 items {small:.1f} ms, "
            f"ratio {large / small:.2f}{bar}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    engines = [args.only] if args.only else ["sqlite", "postgresql"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for engine in engines:
            run(engine, args.items, args.runs, browser)
        browser.close()


if __name__ == "__main__":
    main()
