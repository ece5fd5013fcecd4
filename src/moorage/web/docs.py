"""``/docs`` (Swagger UI) and ``/redoc``, with their scripts served by moorage itself.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on a machine without internet they
are blank. These pages are the same, pointed at the vendored copies under ``/static/vendor``
(versions and licences in ``static/vendor/README.md``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
_VENDOR = "/static/vendor"
#: the pages load nothing from elsewhere: ReDoc's footer, for one, asks cdn.redoc.ly for a logo
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)


def _self_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CSP
    return page


def install_docs(app: FastAPI, *, openapi_url: str = "/openapi.json") -> None:
    """Mount ``/static`` and add the two docs pages (the app is made with ``docs_url=None``)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - API docs",
            swagger_js_url=f"{_VENDOR}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{_VENDOR}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{_VENDOR}/swagger-ui/favicon-32x32.png",
        )
        return _self_only(page)

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - API reference",
            redoc_js_url=f"{_VENDOR}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{_VENDOR}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )
        return _self_only(page)
