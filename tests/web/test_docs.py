"""``/docs`` and ``/redoc`` render in a browser that cannot reach the internet."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect


def test_swagger_ui_renders_offline(
    sqlite_server: str, offline_page: tuple[Page, list[str]]
) -> None:
    page, outside = offline_page
    page.goto(f"{sqlite_server}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("moorage")
    # an operation of the API is listed, so the OpenAPI document was fetched and rendered
    expect(
        page.locator(".opblock-summary-path", has_text="/register_existing").first
    ).to_be_visible()
    assert outside == []


def test_redoc_renders_offline(sqlite_server: str, offline_page: tuple[Page, list[str]]) -> None:
    page, outside = offline_page
    page.goto(f"{sqlite_server}/redoc")
    expect(page.locator("h1", has_text="moorage")).to_be_visible()
    expect(page.get_by_text("register_existing").first).to_be_attached()
    assert outside == []


def test_vendored_assets_are_served_with_their_licences(sqlite_server: str) -> None:
    for path in (
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui/swagger-ui.css",
        "/static/vendor/swagger-ui/LICENSE",
        "/static/vendor/redoc/redoc.standalone.js",
        "/static/vendor/redoc/LICENSE",
    ):
        response = httpx.get(sqlite_server + path)
        assert response.status_code == 200, path
        assert len(response.content) > 1000 or path.endswith("LICENSE"), path
    for page in ("/docs", "/redoc"):
        assert (
            "default-src 'self'"
            in httpx.get(sqlite_server + page).headers["content-security-policy"]
        )
    assert httpx.get(sqlite_server + "/static/../pyproject.toml").status_code == 404
    assert httpx.get(sqlite_server + "/static/vendor/nope.js").status_code == 404
