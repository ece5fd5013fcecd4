"""Request bodies are capped (MOORAGE_MAX_BODY_BYTES) with a 413 before they are read."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from moorage.config import Settings
from tests.conftest import LiveServer, TeamFixture
from tests.helpers import REGISTER

MiB = 1024 * 1024
CHUNK = b"x" * (64 * 1024)


def _peak_rss_reset() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM, the peak resident set


def _peak_rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _connect(server: LiveServer) -> socket.socket:
    url = urlsplit(server.url)
    return socket.create_connection((url.hostname, url.port), timeout=30)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        assert part, f"connection closed before a response: {data!r}"
        data += part
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    headers = {k.lower(): v for k, v in headers.items()}
    length = int(headers["content-length"])
    while len(rest) < length:
        part = sock.recv(65536)
        assert part
        rest += part
    return int(lines[0].split()[1]), headers, rest[:length]


def _request_head(path: str, team: TeamFixture, extra: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: {team.headers['Authorization']}\r\n{extra}\r\n"
    ).encode()


def _assert_413(status: int, headers: dict[str, str], body: bytes, limit: int) -> None:
    assert status == 413
    assert headers["content-type"] == "application/json"
    error = orjson.loads(body)
    assert error["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert error["error"]["field"] == "body"
    assert str(limit) in error["error"]["message"]
    assert error["errors"] == {"body": [error["error"]["message"]]}


@pytest.fixture
def capped(ctx, request: pytest.FixtureRequest) -> LiveServer:
    """A live server with a 1 MiB cap."""
    ctx.settings = Settings(**{**ctx.settings.model_dump(), "max_body_bytes": MiB})
    return request.getfixturevalue("live_server")


class TestDeclaredLength:
    def test_over_the_cap_is_refused_before_a_byte_is_sent(self, live_server, team) -> None:
        limit = live_server.ctx.settings.max_body_bytes
        with _connect(live_server) as sock:
            # 100 MB announced, nothing sent: the answer cannot have waited for the body
            sock.sendall(_request_head(REGISTER, team, "Content-Length: 100000000\r\n"))
            status, headers, body = _read_response(sock)
        _assert_413(status, headers, body, limit)
        assert headers["connection"] == "close"

    def test_at_the_cap_is_read(self, capped, team) -> None:
        body = b'{"items": [], "dataset_slug": "nope", "pad": "' + b"x" * (MiB - 60)
        body += b" " * (MiB - len(body) - 2) + b'"}'
        assert len(body) == MiB
        with httpx.Client(base_url=capped.url, headers=team.headers) as http:
            r = http.post(REGISTER, content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 404 and r.json()["error"]["field"] == "dataset_slug"
            r = http.post(
                REGISTER, content=body + b" ", headers={"Content-Type": "application/json"}
            )
            assert r.status_code == 413


def _stream(server: LiveServer, team: TeamFixture, total: int) -> tuple[int, int, tuple]:
    """Send ``total`` bytes chunked; (bytes sent, peak RSS growth, the response)."""
    sent = 0
    with _connect(server) as sock:
        sock.sendall(_request_head(REGISTER, team, "Transfer-Encoding: chunked\r\n"))
        result: dict[str, tuple] = {}

        def read() -> None:
            result["response"] = _read_response(sock)

        reader = threading.Thread(target=read)
        _peak_rss_reset()
        before = _peak_rss()
        reader.start()
        frame = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n"
        try:
            while sent < total and reader.is_alive():
                sock.sendall(frame)
                sent += len(CHUNK)
        except OSError:
            pass  # the server stopped reading and closed: expected
        reader.join(timeout=30)
        growth = _peak_rss() - before
    return sent, growth, result["response"]


class TestStreamedBody:
    def test_chunked_body_stops_at_the_cap_and_memory_stays_flat(self, capped, team) -> None:
        sent, growth, response = _stream(capped, team, 100_000_000)
        _assert_413(*response, MiB)
        print(f"1 MiB cap: 413 after {sent / MiB:.1f} MiB sent; peak RSS +{growth / MiB:.1f} MiB")
        assert sent < 100_000_000, "the server read the whole 100 MB body"
        assert growth < 24 * MiB, f"peak RSS grew by {growth / MiB:.1f} MiB"

    def test_default_cap_holds_at_most_the_cap(self, live_server, team) -> None:
        limit = live_server.ctx.settings.max_body_bytes
        sent, growth, response = _stream(live_server, team, 100_000_000)
        _assert_413(*response, limit)
        print(f"default cap: 413 after {sent / MiB:.1f} MiB; peak RSS +{growth / MiB:.1f} MiB")
        assert sent < 100_000_000
        assert growth < 1.5 * limit, f"peak RSS grew by {growth / MiB:.1f} MiB"


class TestDefaultCap:
    def test_ten_thousand_realistic_items_fit(self) -> None:
        items = [
            {
                "name": f"IMG_{i:06d}.jpg",
                "path": "/survey-2024/site-17/drone-a/flight-0042",
                "slots": [
                    {
                        "slot_name": "0",
                        "type": "image",
                        "storage_key": f"survey-2024/site-17/drone-a/flight-0042/IMG_{i:06d}.jpg",
                        "file_name": f"IMG_{i:06d}.jpg",
                        "storage_thumbnail_key": f"thumbnails/survey-2024/IMG_{i:06d}.jpg",
                        "width": 4000,
                        "height": 3000,
                        "size_bytes": 8_123_456,
                        "metadata": {"camera": "DJI FC6310", "altitude_m": 120.5},
                    }
                ],
                "tags": ["survey", "site-17", "drone-a"],
            }
            for i in range(10_000)
        ]
        payload = orjson.dumps(
            {"items": items, "dataset_slug": "darwin-py", "storage_slug": "media"}
        )
        print(f"10,000 realistic items: {len(payload) / MiB:.1f} MiB")
        assert len(payload) < Settings().max_body_bytes / 4
