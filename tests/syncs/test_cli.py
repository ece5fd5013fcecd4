"""``moorage sync`` as a real process against a real ``moorage serve``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from moorage.cli_sync import SyncClient
from tests.helpers import jpeg_bytes
from tests.test_cli import live_serve, run_cli


@pytest.fixture
def served(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[str, dict[str, str], Path]]:
    data_dir = tmp_path / "data"
    with live_serve(["--data-dir", str(data_dir)], env=env, cwd=tmp_path) as url:
        out = run_cli(
            "admin", "create-team", "acme", "--data-dir", str(data_dir), env=env, cwd=tmp_path
        )
        assert out.returncode == 0, out.stderr
        key = json.loads(out.stdout)["api_key"]
        headers = {"Authorization": f"ApiKey {key}"}
        bucket = data_dir / "storage" / "acme" / "media"
        bucket.mkdir(parents=True)
        assert (
            httpx.post(f"{url}/api/datasets", json={"name": "Photos"}, headers=headers).status_code
            == 200
        )
        r = httpx.post(
            f"{url}/api/teams/acme/storage",
            headers=headers,
            json={"name": "media", "provider": "local", "bucket": "media"},
        )
        assert r.status_code == 200, r.text
        yield url, {**env, "MOORAGE_URL": url, "MOORAGE_API_KEY": key}, bucket


class TestSyncCommand:
    def test_progress_summary_blocked_exit_code_then_clean_resync(self, served, tmp_path):
        _, env, bucket = served
        for name in ("a.jpg", "b.jpg", "sub/c.jpg"):
            (bucket / name).parent.mkdir(parents=True, exist_ok=True)
            (bucket / name).write_bytes(jpeg_bytes())
        (bucket / "notes.txt").write_text("not media")
        out = run_cli("sync", "--dataset", "photos", "--storage", "media", env=env, cwd=tmp_path)
        assert out.returncode == 1, out.stderr
        assert "blocked: notes.txt: UNSUPPORTED_TYPE" in out.stderr
        assert "registered" in out.stderr and "complete" in out.stderr  # the summary table
        out = run_cli(
            "sync", "--dataset", "photos", "--storage", "media", "--json", env=env, cwd=tmp_path
        )
        assert out.returncode == 0, out.stderr
        final = json.loads(out.stdout)
        assert final["state"] == "complete"
        assert final["counts"]["unchanged"] == 4 and final["counts"]["registered"] == 0

    def test_dry_run_and_flags_reach_the_server(self, served, tmp_path) -> None:
        _, env, bucket = served
        (bucket / "x").mkdir()
        (bucket / "x" / "a.jpg").write_bytes(jpeg_bytes())
        (bucket / "y.jpg").write_bytes(jpeg_bytes())
        out = run_cli(
            "sync",
            "--dataset",
            "photos",
            "--storage",
            "media",
            "--prefix",
            "x/",
            "--include",
            "*.jpg",
            "--dry-run",
            "--json",
            env=env,
            cwd=tmp_path,
        )
        assert out.returncode == 0, out.stderr
        final = json.loads(out.stdout)
        assert final["prefix"] == "x/" and final["options"]["dry_run"] is True
        assert final["options"]["include"] == ["*.jpg"]
        assert final["counts"]["listed"] == 1

    def test_refused_sync_exits_2_with_the_reason(self, served, tmp_path) -> None:
        _, env, _ = served
        out = run_cli("sync", "--dataset", "photos", "--storage", "nope", env=env, cwd=tmp_path)
        assert out.returncode == 2
        assert "404" in out.stderr and "nope" in out.stderr
        out = run_cli(
            "sync",
            "--dataset",
            "photos",
            "--storage",
            "media",
            "--group",
            "all",
            env=env,
            cwd=tmp_path,
        )
        assert out.returncode == 2 and "group" in out.stderr


class _Flaky(BaseHTTPRequestHandler):
    """Answers 429, then 503, then 200: a server under load."""

    answers: list[int] = []

    def do_GET(self) -> None:
        status = self.answers.pop(0) if self.answers else 200
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "3")
        body = b'{"ok": true}'
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class TestRetries:
    def test_429_and_5xx_are_retried_with_backoff(self) -> None:
        _Flaky.answers = [429, 503, 502]
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        waits: list[float] = []
        try:
            client = SyncClient(f"http://127.0.0.1:{server.server_port}", "k", sleep=waits.append)
            assert client.json("GET", "/x") == {"ok": True}
        finally:
            server.shutdown()
        assert waits == [3.0, 1.0, 2.0], "Retry-After first, then the backoff"

    def test_connection_errors_are_retried(self) -> None:
        from tests.conftest import free_port

        waits: list[float] = []
        client = SyncClient(f"http://127.0.0.1:{free_port()}", "k", sleep=waits.append)
        with pytest.raises(Exception, match="cannot reach moorage"):
            client.call("GET", "/x")
        assert len(waits) == 6
