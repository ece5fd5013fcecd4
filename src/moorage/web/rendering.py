"""Jinja2 templates shipped inside the package; autoescaped, with the page's CSP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from moorage.websessions.service import SignedIn

_TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
# ``tojson`` (item data for the viewers) with the API's own encoder: datetimes, UUIDs; Jinja
# still escapes <, >, & and ' so a name holding "</script>" stays data
_TEMPLATES.env.policies["json.dumps_function"] = lambda value, **_: orjson.dumps(value).decode()
#: scripts and styles from this site only; images from this site (media may redirect to a
#: signed URL of the team's bucket, hence https: for img-src and media-src, and for connect-src:
#: hls.js fetches a playlist's segments, signed URLs of the bucket on cloud storage)
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; "
    "media-src 'self' blob: https:; connect-src 'self' https:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'"
)


def render(
    request: Request,
    template: str,
    *,
    me: SignedIn | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    page = _TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "me": me,
            "team": me.team if me else None,
            "csrf": context.pop("csrf", None) or (me.csrf_token if me else ""),
            **context,
        },
        status_code=status_code,
    )
    page.headers["Content-Security-Policy"] = PAGE_CSP
    page.headers["X-Content-Type-Options"] = "nosniff"
    page.headers["Referrer-Policy"] = "same-origin"
    page.headers["Cache-Control"] = "no-store"
    return page
