"""JSON logs: one object a line, the request id in every line of a request, no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
import structlog
from fastapi.testclient import TestClient

from moorage.logs import configure_logging
from tests.conftest import TeamFixture
from tests.helpers import REGISTER


@pytest.fixture
def json_logs() -> Iterator[Callable[[], list[dict]]]:
    """JSON logging, as ``MOORAGE_LOG_FORMAT=json`` sets it up; returns the lines so far."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("INFO", "json")
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.setStream(buffer)

    def lines() -> list[dict]:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return [json.loads(line) for line in text.splitlines()]

    yield lines
    root.handlers[:], level = saved
    root.setLevel(level)
    structlog.reset_defaults()


class TestRequestId:
    def test_every_line_of_a_request_carries_its_id(
        self, api: TestClient, team: TeamFixture, dataset, rw_storage, put_file, json_logs
    ) -> None:
        put_file("cars/red.jpg")
        json_logs()
        r = api.post(
            REGISTER,
            headers={"X-Request-ID": "req-42.abc"},
            json={
                "dataset_slug": "darwin-py",
                "storage_slug": "media",
                "items": [{"storage_key": "cars/red.jpg", "name": "red.jpg"}],
            },
        )
        assert r.status_code == 200, r.text
        assert r.headers["X-Request-ID"] == "req-42.abc"
        # the test client's own line (httpx) is not the server's
        lines = [line for line in json_logs() if line["logger"] != "httpx"]
        events = [line["event"] for line in lines]
        assert "registration.completed" in events and "request.completed" in events
        assert {line.get("request_id") for line in lines} == {"req-42.abc"}
        done = next(line for line in lines if line["event"] == "request.completed")
        assert done["route"] == REGISTER.replace("acme", "{team}")
        assert done["status"] == 200 and done["level"] == "info" and "timestamp" in done
        assert team.api_key not in json.dumps(lines)

    @pytest.mark.parametrize("incoming", ["has spaces", "x" * 200, "a;b", "<script>", "%0d%0a"])
    def test_malformed_ids_are_replaced(self, client: TestClient, incoming: str) -> None:
        made = client.get("/healthz", headers={"X-Request-ID": incoming}).headers["X-Request-ID"]
        assert made != incoming and len(made) == 32 and int(made, 16) >= 0

    def test_ids_differ_between_requests(self, client: TestClient) -> None:
        ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(3)}
        assert len(ids) == 3


class TestSecrets:
    def test_secret_fields_keys_and_url_passwords_are_masked(
        self, team: TeamFixture, json_logs
    ) -> None:
        log = structlog.get_logger("test")
        log.info(
            "storage.checked",
            authorization=f"ApiKey {team.api_key}",
            note=f"used {team.api_key} here",
            broker="amqp://guest:hunter2@127.0.0.1:5672/",
            credentials={"secret_access_key": "abcd"},
        )
        logging.getLogger("uvicorn.error").warning("from %s", team.api_key)
        lines = json_logs()
        text = json.dumps(lines)
        assert team.api_key not in text and team.api_key[8:] not in text
        assert "hunter2" not in text and "abcd" not in text
        assert lines[0]["note"] == f"used {team.api_key[:7]}.*** here"
        assert lines[1]["event"] == f"from {team.api_key[:7]}.***"
        assert lines[1]["logger"] == "uvicorn.error"
