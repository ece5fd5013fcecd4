"""The error renderer of the app, for errors FastAPI itself raises."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette.routing import Match

from moorage.app import create_app, install_handlers
from moorage.context import AppContext


class Thing(BaseModel):
    name: str


def _client() -> TestClient:
    """A plain FastAPI route (not moorage's own route class): FastAPI parses the JSON."""
    app = FastAPI()
    install_handlers(app)

    @app.post("/things")
    def make(thing: Thing) -> dict[str, str]:
        return {"name": thing.name}

    return TestClient(app)


class TestValidationErrors:
    def test_broken_json_names_the_body_and_says_where(self) -> None:
        body = b'{\n  "name": "a",\n  "x": [1,}'
        r = _client().post("/things", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422
        error = r.json()["error"]
        assert error["field"] == "body"  # not FastAPI's byte offset
        assert "line 3, column 11" in error["message"], error["message"]
        assert r.json()["errors"] == {"body": [error["message"]]}

    def test_a_body_without_a_json_content_type_says_so(self) -> None:
        r = _client().post(
            "/things", content=b'{"name": "a"}', headers={"content-type": "text/plain"}
        )
        assert r.status_code == 422
        assert r.json()["error"]["field"] == "body"
        assert "Content-Type: application/json" in r.json()["error"]["message"]

    def test_a_wrong_field_is_named(self) -> None:
        r = _client().post("/things", json={"name": 3})
        assert r.json()["error"]["field"] == "name"


UPLOAD_PATHS = [
    ("POST", "/api/v2/teams/acme/items/register_upload"),
    ("GET", "/api/v2/teams/acme/items/uploads/0b6c1a5e-8f0c-4d0e-9d5a-1f2e3c4b5a69/sign"),
    ("POST", "/api/v2/teams/acme/items/uploads/0b6c1a5e-8f0c-4d0e-9d5a-1f2e3c4b5a69/confirm"),
    ("PUT", "/api/v2/uploads/a.token"),
]


class TestRouteOrder:
    @pytest.mark.parametrize(("method", "path"), UPLOAD_PATHS)
    def test_the_uploads_router_first_changes_nothing_but_speed(
        self, ctx: AppContext, method: str, path: str
    ) -> None:
        """The upload routes are matched first (run once a file); no other route takes their
        paths with their methods, so which route answers a request is as before."""
        app = create_app(ctx.settings, ctx, start_runtime=False)
        scope = {"type": "http", "method": method, "path": path, "root_path": "", "app": app}
        full = [i for i, r in enumerate(app.routes) if r.matches(dict(scope))[0] == Match.FULL]
        assert len(full) == 1, full
