"""Every timestamp of every API answer has one form: RFC 3339 in UTC with ``Z``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from moorage.kit.timestamps import rfc3339
from tests.helpers import REGISTER, make_storage

ONE_FORM = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
#: anything that looks like a date and a time, in whatever form
LOOKS_LIKE_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d")


class TestRfc3339:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=UTC), "2026-01-02T03:04:05.000007Z"),
            (datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05.000000Z"),  # naive is UTC
            (
                datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=timezone(timedelta(hours=2))),
                "2026-01-02T01:04:05.120000Z",
            ),
            (None, None),
        ],
    )
    def test_one_form(self, value: datetime | None, expected: str | None) -> None:
        assert rfc3339(value) == expected


def _timestamps(doc: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Every value under a ``*_at`` key, and every string that looks like a time."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            path = f"{where}.{key}" if where else str(key)
            if str(key).endswith("_at") and not isinstance(value, dict | list):
                if value is not None:
                    yield path, value
            else:
                yield from _timestamps(value, path)
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _timestamps(value, f"{where}.{i}")
    elif isinstance(doc, str) and LOOKS_LIKE_TIME.search(doc):
        yield where, doc


def _answers(api: TestClient, put_file: Any) -> dict[str, list[Any]]:
    """One answer of each kind, per resource, as JSON."""
    storage = make_storage(api)
    patched = api.patch("/api/teams/acme/storage/media", json={"name": "Renamed"})
    dataset = api.post("/api/datasets", json={"name": "Stamps"}).json()
    put_file("a.jpg")
    registered = api.post(
        REGISTER,
        json={
            "items": [{"name": "a.jpg", "path": "/", "storage_key": "a.jpg"}],
            "dataset_slug": dataset["slug"],
            "storage_slug": "media",
        },
    ).json()
    item_id = registered["items"][0]["id"]
    created_key = api.post("/api/teams/acme/api_keys", json={"name": "ci"}).json()
    revoked = api.delete(f"/api/teams/acme/api_keys/{created_key['prefix']}").json()
    return {
        "storages": [
            storage,
            patched.json(),
            api.get("/api/teams/acme/storage").json(),
            api.get("/api/teams/acme/storage/media").json(),
        ],
        "datasets": [
            dataset,
            api.get("/api/datasets").json(),
            api.get(f"/api/datasets/{dataset['id']}").json(),
        ],
        "items": [
            registered,
            api.get("/api/v2/teams/acme/items").json(),
            api.get(f"/api/v2/teams/acme/items/{item_id}").json(),  # with its jobs' progress
        ],
        "api keys": [created_key, revoked, api.get("/api/teams/acme/api_keys").json()],
    }


def test_every_answer_has_one_timestamp_form(api: TestClient, put_file: Any, bucket: Any) -> None:
    for resource, answers in _answers(api, put_file).items():
        found = [(path, value) for doc in answers for path, value in _timestamps(doc)]
        assert len(found) >= 2 * len(answers), (resource, found)  # every answer has some
        wrong = [(path, value) for path, value in found if not ONE_FORM.fullmatch(str(value))]
        assert wrong == [], resource
