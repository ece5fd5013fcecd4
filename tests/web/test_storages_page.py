"""The storages page in Debian's Chromium: the connection check, a sync started from its form
with live progress, the form's CSRF and field errors, another team's storages and syncs.

A live ``moorage serve`` on SQLite and on PostgreSQL (its workers in process run the sync),
one local read-write storage holding real JPEGs under ``inbox/``. Screenshots go to
``<tmp>/screens``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.helpers import jpeg_bytes
from tests.web.conftest import (
    create_team,
    engine_env,
    serious_violations,
    serve_logged,
    session_client,
    sign_in,
)


@dataclass
class Site:
    url: str
    key: str
    other_key: str
    bucket: Path
    screens: Path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    root = tmp_path_factory.mktemp(f"storages-{request.param}")
    data_dir, cwd = root / "data", root / "cwd"
    cwd.mkdir()
    with engine_env(request.param) as env, serve_logged(data_dir, env, cwd) as url:
        key = create_team("acme", data_dir, env, cwd)
        other_key = create_team("globex", data_dir, env, cwd)
        bucket = data_dir / "storage" / "acme" / "media"
        (bucket / "inbox" / "day1").mkdir(parents=True)
        for i, name in enumerate(("a.jpg", "b.jpg", "day1/c.jpg", "notes.txt")):
            (bucket / "inbox" / name).write_bytes(jpeg_bytes(64 + i, 48))
        (bucket / "elsewhere.jpg").write_bytes(jpeg_bytes(32, 32))
        with httpx.Client(base_url=url, headers={"Authorization": f"ApiKey {key}"}) as api:
            r = api.post(
                "/api/teams/acme/storage",
                json={"name": "media", "provider": "local", "bucket": "media"},
            )
            assert r.status_code == 200, r.text
            assert api.post("/api/datasets", json={"name": "Photos"}).status_code == 200
            assert api.post("/api/datasets", json={"name": "Other"}).status_code == 200
        yield Site(url, key, other_key, bucket, root / "screens")


def _shot(page: Page, site: Site, name: str) -> None:
    site.screens.mkdir(exist_ok=True)
    page.screenshot(path=str(site.screens / f"{name}.png"), full_page=True)


def test_check_a_storage_then_sync_a_prefix_with_live_progress(
    browser: Browser, site: Site
) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, site.url, site.key)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Storages").click()
    expect(page).to_have_title("Storages · moorage")
    row = page.get_by_role("row", name="media")
    expect(row).to_contain_text("read-write")
    row.get_by_role("button", name="Check the connection of media").click()
    result = page.get_by_role("heading", name="Connection check of media: all good")
    expect(result).to_be_visible()
    for permission in ("list", "read", "write", "delete"):
        expect(page.locator(".check li.pass", has_text=permission)).to_have_count(1)
    _shot(page, site, "storages-checked")

    page.get_by_label("Storage", exact=True).select_option("media")
    page.get_by_label("Prefix", exact=True).fill("inbox/")
    page.get_by_label("Only keys matching", exact=True).fill("**.jpg")
    page.get_by_label("Into dataset", exact=True).select_option(label="Photos")
    page.get_by_role("button", name="Start the sync").click()
    expect(page).to_have_title("Sync of media/inbox/ · moorage")
    # the page polls the sync's progress: no reload here
    expect(page.locator("#sync-progress .state")).to_have_text("complete", timeout=60_000)
    expect(page.locator('#sync-progress [data-count="registered"]')).to_have_text("3")
    expect(page.locator("#sync-progress progress")).to_have_attribute("value", "100")
    _shot(page, site, "sync")

    page.get_by_role("link", name="photos").click()
    expect(page.locator("#grid li.card")).to_have_count(3)
    page.goto(f"{site.url}/storages")
    expect(page.get_by_role("row", name="media/inbox/")).to_contain_text("complete")
    context.close()


def test_sync_form_refuses_a_missing_token_and_names_a_bad_field(site: Site) -> None:
    form = {"storage_slug": "media", "dataset": "other", "prefix": ""}
    with session_client(site.url, site.key) as client:
        page = client.get("/storages").text
        csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        assert client.post("/storages/sync", data=form).status_code == 403
        assert client.post("/storages/sync", data={**form, "csrf_token": "x"}).status_code == 403
        assert client.post("/storages/media/check", data={}).status_code == 403
        r = client.post("/storages/sync", data={**form, "csrf_token": csrf, "prefix": "../up"})
        assert r.status_code == 422 and "prefix" in r.text and "&#39;..&#39;" in r.text
        r = client.post("/storages/sync", data={**form, "csrf_token": csrf, "prefix": "/abs"})
        assert r.status_code == 422 and "prefix" in r.text
        r = client.post("/storages/sync", data={**form, "csrf_token": csrf, "include": "x" * 2000})
        assert r.status_code == 422 and "include" in r.text
        r = client.post("/storages/sync", data={**form, "csrf_token": csrf, "dataset": "nope"})
        assert r.status_code == 404 and "nope" in r.text
        r = client.post("/storages/sync", data={**form, "csrf_token": csrf, "storage_slug": "x"})
        assert r.status_code == 404
        for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
            assert client.get(f"/syncs/{bad}").status_code == 404
        assert client.get("/syncs/").status_code == 404


def test_another_teams_storages_and_syncs_are_404(site: Site) -> None:
    with session_client(site.url, site.key) as acme:
        page = acme.get("/storages").text
        csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        data = {"storage_slug": "media", "dataset": "other", "prefix": "", "csrf_token": csrf}
        r = acme.post("/storages/sync", data=data)
        assert r.status_code == 303, r.text
        sync_path = r.headers["location"]
    with session_client(site.url, site.other_key) as globex:
        page = globex.get("/storages")
        assert page.status_code == 200 and "No storage connected yet" in page.text
        csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        assert globex.get(sync_path).status_code == 404
        assert globex.get(sync_path + "?fragment=1").status_code == 404
        assert globex.post("/storages/media/check", data={"csrf_token": csrf}).status_code == 404
        r = globex.post("/storages/sync", data={**data, "csrf_token": csrf})
        assert r.status_code == 404


def test_storages_and_sign_in_pages_have_no_serious_accessibility_violations(
    browser: Browser, site: Site
) -> None:
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{site.url}/sign-in")
    found = {"sign-in": serious_violations(page)}
    sign_in(page, site.url, site.key)
    page.goto(f"{site.url}/storages")
    found["storages"] = serious_violations(page)
    page.get_by_role("button", name="Check the connection of media").click()
    expect(page.locator(".check")).to_be_visible()
    found["storages, checked"] = serious_violations(page)
    page.get_by_label("Prefix", exact=True).fill("inbox/day1/")
    page.get_by_role("button", name="Start the sync").click()
    expect(page.locator("#sync-progress .state")).to_have_text("complete", timeout=60_000)
    found["sync"] = serious_violations(page)
    context.close()
    assert {k: v for k, v in found.items() if v} == {}
