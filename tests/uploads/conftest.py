from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn

from moorage.app import create_app
from moorage.context import AppContext
from tests.conftest import LiveServer, TeamFixture, free_port, make_team
from tests.helpers import jpeg_bytes


@pytest.fixture
def working_server(ctx: AppContext) -> Iterator[LiveServer]:
    """moorage on a loopback port with its in-process workers, as ``moorage serve`` runs."""
    port = free_port()
    app = create_app(ctx.settings, ctx, start_runtime=True)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    while not server.started and thread.is_alive():
        started.wait(0.01)
    assert server.started, "uvicorn did not start"
    yield LiveServer(url=f"http://127.0.0.1:{port}", ctx=ctx)
    server.should_exit = True
    thread.join(timeout=30)


UPLOADS = "/api/v2/teams/acme/items/uploads"


def cloud_team(
    server: LiveServer, storage: dict[str, Any], *, root: str = ""
) -> tuple[TeamFixture, str]:
    """Team acme with dataset ``cloud`` and ``storage`` (an API body) as its default storage
    under a fresh prefix (after ``root``: Azure's container); returns the team and prefix."""
    team = make_team(server.ctx, "acme")
    r = requests.post(
        f"{server.url}/api/datasets", json={"name": "cloud"}, headers=team.headers, timeout=10
    )
    assert r.status_code == 200, r.text
    body = {"name": "bucket", "slug": "bucket", "default": True, **storage}
    body["prefix"] = f"{root}t-{uuid.uuid4().hex[:8]}"
    r = requests.post(
        f"{server.url}/api/teams/acme/storage", headers=team.headers, timeout=10, json=body
    )
    assert r.status_code == 200, r.text
    return team, str(r.json()["prefix"])


def register_one(server: LiveServer, team: TeamFixture, name: str) -> dict[str, Any]:
    """register_upload of one single-slot item into dataset ``cloud``: the item."""
    r = requests.post(
        f"{server.url}/api/v2/teams/acme/items/register_upload",
        headers=team.headers,
        timeout=10,
        json={"dataset_slug": "cloud", "items": [{"name": name, "slots": [{"file_name": name}]}]},
    )
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    return dict(item)


def sign_of(server: LiveServer, team: TeamFixture, upload_id: str) -> requests.Response:
    return requests.get(f"{server.url}{UPLOADS}/{upload_id}/sign", headers=team.headers, timeout=10)


def confirm_of(server: LiveServer, team: TeamFixture, upload_id: str) -> requests.Response:
    return requests.post(
        f"{server.url}{UPLOADS}/{upload_id}/confirm", json={}, headers=team.headers, timeout=10
    )


def darwin_py_push(
    server: LiveServer, team: TeamFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, bytes]:
    """``dataset.push`` of three JPEGs into ``cloud`` with darwin-py's Python API, unchanged;
    returns the files pushed, by name."""
    monkeypatch.setenv("DARWIN_BASE_URL", server.url)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DARWIN_RETRY_MAX_ATTEMPTS", "1")
    from darwin.client import Client

    dataset = Client.from_api_key(team.api_key).get_remote_dataset("cloud")
    files = {f"img{n}.jpg": jpeg_bytes(50 + n, 40) for n in range(3)}
    paths = []
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    handler = dataset.push(paths)
    assert handler.error_count == 0 and handler.blocked_count == 0, handler.errors
    return files
