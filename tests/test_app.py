"""The error renderer of the app, for errors FastAPI itself raises."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from moorage.app import install_handlers


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
