"""Window/level in the DICOM and NIfTI viewer, in Debian's Chromium: the canvas shows the
slice's original values through the window the preset (or the typed W/L, or a drag) says.

One live ``moorage serve`` (SQLite, in-process workers) with pydicom's CT slice, the same slice
carrying its own window (W400/L40), and nibabel's anatomical volume. The canvas' greys are read
back and compared with the window applied in numpy to what pydicom and nibabel read.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pydicom
import pytest
from playwright.sync_api import Browser, Page, expect
from pydicom.pixels.processing import apply_modality_lut

from moorage.media.windowing import nifti_values, windowed
from tests.media.conftest import NIBABEL_DATA, PYDICOM_FILES
from tests.test_cli import live_serve
from tests.web.conftest import create_team, serious_violations, sign_in

CT = PYDICOM_FILES / "CT_small.dcm"


@dataclass
class Scans:
    url: str
    key: str
    bucket: Path
    items: dict[str, str]  # name -> id

    def page_of(self, name: str) -> str:
        return f"{self.url}/datasets/scans/items/{self.items[name]}"


def _hu() -> np.ndarray:
    ds = pydicom.dcmread(CT)
    return apply_modality_lut(ds.pixel_array, ds)


def _wait_processed(api: httpx.Client, count: int) -> dict[str, str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        items = api.get("/api/v2/teams/acme/items").json()["items"]
        if len(items) == count and all(i["processing_status"] == "complete" for i in items):
            return {i["name"]: i["id"] for i in items}
        time.sleep(0.2)  # the workers run in the server process; their state is only seen here
    raise AssertionError("items still processing after 120 s")


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scans]:
    root = tmp_path_factory.mktemp("windowing")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_")}
    data_dir, cwd = root / "data", root / "cwd"
    cwd.mkdir()
    with live_serve(["--data-dir", str(data_dir)], env=env, cwd=cwd) as url:
        key = create_team("acme", data_dir, env, cwd)
        bucket = data_dir / "storage" / "acme" / "media"
        bucket.mkdir(parents=True)
        shutil.copy(CT, bucket / "ct.dcm")
        ds = pydicom.dcmread(CT)
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.save_as(bucket / "ct-window.dcm")
        shutil.copy(NIBABEL_DATA / "anatomical.nii", bucket / "brain.nii")
        headers = {"Authorization": f"ApiKey {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as api:
            assert api.post("/api/datasets", json={"name": "Scans"}).status_code == 200
            r = api.post(
                "/api/teams/acme/storage",
                json={"name": "media", "provider": "local", "bucket": "media", "prefix": "derived"},
            )
            assert r.status_code == 200, r.text
            names = ("ct.dcm", "ct-window.dcm", "brain.nii")
            r = api.post(
                "/api/v2/teams/acme/items/register_existing",
                json={
                    "dataset_slug": "scans",
                    "storage_slug": "media",
                    "items": [{"name": n, "storage_key": n} for n in names],
                },
            )
            assert r.status_code == 200 and r.json()["blocked_items"] == [], r.text
            items = _wait_processed(api, len(names))
        yield Scans(url, key, bucket, items)


@pytest.fixture
def page(browser: Browser, scans: Scans) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    sign_in(page, scans.url, scans.key)
    yield page
    context.close()
    assert refused == []  # no script, style or fetch of the viewer broke the pages' CSP


def _greys(page: Page) -> np.ndarray:
    """The canvas' pixels (grey: R = G = B), as rows x columns."""
    width, data = page.evaluate(
        """() => { const c = document.querySelector('canvas.windowed');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const grey = []; for (let i = 0; i < d.length; i += 4) grey.push(d[i]);
        return [c.width, grey]; }"""
    )
    return np.array(data, dtype=np.int64).reshape(-1, width)


def _window(page: Page) -> tuple[float, float]:
    canvas = page.locator("canvas.windowed")
    return float(canvas.get_attribute("data-center") or "nan"), float(
        canvas.get_attribute("data-width") or "nan"
    )


