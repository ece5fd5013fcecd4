"""The gallery in Debian's Chromium: sign in, browse, open every viewer, fix a failure, sign out.

One live ``moorage serve`` (SQLite, in-process workers) with real processed items: a photo, a
video made by PyAV, pydicom's CT slice, nibabel's anatomical volume, a PDF made by Pillow, a
two-slot item and a file that is not the JPEG it claims to be. Screenshots of each page go to
the test's output folder (``<tmp>/screens``).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.helpers import jpeg_bytes, make_video
from tests.media.conftest import NIBABEL_DATA, PYDICOM_FILES
from tests.media.test_pdf import write_pdf
from tests.test_cli import live_serve, run_cli


@dataclass
class Gallery:
    url: str
    key: str
    other_key: str
    bucket: Path
    items: dict[str, str]  # name -> id
    screens: Path

    def api(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"ApiKey {key or self.key}"}, timeout=30
        )


def _create_team(slug: str, data_dir: Path, env: dict[str, str], cwd: Path) -> str:
    out = run_cli("admin", "create-team", slug, "--data-dir", str(data_dir), env=env, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["api_key"])


def _put_media(bucket: Path) -> None:
    bucket.mkdir(parents=True)
    (bucket / "photo.jpg").write_bytes(jpeg_bytes(800, 600))
    (bucket / "left.jpg").write_bytes(jpeg_bytes(320, 240))
    (bucket / "clip.mp4").write_bytes(make_video(seconds=2, fps=10))
    shutil.copy(PYDICOM_FILES / "CT_small.dcm", bucket / "ct.dcm")
    shutil.copy(NIBABEL_DATA / "anatomical.nii", bucket / "brain.nii")
    write_pdf(bucket / "doc.pdf", [(612, 792), (792, 612)])
    (bucket / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg at all")


def _wait_processed(api: httpx.Client) -> list[dict]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        items = api.get("/api/v2/teams/acme/items", params={"dataset_ids": _dataset_id(api)}).json()
        if all(i["processing_status"] != "processing" for i in items["items"]):
            return items["items"]
        time.sleep(0.2)  # the workers run in the server process; its state is only seen here
    raise AssertionError("items still processing after 120 s")


def _dataset_id(api: httpx.Client) -> int:
    return int(next(d["id"] for d in api.get("/api/datasets").json() if d["slug"] == "scans"))


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gallery]:
    import os

    root = tmp_path_factory.mktemp("gallery")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_")}
    data_dir, cwd = root / "data", root / "cwd"
    cwd.mkdir()
    with live_serve(["--data-dir", str(data_dir)], env=env, cwd=cwd) as url:
        key = _create_team("acme", data_dir, env, cwd)
        other_key = _create_team("globex", data_dir, env, cwd)
        bucket = data_dir / "storage" / "acme" / "media"
        _put_media(bucket)
        g = Gallery(url, key, other_key, bucket, {}, root / "screens")
        with g.api() as api:
            assert api.post("/api/datasets", json={"name": "Scans"}).status_code == 200
            r = api.post(
                "/api/teams/acme/storage",
                json={"name": "media", "provider": "local", "bucket": "media", "prefix": "derived"},
            )
            assert r.status_code == 200, r.text
            one = [
                {"name": n, "storage_key": n}
                for n in ("photo.jpg", "clip.mp4", "ct.dcm", "brain.nii", "doc.pdf", "broken.jpg")
            ]
            pair = {
                "name": "pair",
                "layout": {"version": 1, "type": "horizontal", "slots": ["left", "right"]},
                "slots": [
                    {"slot_name": "left", "storage_key": "left.jpg", "file_name": "left.jpg"},
                    {"slot_name": "right", "storage_key": "photo.jpg", "file_name": "photo.jpg"},
                ],
            }
            r = api.post(
                "/api/v2/teams/acme/items/register_existing",
                json={"dataset_slug": "scans", "storage_slug": "media", "items": [*one, pair]},
            )
            assert r.status_code == 200 and r.json()["blocked_items"] == [], r.text
            g.items = {i["name"]: i["id"] for i in _wait_processed(api)}
        yield g


def _shot(page: Page, gallery: Gallery, name: str) -> None:
    gallery.screens.mkdir(exist_ok=True)
    page.screenshot(path=str(gallery.screens / f"{name}.png"), full_page=True)


def _sign_in(page: Page, gallery: Gallery, key: str | None = None) -> None:
    page.goto(f"{gallery.url}/datasets")
    expect(page).to_have_title("Sign in · moorage")
    page.get_by_label("API key").fill(key or gallery.key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Datasets")).to_be_visible()


def _loaded(page: Page, selector: str) -> None:
    page.wait_for_function(
        "s => { const i = document.querySelector(s); return i && i.complete && i.naturalWidth > 0 }",
        arg=selector,
    )


def test_browse_view_fix_and_sign_out(browser: Browser, gallery: Gallery) -> None:
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, gallery)
    row = page.get_by_role("row", name="Scans")
    expect(row).to_contain_text("7")  # items
    _shot(page, gallery, "datasets")

    page.get_by_role("link", name="Scans").click()
    expect(page.locator("#grid li.card")).to_have_count(7)
    _loaded(page, "#grid li.card img.thumb:not([data-src])")
    expect(page.locator(".status-error .placeholder")).to_have_count(1)
    _shot(page, gallery, "dataset")

    page.goto(f"{gallery.url}/datasets/scans/items/{gallery.items['photo.jpg']}")
    _loaded(page, ".zoom img")
    _shot(page, gallery, "image")

    for name, noun in (("clip.mp4", "Frame"), ("brain.nii", "Slice"), ("doc.pdf", "Page")):
        page.goto(f"{gallery.url}/datasets/scans/items/{gallery.items[name]}")
        viewer = page.locator(".viewer")
        expect(page.locator(".counter")).to_contain_text(f"{noun} 1 /")
        _loaded(page, "img.section")
        viewer.focus()
        page.keyboard.press("ArrowRight")
        expect(page.locator(".counter")).to_contain_text(f"{noun} 2 /")
        _loaded(page, "img.section")
        assert "/sections/2/" in (page.locator("img.section").get_attribute("src") or "")
        _shot(page, gallery, name.split(".")[0])

    page.goto(f"{gallery.url}/datasets/scans/items/{gallery.items['ct.dcm']}")
    _loaded(page, "img.section")
    expect(page.locator(".counter")).to_contain_text("Slice 1 / 1")

    page.goto(f"{gallery.url}/datasets/scans/items/{gallery.items['pair']}")
    expect(page.locator(".slot")).to_have_count(2)
    expect(page.locator(".slots.layout-horizontal")).to_be_visible()

    # the failure is shown with its reason, fixed, and re-processed from the page
    page.goto(f"{gallery.url}/datasets/scans/items/{gallery.items['broken.jpg']}")
    expect(page.get_by_role("alert")).to_contain_text("broken.jpg")
    _shot(page, gallery, "error")
    (gallery.bucket / "broken.jpg").write_bytes(jpeg_bytes(640, 480))
    page.get_by_role("button", name="Re-process").click()
    deadline = time.monotonic() + 60
    while page.locator(".meta .badge").first.text_content() in ("error", "processing"):
        assert time.monotonic() < deadline, "re-processed item did not complete"
        page.wait_for_timeout(200)  # the worker runs in the server; the page shows it on reload
        page.reload()
    expect(page.locator(".meta .badge").first).to_have_text("new")
    expect(page.get_by_role("alert")).to_have_count(0)
    _loaded(page, ".zoom img")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_title("Sign in · moorage")
    page.goto(f"{gallery.url}/datasets")
    expect(page).to_have_title("Sign in · moorage")
    context.close()


def test_a_video_streams_over_hls_in_the_viewer(browser: Browser, gallery: Gallery) -> None:
    """The clip's hq playlist, played with the vendored hls.js: its segments decode and the
    video plays forward."""
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, gallery)
    page.goto(f"{gallery.url}/datasets/scans/items/{gallery.items['clip.mp4']}")
    video = page.locator(".stream video")
    expect(video).to_have_count(1)
    page.wait_for_function("() => document.querySelector('.viewer').dataset.streamLoaded === '1'")
    size = video.evaluate("v => [v.videoWidth, v.videoHeight, Math.round(v.duration)]")
    assert size == [160, 120, 2]
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('.stream video').currentTime > 0.5")
    expect(page.locator(".stream .stream-state")).to_have_text("Stream (HLS): playing")
    _shot(page, gallery, "stream")
    context.close()


def test_another_teams_pages_and_media_are_404(browser: Browser, gallery: Gallery) -> None:
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, gallery, gallery.other_key)
    photo = gallery.items["photo.jpg"]
    for path in ("/datasets/scans", f"/datasets/scans/items/{photo}"):
        response = page.goto(gallery.url + path)
        assert response is not None and response.status == 404, path
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    media = f"{gallery.url}/api/v2/teams/acme/items/{photo}/slots/0/thumbnail"
    assert page.request.get(media).status == 404
    context.close()


def test_session_rules(gallery: Gallery) -> None:
    photo = gallery.items["photo.jpg"]
    media = f"/api/v2/teams/acme/items/{photo}/slots/0/thumbnail"
    with httpx.Client(base_url=gallery.url, timeout=30) as browser_like:
        assert browser_like.get(media).status_code == 401
        form = browser_like.get("/sign-in")
        cookie = form.cookies.get("moorage_signin_csrf")
        assert cookie and f'value="{cookie}"' in form.text
        # sign-in without the form's token is refused
        r = browser_like.post("/sign-in", data={"api_key": gallery.key, "csrf_token": "x"})
        assert r.status_code == 403
        r = browser_like.post(
            "/sign-in",
            data={"api_key": gallery.key, "csrf_token": cookie, "next": "//evil.example"},
        )
        assert (r.status_code, r.headers["location"]) == (303, "/datasets")
        session_cookie = r.cookies["moorage_session"]
        assert gallery.key not in session_cookie and gallery.key.split(".")[1] not in session_cookie
        set_cookie = r.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=lax" in set_cookie
        assert browser_like.get(media).status_code == 200
        # forms without the session's CSRF token are refused
        assert browser_like.post("/datasets/scans/reprocess", data={}).status_code == 403
        assert browser_like.post("/sign-out", data={"csrf_token": "nope"}).status_code == 403
        # a tampered cookie is no session
        browser_like.cookies.set("moorage_session", session_cookie[:-2] + "xx")
        assert browser_like.get(media).status_code == 401
        assert browser_like.get("/datasets").status_code == 303


AXE = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / "axe-core" / "axe.min.js"


def _serious_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_pages_have_no_serious_accessibility_violations(browser: Browser, gallery: Gallery) -> None:
    """axe-core (npm, installed by scripts/emulators.sh) on the sign-in, datasets, dataset and
    item pages. The pages' CSP allows scripts from this site only, so the audit runs with CSP
    bypassed for this context (the pages are the same)."""
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{gallery.url}/sign-in")
    found = {"sign-in": _serious_violations(page)}
    _sign_in(page, gallery)
    found["datasets"] = _serious_violations(page)
    for name, path in (
        ("dataset", "/datasets/scans"),
        ("image", f"/datasets/scans/items/{gallery.items['photo.jpg']}"),
        ("video", f"/datasets/scans/items/{gallery.items['clip.mp4']}"),
        ("pair", f"/datasets/scans/items/{gallery.items['pair']}"),
    ):
        page.goto(gallery.url + path)
        page.wait_for_load_state("networkidle")
        found[name] = _serious_violations(page)
    context.close()
    assert {k: v for k, v in found.items() if v} == {}
