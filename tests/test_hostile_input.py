"""Hostile input over real HTTP to a live uvicorn, on SQLite and on PostgreSQL.

Each answer is a 4xx naming the field (or, inside register_existing, a blocked item with a
reason), the same on both engines, and the same keep-alive connection answers the next request.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, TeamFixture
from tests.helpers import REGISTER

BIG = 10**399  # a 400-digit integer
LONE = "\udfff"
NUL = "a\x00b"
ITEMS = "/api/v2/teams/acme/items"
STORAGE = "/api/teams/acme/storage"


def _local_port(response: httpx.Response) -> int:
    return response.extensions["network_stream"].get_extra_info("client_addr")[1]


@pytest.fixture
def http(live_server: LiveServer, team: TeamFixture, bucket, put_file) -> Iterator[httpx.Client]:
    """One keep-alive connection to the live server, with a dataset and a local storage."""
    put_file("a.jpg")
    with httpx.Client(base_url=live_server.url, headers=team.headers, timeout=30) as c:
        assert c.post("/api/datasets", json={"name": "Darwin Py"}).status_code == 200
        r = c.post(STORAGE, json={"name": "media", "provider": "local", "bucket": "media"})
        assert r.status_code == 200, r.text
        yield c


def refused(http: httpx.Client, response: httpx.Response, field: str) -> dict[str, Any]:
    """A 4xx in the project's error shape naming ``field``, and the connection still serves."""
    assert 400 <= response.status_code < 500, response.text
    assert response.headers.get("connection") != "close"
    body = response.json()
    assert body["error"]["field"] == field, body
    assert body["errors"] == {field: [body["error"]["message"]]}
    again = http.get("/api/users/token_info")
    assert again.status_code == 200
    assert _local_port(again) == _local_port(response), "the keep-alive connection was dropped"
    return body


def raw_json(http: httpx.Client, method: str, url: str, payload: Any) -> httpx.Response:
    """Send ``payload`` as JSON text; the standard library writes lone surrogates and huge
    integers as given (``"\\udfff"``, 400 digits)."""
    import json

    body = json.dumps(payload).encode()
    return http.request(method, url, content=body, headers={"Content-Type": "application/json"})


def item(**fields: Any) -> dict[str, Any]:
    return {"name": "a.jpg", "path": "/", "storage_key": "a.jpg", **fields}


def register(*items: Any, **top: Any) -> dict[str, Any]:
    return {"items": list(items), "dataset_slug": "darwin-py", "storage_slug": "media", **top}


CREATE = {"name": "other", "provider": "local", "bucket": "media"}

