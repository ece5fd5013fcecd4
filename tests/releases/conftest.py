"""A live moorage with in-process workers, a dataset of real files registered and processed,
and darwin-py (3.6.3, from PyPI) pointed at it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from moorage.context import AppContext
from moorage.worker.runtime import Runtime
from tests.conftest import LiveServer, TeamFixture, make_team
from tests.helpers import jpeg_bytes, make_video


def wait_for(condition: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``condition`` until it is truthy (the work happens in other threads)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        pause.wait(0.02)


@pytest.fixture
def runtime(ctx: AppContext) -> Iterator[Runtime]:
    """In-process Dramatiq (StubBroker) with two worker threads, as ``moorage serve`` runs it."""
    rt = Runtime(ctx, broker_url=None, threads=2)
    rt.install()
    rt.start_workers(reconcile_every=3600)
    yield rt
    rt.stop()


@dataclass
class Site:
    url: str
    ctx: AppContext
    team: TeamFixture
    bucket: Path
    #: storage key -> the original's bytes
    files: dict[str, bytes]

    @property
    def headers(self) -> dict[str, str]:
        return {**self.team.headers, "Content-Type": "application/json"}

    def get(self, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("headers", self.headers)
        return requests.get(f"{self.url}{path}", timeout=30, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> requests.Response:
        kw.setdefault("headers", self.headers)
        return requests.post(f"{self.url}{path}", json=body, timeout=30, **kw)

    def register(self, dataset: str, keys: list[str]) -> None:
        """Register ``keys`` as items of ``dataset`` (folders kept) and wait for processing."""
        items = [
            {"name": Path(k).name, "path": "/" + str(Path(k).parent).strip("."), "storage_key": k}
            for k in keys
        ]
        body = {"items": items, "dataset_slug": dataset, "storage_slug": "media"}
        r = self.post(f"/api/v2/teams/{self.team.slug}/items/register_existing", body)
        assert r.status_code == 200 and not r.json()["blocked_items"], r.text

        def processed() -> bool:
            listed = self.get(f"/api/v2/teams/{self.team.slug}/items").json()["items"]
            return all(i["processing_status"] == "complete" for i in listed)

        assert wait_for(processed), "items were not processed"

    def exports(self, dataset: str = "darwin-py") -> str:
        return f"/api/v2/teams/{self.team.slug}/datasets/{dataset}/exports"

    def export(self, name: str, **body: Any) -> dict[str, Any]:
        r = self.post(self.exports(), {"name": name, "format": "darwin_json_2", **body})
        assert r.status_code == 200, r.text
        return self.wait_complete(name)

    def wait_complete(self, name: str) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            for release in self.get(self.exports()).json():
                if release["name"] == name and release["status"] != "pending":
                    return release
            return None

        release = wait_for(done)
        assert release is not None and release["status"] == "complete", release
        return release


IMAGES = {"cars/red.jpg": (64, 48), "cars/blue.jpg": (80, 60), "plane.jpg": (32, 32)}
VIDEO = "clips/seals.mp4"


def setup_site(server: LiveServer, bucket: Path, team: TeamFixture) -> Site:
    site = Site(server.url, server.ctx, team, bucket, {})
    assert site.post("/api/datasets", {"name": "Darwin Py"}).status_code == 200
    storage = {"name": "media", "slug": "media", "provider": "local", "bucket": "media"}
    assert site.post(f"/api/teams/{team.slug}/storage", storage).status_code == 200
    for key, (w, h) in IMAGES.items():
        site.files[key] = jpeg_bytes(w, h)
    site.files[VIDEO] = make_video(seconds=1, fps=10)
    for key, data in site.files.items():
        (bucket / key).parent.mkdir(parents=True, exist_ok=True)
        (bucket / key).write_bytes(data)
    site.register("darwin-py", list(site.files))
    return site


@pytest.fixture
def site(live_server: LiveServer, runtime: Runtime, team: TeamFixture, bucket: Path) -> Site:
    return setup_site(live_server, bucket, team)


@pytest.fixture
def darwin(site: Site, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """darwin-py's client for team ``acme``; its datasets dir is under ``tmp_path/home``."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DARWIN_BASE_URL", site.url)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DARWIN_RETRY_MAX_ATTEMPTS", "1")
    from darwin.client import Client

    return Client.from_api_key(site.team.api_key)


@pytest.fixture
def other_team(ctx: AppContext) -> TeamFixture:
    return make_team(ctx, "rival")
