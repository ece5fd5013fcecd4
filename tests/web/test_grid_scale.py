"""The grid on a dataset of 100,000 items, in Debian's Chromium, on SQLite and PostgreSQL.

The items are bulk-loaded into the live server's tables (``bulk.py``), each showing one real
thumbnail. The test checks what the grid does (first page, next page on scrolling, filters,
keyboard, the folder counts arriving after the page, a phone's width); how fast it does it is
``benchmarks/gallery.py``'s to measure. Screenshots go to ``<tmp>/screens``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.web.bulk import bulk_load
from tests.web.conftest import (
    create_team,
    database_url,
    engine_env,
    serious_violations,
    serve_logged,
    session_client,
    sign_in,
)

TOTAL = 100_000


@dataclass
class Big:
    url: str
    key: str
    other_key: str
    screens: Path


def _thumbnail() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (178, 100), (30, 110, 190)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def big(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Big]:
    root = tmp_path_factory.mktemp(f"big-{request.param}")
    data_dir, cwd = root / "data", root / "cwd"
    cwd.mkdir()
    with engine_env(request.param) as env, serve_logged(data_dir, env, cwd) as url:
        key = create_team("acme", data_dir, env, cwd)
        other_key = create_team("globex", data_dir, env, cwd)
        thumbs = data_dir / "storage" / "acme" / "media" / "thumbs"
        thumbs.mkdir(parents=True)
        (thumbs / "t.jpg").write_bytes(_thumbnail())
        with httpx.Client(base_url=url, headers={"Authorization": f"ApiKey {key}"}) as api:
            r = api.post(
                "/api/teams/acme/storage",
                json={"name": "media", "provider": "local", "bucket": "media"},
            )
            assert r.status_code == 200, r.text
            assert api.post("/api/datasets", json={"name": "Big"}).status_code == 200
        bulk_load(
            database_url(env, data_dir),
            team_slug="acme",
            dataset_slug="big",
            storage_slug="media",
            thumbnail_key="thumbs/t.jpg",
            total=TOTAL,
        )
        yield Big(url, key, other_key, root / "screens")


@pytest.fixture
def signed_in(browser: Browser, big: Big) -> Iterator[tuple[BrowserContext, Page]]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, big.url, big.key)
    yield context, page
    context.close()


def _shot(page: Page, big: Big, name: str) -> None:
    big.screens.mkdir(exist_ok=True)
    page.screenshot(path=str(big.screens / f"{name}.png"))


def _names(page: Page) -> list[str]:
    return page.locator("#grid li.card .name").all_text_contents()


def test_first_and_next_page_of_a_100k_dataset(
    signed_in: tuple[BrowserContext, Page], big: Big
) -> None:
    _, page = signed_in
    page.goto(f"{big.url}/datasets/big")
    cards = page.locator("#grid li.card")
    expect(cards).to_have_count(60)
    page.wait_for_function(
        "() => { const i = document.querySelector('#grid li.card img');"
        " return i && i.complete && i.naturalWidth === 178 }"
    )
    assert _names(page)[:2] == ["bulk0000000.jpg", "bulk0000001.jpg"]
    # the first screen's thumbnails load at once, the others as they near the viewport
    thumbs = page.locator("#grid li.card img.thumb")
    assert thumbs.first.get_attribute("data-src") is None
    assert (thumbs.nth(59).get_attribute("data-src") or "").endswith("/thumbnail")
    # the folder tree is there at once; its counts arrive after the page
    folders = page.get_by_role("navigation", name="Folders")
    expect(folders.get_by_role("link", name="f3", exact=True)).to_be_visible()
    expect(folders.locator(".count")).to_have_count(11)  # /bulk and its ten folders
    expect(folders.get_by_label("10000 items")).to_have_count(10)
    _shot(page, big, "big-dataset")

    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    expect(cards).to_have_count(120)
    assert _names(page)[60] == "bulk0000060.jpg"
    page.wait_for_function(
        "() => { const i = document.querySelectorAll('#grid li.card img.thumb')[59];"
        " return !i.dataset.src && i.complete && i.naturalWidth === 178 }"
    )
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    expect(cards).to_have_count(180)
    assert len(set(_names(page))) == 180


def test_keyboard_steps_through_the_grid_and_opens_an_item(
    signed_in: tuple[BrowserContext, Page], big: Big
) -> None:
    _, page = signed_in
    page.goto(f"{big.url}/datasets/big")
    links = page.locator("#grid li.card > a")
    per_row = page.evaluate(
        "() => { const c = [...document.querySelectorAll('#grid li.card')];"
        " return c.filter(x => x.offsetTop === c[0].offsetTop).length }"
    )
    assert per_row > 1
    links.first.focus()
    page.keyboard.press("ArrowRight")
    expect(links.nth(1)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(links.nth(1 + per_row)).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(links.nth(per_row)).to_be_focused()
    page.keyboard.press("End")
    expect(links.nth(59)).to_be_focused()
    page.keyboard.press("ArrowRight")  # past the last card: the next page comes, focus moves on
    expect(links.nth(60)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_title("bulk0000060.jpg · Big · moorage")


def test_filters_by_name_tag_and_folder(signed_in: tuple[BrowserContext, Page], big: Big) -> None:
    _, page = signed_in
    page.goto(f"{big.url}/datasets/big")
    page.get_by_label("Name").fill("0099999")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#grid li.card")).to_have_count(1)
    assert _names(page) == ["bulk0099999.jpg"]

    # case-insensitive, and %, _ are text, not patterns
    page.goto(f"{big.url}/datasets/big?q=BULK009999")
    expect(page.locator("#grid li.card")).to_have_count(10)
    for text in ("%", "_", "bulk%1"):
        page.goto(f"{big.url}/datasets/big?q={text.replace('%', '%25')}")
        expect(page.get_by_text("No items match these filters.")).to_be_visible()

    page.goto(f"{big.url}/datasets/big")
    page.get_by_label("Tag").fill("tenth")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#grid li.card")).to_have_count(60)
    assert all(name.endswith("0.jpg") for name in _names(page))
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    expect(page.locator("#grid li.card")).to_have_count(120)
    assert all(name.endswith("0.jpg") for name in _names(page))  # the next page keeps the tag

    page.get_by_role("navigation", name="Folders").get_by_role("link", name="f1").click()
    expect(page.get_by_text("No items match these filters.")).to_be_visible()
    page.goto(f"{big.url}/datasets/big?folder=/bulk/f1&q=00011")
    expected = [f"bulk{i:07d}.jpg" for i in range(1, TOTAL, 10) if "00011" in f"{i:07d}"]
    assert _names(page) == expected
    _shot(page, big, "big-filtered")


def test_a_phone_sees_one_column_without_sideways_scrolling(browser: Browser, big: Big) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in(page, big.url, big.key)
    for path, name in (("/datasets", "phone-datasets"), ("/datasets/big", "phone-dataset")):
        page.goto(big.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth"), path
        _shot(page, big, name)
    boxes = [page.locator("#grid li.card").nth(i).bounding_box() for i in range(2)]
    assert boxes[0] and boxes[1] and boxes[1]["x"] == boxes[0]["x"]  # one card a row
    assert boxes[0]["width"] > 300
    context.close()


def test_another_team_gets_404_for_every_part_of_the_grid(browser: Browser, big: Big) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, big.url, big.other_key)
    for query in ("", "?fragment=1", "?fragment=folders", "?q=bulk&tag=tenth"):
        response = page.goto(f"{big.url}/datasets/big{query}")
        assert response is not None and response.status == 404, query
    context.close()


def test_hostile_filters_are_refused_or_ignored_never_errors(big: Big) -> None:
    with session_client(big.url, big.key) as client:
        for query in ("q=" + "x" * 5000, "status=nope", "type=../x", "folder=%2F..%2F.."):
            r = client.get(f"/datasets/big?{query}")
            assert r.status_code == 200, query
            assert "No items match" in r.text or 'class="card' in r.text, query
        r = client.get("/datasets/big?q=a%00b")  # NUL: refused before any page code runs
        assert r.status_code == 422 and "q" in r.text
        r = client.get("/datasets/big?after=garbage")
        assert r.status_code == 400 and "cursor" in r.text
        assert "<title>Not possible · moorage</title>" in r.text


def test_big_dataset_page_has_no_serious_accessibility_violations(
    browser: Browser, big: Big
) -> None:
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    sign_in(page, big.url, big.key)
    page.goto(f"{big.url}/datasets/big")
    expect(page.get_by_role("navigation", name="Folders").locator(".count")).to_have_count(11)
    assert serious_violations(page) == []
    context.close()