def _assert_shows(page: Page, values: np.ndarray, center: float, width: float) -> np.ndarray:
    assert _window(page) == (center, width)
    greys = _greys(page)
    assert greys.shape == values.shape
    assert np.abs(greys - windowed(values, center, width)).max() <= 1
    return greys


def test_the_files_own_window_is_the_default_and_a_preset_rewindows(
    page: Page, scans: Scans, tmp_path: Path
) -> None:
    page.goto(scans.page_of("ct-window.dcm"))
    viewer = page.locator(".viewer")
    expect(viewer).to_have_attribute("data-windowed", "1")
    preset = page.get_by_label("Window preset")
    expect(preset).to_have_value("File")
    expect(page.get_by_label("W", exact=True)).to_have_value("400")
    expect(page.get_by_label("L", exact=True)).to_have_value("40")
    expect(page.locator("img.section")).to_be_hidden()
    hu = _hu()
    before = _assert_shows(page, hu, 40, 400)

    preset.select_option("Lung W1500 L-600")
    after = _assert_shows(page, hu, -600, 1500)
    assert (before != after).mean() > 0.5  # most pixels changed, as the windows predict
    y, x = 64, 64  # one pixel, against pydicom's HU and the linear window by hand
    low = -600 - 0.5 - (1500 - 1) / 2
    assert abs(after[y, x] - np.clip((hu[y, x] - low) * 255 / 1499, 0, 255)) <= 1
    expect(page.get_by_label("W", exact=True)).to_have_value("1500")
    expect(page.get_by_label("L", exact=True)).to_have_value("-600")
    page.screenshot(path=str(tmp_path / "ct-lung.png"), full_page=True)  # for a person to look at

    # typed W/L, then a drag to the right: a wider window, preset "Custom"
    page.get_by_label("W", exact=True).fill("80")
    page.get_by_label("L", exact=True).fill("40")
    page.get_by_label("L", exact=True).press("Enter")
    expect(preset).to_have_value("Custom")
    _assert_shows(page, hu, 40, 80)
    box = page.locator("canvas.windowed").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 80, box["y"] + 20, steps=4)
    page.mouse.up()
    center, width = _window(page)
    assert center == 40 and width > 80
    _assert_shows(page, hu, center, width)


def test_without_a_file_window_the_default_is_the_full_range(page: Page, scans: Scans) -> None:
    page.goto(scans.page_of("ct.dcm"))
    expect(page.locator(".viewer")).to_have_attribute("data-windowed", "1")
    preset = page.get_by_label("Window preset")
    expect(preset).to_have_value("Full range")
    expect(preset.locator('option[value="File"]')).to_have_count(0)
    hu = _hu()
    # the window that maps min to 0 and max to 255: the stored slice's own rendering
    width = hu.max() - hu.min() + 1
    _assert_shows(page, hu, hu.min() + width / 2, width)


def test_nifti_slices_step_with_keys_and_wheel_and_stay_windowed(page: Page, scans: Scans) -> None:
    page.goto(scans.page_of("brain.nii"))
    viewer = page.locator(".viewer")
    expect(viewer).to_have_attribute("data-windowed", "1")
    expect(page.get_by_label("Window preset")).to_have_value("Volume (0.5-99.5 %)")
    center, width = _window(page)
    viewer.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator(".counter")).to_contain_text("Slice 2 /")
    expect(viewer).to_have_attribute("data-windowed", "2")
    page.locator(".stage").hover()
    page.mouse.wheel(0, 100)
    expect(page.locator(".counter")).to_contain_text("Slice 3 /")
    expect(viewer).to_have_attribute("data-windowed", "3")
    # the volume's window holds from slice to slice
    _assert_shows(page, nifti_values(scans.bucket / "brain.nii", 2, 2).values, center, width)


def test_viewer_pages_have_no_serious_accessibility_violations(
    browser: Browser, scans: Scans
) -> None:
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    sign_in(page, scans.url, scans.key)
    found = {}
    for name in ("ct-window.dcm", "brain.nii"):
        page.goto(scans.page_of(name))
        expect(page.locator(".viewer")).to_have_attribute("data-windowed", "1")
        found[name] = serious_violations(page)
    context.close()
    assert {k: v for k, v in found.items() if v} == {}