BODY_CASES: list[tuple[str, str, str, Any, str]] = [
    # (case id, method, url, payload, field)
    ("dataset-name-surrogate", "POST", "/api/datasets", {"name": LONE}, "name"),
    ("dataset-name-nul", "POST", "/api/datasets", {"name": NUL}, "name"),
    ("dataset-name-newline", "POST", "/api/datasets", {"name": "a\nb"}, "name"),
    ("dataset-name-too-long", "POST", "/api/datasets", {"name": "x" * 201}, "name"),
    ("dataset-name-bigint", "POST", "/api/datasets", {"name": BIG}, "name"),
    ("dataset-surrogate-key", "POST", "/api/datasets", {"name": "ok", LONE: 1}, "body"),
    ("register-slug-surrogate", "POST", REGISTER, register(dataset_slug=LONE), "dataset_slug"),
    ("register-slug-nul", "POST", REGISTER, register(dataset_slug="darwin\x00py"), "dataset_slug"),
    ("register-storage-nul", "POST", REGISTER, register(storage_slug=NUL), "storage_slug"),
    ("register-options-nul", "POST", REGISTER, register(options={"k": [NUL]}), "options"),
    ("register-fps-bigint", "POST", REGISTER, register(item(fps=BIG)), "items.0.fps"),
    ("register-fps-neg-bigint", "POST", REGISTER, register(item(fps=-BIG)), "items.0.fps"),
    (
        "register-width-bigint",
        "POST",
        REGISTER,
        register(item(slots=[{"slot_name": "0", "storage_key": "a.jpg", "width": BIG}])),
        "items.0.slots.0.width",
    ),
    ("register-name-surrogate", "POST", REGISTER, register(item(name=LONE)), "items.0.name"),
    (
        "register-tag-key-surrogate",
        "POST",
        REGISTER,
        register(item(tags={LONE: "x"})),
        "items.0.tags",
    ),
    (
        "register-priority-bigint",
        "POST",
        REGISTER,
        register(item(priority=BIG)),
        "items.0.priority",
    ),
    ("storage-name-nul", "POST", STORAGE, {**CREATE, "name": NUL}, "name"),
    ("storage-name-surrogate", "POST", STORAGE, {**CREATE, "name": LONE}, "name"),
    ("storage-slug-nul", "POST", STORAGE, {**CREATE, "slug": NUL}, "slug"),
    ("storage-bucket-nul", "POST", STORAGE, {**CREATE, "bucket": NUL}, "bucket"),
    ("storage-prefix-nul", "POST", STORAGE, {**CREATE, "prefix": NUL}, "prefix"),
    ("storage-region-long", "POST", STORAGE, {**CREATE, "region": "r" * 101}, "region"),
    ("storage-endpoint-nul", "POST", STORAGE, {**CREATE, "endpoint_url": NUL}, "endpoint_url"),
    ("storage-options-nul", "POST", STORAGE, {**CREATE, "options": {NUL: 1}}, "options"),
    ("storage-secret-nul", "POST", STORAGE, {**CREATE, "credentials": {"k": NUL}}, "credentials.k"),
    ("storage-patch-name-nul", "PATCH", f"{STORAGE}/media", {"name": NUL}, "name"),
    ("storage-patch-surrogate", "PATCH", f"{STORAGE}/media", {"prefix": LONE}, "prefix"),
    (
        "archive-names-nul",
        "POST",
        f"{ITEMS}/archive",
        {"filters": {"item_names": [NUL]}},
        "item_names",
    ),
    (
        "archive-ids-bigint",
        "POST",
        f"{ITEMS}/archive",
        {"filters": {"dataset_ids": [BIG]}},
        "filters.dataset_ids.0",
    ),
    (
        "restore-paths-surrogate",
        "POST",
        f"{ITEMS}/restore",
        {"filters": {"item_paths": [LONE]}},
        "filters.item_paths.0",
    ),
    ("delete-statuses-nul", "DELETE", ITEMS, {"filters": {"statuses": NUL}}, "statuses"),
]


class TestJsonBodies:
    @pytest.mark.parametrize(
        ("method", "url", "payload", "field"),
        [c[1:] for c in BODY_CASES],
        ids=[c[0] for c in BODY_CASES],
    )
    def test_refused_naming_the_field(self, http, method, url, payload, field) -> None:
        refused(http, raw_json(http, method, url, payload), field)

    def test_nothing_was_stored(self, http) -> None:
        for _, method, url, payload, _ in BODY_CASES:
            raw_json(http, method, url, payload)
        assert [d["name"] for d in http.get("/api/datasets").json()] == ["Darwin Py"]
        assert [s["slug"] for s in http.get(STORAGE).json()] == ["media"]


def _cursor(value: Any, seq: Any) -> str:
    import json

    return base64.urlsafe_b64encode(json.dumps([value, seq]).encode()).decode().rstrip("=")


