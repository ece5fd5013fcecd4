"""The storage API's ``derivatives_storage`` and ``events`` fields: validated, team-scoped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from moorage.context import AppContext
from tests.conftest import make_team

URL = "/api/teams/acme/storage"
QUEUE = "http://127.0.0.1:9/123456789012/events"


@pytest.fixture(autouse=True)
def _folders(team_folder: Path) -> None:
    for name in ("media", "derived", "other"):
        (team_folder / name).mkdir()


def _local(api: TestClient, slug: str, bucket: str, **body: Any) -> Any:
    return api.post(
        URL, json={"name": slug, "slug": slug, "provider": "local", "bucket": bucket, **body}
    )


def _error(r: Any, status: int, field: str) -> str:
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field, r.json()
    return str(r.json()["error"]["message"])


@pytest.fixture
def derived(api: TestClient) -> dict:
    r = _local(api, "derived", "derived")
    assert r.status_code == 200, r.text
    return r.json()


class TestDerivativesStorage:
    def test_read_only_storage_names_one(self, api: TestClient, derived: dict) -> None:
        r = _local(api, "media", "media", readonly=True, derivatives_storage="derived")
        assert r.status_code == 200, r.text
        assert r.json()["derivatives_storage"] == "derived"
        assert api.get(f"{URL}/media").json()["derivatives_storage"] == "derived"
        assert derived["derivatives_storage"] is None
        listed = {s["slug"]: s["derivatives_storage"] for s in api.get(URL).json()}
        assert listed == {"derived": None, "media": "derived"}

    def test_set_and_cleared_by_update(self, api: TestClient, derived: dict) -> None:
        _local(api, "media", "media", readonly=True)
        r = api.patch(f"{URL}/media", json={"derivatives_storage": "derived"})
        assert r.status_code == 200 and r.json()["derivatives_storage"] == "derived"
        r = api.patch(f"{URL}/media", json={"name": "renamed"})
        assert r.json()["derivatives_storage"] == "derived"  # untouched when not sent
        r = api.patch(f"{URL}/media", json={"derivatives_storage": None})
        assert r.status_code == 200 and r.json()["derivatives_storage"] is None

    def test_unknown_slug_is_404(self, api: TestClient) -> None:
        r = _local(api, "media", "media", readonly=True, derivatives_storage="nope")
        _error(r, 404, "derivatives_storage")
        assert api.get(URL).json() == []

    def test_another_teams_storage_is_404(
        self, api: TestClient, client: TestClient, ctx: AppContext, storage_root: Path
    ) -> None:
        other = make_team(ctx, "other")
        (storage_root / "other" / "theirs").mkdir(parents=True)
        body = {"name": "theirs", "provider": "local", "bucket": "theirs"}
        r = client.post("/api/teams/other/storage", json=body, headers=other.headers)
        assert r.status_code == 200, r.text
        r = _local(api, "media", "media", readonly=True, derivatives_storage="theirs")
        message = _error(r, 404, "derivatives_storage")
        assert "'acme'" in message and "other" not in message
        _local(api, "media", "media", readonly=True)
        r = api.patch(f"{URL}/media", json={"derivatives_storage": "theirs"})
        _error(r, 404, "derivatives_storage")

    def test_read_only_target_is_422(self, api: TestClient) -> None:
        _local(api, "other", "other", readonly=True)
        r = _local(api, "media", "media", readonly=True, derivatives_storage="other")
        assert "read-only" in _error(r, 422, "derivatives_storage")

    def test_itself_is_422(self, api: TestClient, derived: dict) -> None:
        _local(api, "media", "media", readonly=True)
        r = api.patch(f"{URL}/media", json={"derivatives_storage": "media"})
        _error(r, 422, "derivatives_storage")

    def test_only_a_read_only_storage_names_one(self, api: TestClient, derived: dict) -> None:
        r = _local(api, "media", "media", derivatives_storage="derived")
        _error(r, 422, "derivatives_storage")
        _local(api, "media", "media", readonly=True, derivatives_storage="derived")
        r = api.patch(f"{URL}/media", json={"readonly": False})
        _error(r, 422, "derivatives_storage")
        r = api.patch(f"{URL}/media", json={"readonly": False, "derivatives_storage": None})
        assert r.status_code == 200, r.text

    def test_the_target_stays_read_write(self, api: TestClient, derived: dict) -> None:
        _local(api, "media", "media", readonly=True, derivatives_storage="derived")
        r = api.patch(f"{URL}/derived", json={"readonly": True})
        assert "'media'" in _error(r, 422, "readonly")
        assert api.get(f"{URL}/derived").json()["readonly"] is False

    def test_target_cannot_be_deleted_while_named(self, api: TestClient, derived: dict) -> None:
        _local(api, "media", "media", readonly=True, derivatives_storage="derived")
        _error(api.delete(f"{URL}/derived"), 409, "slug")
        api.patch(f"{URL}/media", json={"derivatives_storage": None})
        assert api.delete(f"{URL}/derived").status_code == 200

    @pytest.mark.parametrize(
        "value", [7, ["derived"], {"slug": "derived"}, "der\x00ived", "a\nb", "x" * 201]
    )
    def test_hostile_values_are_422(self, api: TestClient, derived: dict, value: Any) -> None:
        r = _local(api, "media", "media", readonly=True, derivatives_storage=value)
        _error(r, 422, "derivatives_storage")


class TestEvents:
    def _s3(self, api: TestClient, **body: Any) -> Any:
        return api.post(
            URL,
            json={
                "name": "raw",
                "provider": "minio",
                "bucket": "raw-bucket",
                "endpoint_url": "http://127.0.0.1:9",
                "readonly": True,
                **body,
            },
        )

    def test_stored_and_returned(self, api: TestClient) -> None:
        r = self._s3(api, events={"kind": "sqs", "queue_url": QUEUE, "region": "eu-west-1"})
        assert r.status_code == 200, r.text
        assert r.json()["events"] == {"kind": "sqs", "queue_url": QUEUE, "region": "eu-west-1"}
        r = api.patch(f"{URL}/raw", json={"events": {"kind": "sqs", "queue_url": QUEUE}})
        assert r.json()["events"] == {"kind": "sqs", "queue_url": QUEUE}
        r = api.patch(f"{URL}/raw", json={"events": None})
        assert r.status_code == 200 and r.json()["events"] is None
        assert self._s3(api, name="plain").json()["events"] is None

    @pytest.mark.parametrize(
        ("events", "field"),
        [
            ({"kind": "kafka", "queue_url": QUEUE}, "events.kind"),
            ({"queue_url": QUEUE}, "events.kind"),
            ({"kind": "sqs"}, "events.queue_url"),
            ({"kind": "sqs", "queue_url": "file:///etc/passwd"}, "events.queue_url"),
            ({"kind": "sqs", "queue_url": QUEUE + "\r\nHost: x"}, "events.queue_url"),
            ({"kind": "sqs", "queue_url": QUEUE, "extra": 1}, "events.extra"),
            ({"kind": "sqs", "queue_url": QUEUE, "region": 5}, "events.region"),
            ({"kind": "sqs", "queue_url": "http://" + "a" * 3000}, "events.queue_url"),
            ("sqs", "events"),
        ],
    )
    def test_hostile_values_name_the_field(self, api: TestClient, events: Any, field: str) -> None:
        _error(self._s3(api, events=events), 422, field)

    @pytest.mark.parametrize(
        "url",
        [
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/123/q",
            "http://metadata.google.internal/q",
            "http://0x7f000001:9/q",
            "http://user:pw@sqs.us-east-1.amazonaws.com/1/q",
        ],
    )
    def test_the_egress_policy_applies_to_the_queue(self, api: TestClient, url: str) -> None:
        r = self._s3(api, events={"kind": "sqs", "queue_url": url})
        assert "queue_url" in _error(r, 422, "events")
        self._s3(api)
        r = api.patch(f"{URL}/raw", json={"events": {"kind": "sqs", "queue_url": url}})
        _error(r, 422, "events")

    def test_bad_region_names_the_region(self, api: TestClient) -> None:
        r = self._s3(
            api, events={"kind": "sqs", "queue_url": QUEUE, "region": "us-east-1.evil.com"}
        )
        _error(r, 422, "events.region")

    def test_only_s3_storage_takes_sqs_events(self, api: TestClient) -> None:
        r = _local(api, "media", "media", events={"kind": "sqs", "queue_url": QUEUE})
        _error(r, 422, "events")