URL_CASES: list[tuple[str, str, str]] = [
    ("names-nul", f"{ITEMS}?item_names=a%00b", "item_names"),
    ("names-brackets-nul", f"{ITEMS}?item_names[]=%00", "item_names[]"),
    ("paths-nul", f"{ITEMS}?item_paths=%2Fa%00", "item_paths"),
    ("statuses-nul", f"{ITEMS}?statuses=new%00", "statuses"),
    ("slot-types-nul", f"{ITEMS}/folders?dataset_ids=1&slot_types=%00", "slot_types"),
    ("unknown-param-nul", f"{ITEMS}?whatever=%00", "whatever"),
    ("page-size-bigint", f"{ITEMS}?page[size]={BIG}", "page[size]"),
    ("dataset-ids-bigint", f"{ITEMS}?dataset_ids={BIG}", "dataset_ids"),
    ("cursor-nul", f"{ITEMS}?sort[filename]=asc&page[from]={_cursor(NUL, 1)}", "page[from]"),
    ("cursor-type", f"{ITEMS}?sort[filename]=asc&page[from]={_cursor(5, 1)}", "page[from]"),
    ("cursor-date", f"{ITEMS}?sort[updated_at]=asc&page[from]={_cursor(7, 1)}", "page[from]"),
    ("cursor-priority", f"{ITEMS}?sort[priority]=asc&page[from]={_cursor(2**40, 1)}", "page[from]"),
    ("cursor-seq", f"{ITEMS}?page[from]={_cursor(None, 2**70)}", "page[from]"),
    ("cursor-neg-seq", f"{ITEMS}?page[from]={_cursor(None, -(2**40))}", "page[from]"),
    ("storage-slug-nul", f"{STORAGE}/me%00dia", "slug"),
    ("dataset-id-bigint", f"/api/datasets/{BIG}", "dataset_id"),
    (
        "slot-name-nul",
        f"{ITEMS}/00000000-0000-0000-0000-000000000000/slots/a%00b/file",
        "slot_name",
    ),
    ("item-id-nul", f"{ITEMS}/a%00b", "item_id"),
    (
        "section-bigint",
        f"{ITEMS}/00000000-0000-0000-0000-000000000000/slots/0/sections/{BIG}/hq",
        "section",
    ),
]


class TestUrlParameters:
    @pytest.mark.parametrize(
        ("url", "field"), [c[1:] for c in URL_CASES], ids=[c[0] for c in URL_CASES]
    )
    def test_refused_naming_the_parameter(self, http, url, field) -> None:
        refused(http, http.get(url), field)

    def test_surrogate_bytes_in_a_url_are_replaced(self, http) -> None:
        # UTF-8 cannot carry a lone surrogate: its bytes are invalid and decode as U+FFFD
        r = http.get(f"{ITEMS}?item_names=%ED%BF%BF")
        assert r.status_code == 200 and r.json()["items"] == []
        r = http.get(f"{STORAGE}/%ED%BF%BF")
        assert r.status_code == 404 and r.json()["error"]["field"] == "slug"

    def test_delete_by_nul_slug(self, http) -> None:
        refused(http, http.delete(f"{STORAGE}/me%00dia"), "slug")
        assert [s["slug"] for s in http.get(STORAGE).json()] == ["media"]


SLOT = {"slot_name": "0", "storage_key": "a.jpg"}

ITEM_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    # (case id, item, reason, field)
    ("name-nul", item(name="a\x00.jpg"), "INVALID_NAME", "name"),
    ("name-newline", item(name="a\n.jpg"), "INVALID_NAME", "name"),
    ("name-cr", item(name="a\r.jpg"), "INVALID_NAME", "name"),
    ("name-tab", item(name="a\t.jpg"), "INVALID_NAME", "name"),
    ("name-escape", item(name="\x1b[31ma.jpg"), "INVALID_NAME", "name"),
    ("name-del", item(name="a\x7f.jpg"), "INVALID_NAME", "name"),
    ("name-c1", item(name="a\x85.jpg"), "INVALID_NAME", "name"),
    ("name-too-long", item(name="n" * 1025 + ".jpg"), "INVALID_NAME", "name"),
    ("path-nul", item(path="/a\x00"), "INVALID_PATH", "path"),
    ("path-newline", item(path="/a\nb"), "INVALID_PATH", "path"),
    ("path-crlf", item(path="/a\r\nb"), "INVALID_PATH", "path"),
    ("path-too-long", item(path="/" + "p" * 1024), "INVALID_PATH", "path"),
    (
        "slot-name-nul",
        item(slots=[{**SLOT, "slot_name": NUL}]),
        "INVALID_FIELD",
        "slots.0.slot_name",
    ),
    (
        "slot-name-newline",
        item(slots=[{**SLOT, "slot_name": "a\nb"}]),
        "INVALID_FIELD",
        "slot_name",
    ),
    (
        "slot-name-long",
        item(slots=[{**SLOT, "slot_name": "s" * 201}]),
        "INVALID_FIELD",
        "slot_name",
    ),
    ("file-name-nul", item(file_name="a\x00.jpg"), "INVALID_FIELD", "file_name"),
    ("file-name-newline", item(file_name="a\n.jpg"), "INVALID_FIELD", "file_name"),
    ("file-name-long", item(file_name="f" * 1025 + ".jpg"), "INVALID_FIELD", "file_name"),
    ("tag-nul", item(tags=["ok", NUL]), "INVALID_TAGS", "tags.1"),
    ("tag-key-nul", item(tags={NUL: "v"}), "INVALID_TAGS", "tags"),
    ("tag-value-nul", item(tags={"k": NUL}), "INVALID_TAGS", "tags.k"),
    ("tag-newline", item(tags=["a\nb"]), "INVALID_TAGS", "tags"),
    ("tag-too-long", item(tags=["t" * 201]), "INVALID_TAGS", "tags"),
    ("key-nul", item(storage_key="a\x00.jpg"), "INVALID_STORAGE_KEY", "storage_key"),
    ("metadata-nul", item(metadata={"a": {"b": [NUL]}}), "INVALID_FIELD", "metadata.a.b.0"),
    ("metadata-key-nul", item(metadata={NUL: 1}), "INVALID_FIELD", "metadata"),
    (
        "layout-nul",
        item(layout={"version": 1, "type": "simple", "slots": ["0"], "x": NUL}),
        "INVALID_LAYOUT",
        "layout.x",
    ),
    (
        "thumbnail-key-nul",
        item(slots=[{**SLOT, "storage_thumbnail_key": NUL}]),
        "INVALID_STORAGE_KEY",
        "slots.0.storage_thumbnail_key",
    ),
    (
        "section-key-nul",
        item(slots=[{**SLOT, "sections": [{"storage_hq_key": NUL}]}]),
        "INVALID_STORAGE_KEY",
        "slots.0.sections.0.storage_hq_key",
    ),
    ("unknown-field-nul", item(whatever=NUL), "INVALID_FIELD", "whatever"),
]


class TestRegisteredItems:
    @pytest.mark.parametrize(
        ("bad", "reason", "field"), [c[1:] for c in ITEM_CASES], ids=[c[0] for c in ITEM_CASES]
    )
    def test_blocked_with_a_reason(self, http, bad, reason, field) -> None:
        good = item(name="good.jpg")
        r = raw_json(http, "POST", REGISTER, register(bad, good))
        assert r.status_code == 200, r.text
        body = r.json()
        assert [i["name"] for i in body["items"]] == ["good.jpg"]
        (blocked,) = body["blocked_items"]
        assert blocked["reason"] == reason, blocked
        assert blocked["field"] == field, blocked
        assert blocked["slots"][0]["reason"] == reason
        assert field.split(".")[-1] in blocked["message"] or field in blocked["message"]
        again = http.get(ITEMS, params={"dataset_ids": body["items"][0]["dataset_id"]})
        assert again.status_code == 200
        assert _local_port(again) == _local_port(r)
        assert [i["name"] for i in again.json()["items"]] == ["good.jpg"]


class TestEveryRoute:
    def test_every_route_reads_input_through_moorage_route(self, ctx) -> None:
        from fastapi.routing import APIRoute

        from moorage.app import create_app
        from moorage.kit.routing import MoorageRoute

        app = create_app(ctx.settings, ctx)
        plain = [
            r.path
            for r in app.routes
            if isinstance(r, APIRoute) and not isinstance(r, MoorageRoute)
        ]
        assert plain == [], "make these routers with moorage.kit.routing.api_router()"
