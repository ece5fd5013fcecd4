"""The operator CLI, run as a user would: real processes, a real server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.conftest import free_port

MOORAGE = [sys.executable, "-m", "moorage.cli"]


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MOORAGE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_")}
    if database_url.startswith("postgresql"):
        out["MOORAGE_DATABASE_URL"] = database_url
        # a clean schema for this test
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return out


def wait_ready(url: str, proc: subprocess.Popen[str], log: IO[str] | None = None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if log is not None:
                log.seek(0)
            said = log.read() if log is not None else proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"server exited: {said}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)  # polling a port that is not open yet; nothing to await on
    raise AssertionError("server did not become ready")


@contextmanager
def live_serve(
    args: list[str], *, env: dict[str, str], cwd: Path, log_to: Path | None = None
) -> Iterator[str]:
    """``moorage serve`` as a subprocess on a free port, ready; yields its URL. Its log goes to
    a file (``log_to``, else a temporary one): a pipe nobody reads fills up after a few
    hundred requests and stalls the server."""
    port = free_port()
    opened = log_to.open("w+") if log_to else tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
    with opened as log:
        proc = subprocess.Popen(
            [*MOORAGE, "serve", "--port", str(port), *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, proc, log)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture
def server(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path / "data"
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    with live_serve(["--data-dir", str(data_dir)], env=env, cwd=cwd) as url:
        yield url, data_dir


class TestCli:
    def test_create_team_and_key_while_the_server_runs(self, server, env, tmp_path) -> None:
        url, data_dir = server
        out = run_cli(
            "admin",
            "create-team",
            "acme",
            "--name",
            "Acme",
            "--data-dir",
            str(data_dir),
            env=env,
            cwd=tmp_path,
        )
        assert out.returncode == 0, out.stderr
        created = json.loads(out.stdout)
        assert created["team"]["slug"] == "acme" and created["team"]["name"] == "Acme"
        key = created["api_key"]
        r = httpx.get(f"{url}/api/users/token_info", headers={"Authorization": f"ApiKey {key}"})
        assert r.json()["selected_team"]["slug"] == "acme"

        env2 = {**env, "MOORAGE_DATA_DIR": str(data_dir)}
        out = run_cli("admin", "create-key", "--team", "acme", env=env2, cwd=tmp_path)
        key2 = json.loads(out.stdout)["api_key"]
        assert key2 != key
        assert (
            httpx.get(f"{url}/api/datasets", headers={"Authorization": f"ApiKey {key2}"}).json()
            == []
        )
        assert (data_dir / "moorage.db").exists() != ("MOORAGE_DATABASE_URL" in env)
        assert httpx.get(f"{url}/docs").status_code == 200

    def test_errors_are_clear(self, env, tmp_path) -> None:
        data = str(tmp_path / "d")
        assert (
            run_cli(
                "admin", "create-team", "acme", "--data-dir", data, env=env, cwd=tmp_path
            ).returncode
            == 0
        )
        again = run_cli("admin", "create-team", "acme", "--data-dir", data, env=env, cwd=tmp_path)
        assert again.returncode == 1 and "already exists" in again.stderr
        bad = run_cli(
            "admin", "create-key", "--team", "nobody", "--data-dir", data, env=env, cwd=tmp_path
        )
        assert bad.returncode == 1 and "does not exist" in bad.stderr


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_serves(tmp_path: Path) -> None:
    """Migrations and everything else ship in the package: pip install ., then serve anywhere."""
    uv = shutil.which("uv")
    assert uv, "uv is installed by scripts/test"
    root = Path(__file__).resolve().parent.parent
    venv = tmp_path / "venv"
    subprocess.run(
        [uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=120
    )
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(root)],
        check=True,
        timeout=600,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOORAGE_", "VIRTUAL_ENV"))}
    cwd = tmp_path / "anywhere"
    cwd.mkdir()
    out = subprocess.run(
        [str(venv / "bin" / "moorage"), "admin", "create-team", "acme"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert (cwd / "moorage-data" / "moorage.db").exists()
    port = free_port()
    proc = subprocess.Popen(
        [str(venv / "bin" / "moorage"), "serve", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        key = json.loads(out.stdout)["api_key"]
        r = httpx.get(
            f"http://127.0.0.1:{port}/api/users/token_info",
            headers={"Authorization": f"ApiKey {key}"},
        )
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_create_storage_from_the_cli(env, tmp_path) -> None:
    data = str(tmp_path / "d")
    run_cli("admin", "create-team", "acme", "--data-dir", data, env=env, cwd=tmp_path)
    (tmp_path / "d" / "storage" / "acme" / "media").mkdir(parents=True)
    out = run_cli(
        "admin",
        "create-storage",
        "--team",
        "acme",
        "--name",
        "Media",
        "--provider",
        "local",
        "--bucket",
        "media",
        "--credential",
        "token=s3cr3t-value",
        "--data-dir",
        data,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert (body["slug"], body["default"], body["has_credentials"]) == ("media", True, True)
    assert "s3cr3t-value" not in out.stdout + out.stderr
    bad = run_cli(
        "admin",
        "create-storage",
        "--team",
        "acme",
        "--name",
        "x",
        "--provider",
        "local",
        "--bucket",
        "/etc",
        "--data-dir",
        data,
        env=env,
        cwd=tmp_path,
    )
    assert bad.returncode == 1 and "outside this team's folders" in bad.stderr


def test_prepare_then_register_on_read_only_storage(env, tmp_path, server) -> None:
    """The read-only flow end to end: moorage prepare, copy to the bucket, register, serve."""
    from tests.helpers import jpeg_bytes, make_video

    url, data_dir = server
    src = tmp_path / "src"
    src.mkdir()
    (src / "car.jpg").write_bytes(jpeg_bytes(1200, 800))
    (src / "clip.mp4").write_bytes(make_video(seconds=1, fps=10))
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    bucket = data_dir / "storage" / "acme" / "media"
    out = run_cli(
        "prepare",
        str(src / "car.jpg"),
        str(src / "clip.mp4"),
        str(src / "broken.png"),
        "--out",
        str(bucket),
        "--key-prefix",
        "uploads",
        "--dataset",
        "cars",
        "--storage",
        "media",
        "--originals",
        "copy",
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 1 and "broken.png" in out.stderr
    payload = json.loads(out.stdout)
    assert "errors" not in payload and len(payload["items"]) == 2
    for f in ("car.jpg", "clip.mp4"):
        assert (bucket / "uploads" / f).read_bytes() == (src / f).read_bytes()
    assert not (bucket / "uploads" / "broken.png").exists()
    created = json.loads(
        run_cli(
            "admin", "create-team", "acme", "--data-dir", str(data_dir), env=env, cwd=tmp_path
        ).stdout
    )
    h = {"Authorization": f"ApiKey {created['api_key']}"}
    httpx.post(f"{url}/api/datasets", json={"name": "cars"}, headers=h).raise_for_status()
    httpx.post(
        f"{url}/api/teams/acme/storage",
        headers=h,
        json={"name": "media", "provider": "local", "bucket": "media", "readonly": True},
    ).raise_for_status()
    body = httpx.post(
        f"{url}/api/v2/teams/acme/items/register_existing", json=payload, headers=h
    ).json()
    assert body["blocked_items"] == []
    video = next(i for i in body["items"] if i["name"] == "clip.mp4")
    assert video["processing_status"] == "complete" and video["slots"][0]["total_sections"] == 10
    thumb = httpx.get(video["slots"][0]["thumbnail_url"], headers=h)
    assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff"


def test_grant_list_and_revoke_folders_from_the_cli(env, tmp_path) -> None:
    data = tmp_path / "d"
    photos = tmp_path / "photos"
    photos.mkdir()
    (tmp_path / "via-link").symlink_to(photos)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli("admin", *args, "--data-dir", str(data), env=env, cwd=tmp_path)

    assert cli("create-team", "acme").returncode == 0
    out = cli("grant-folder", "--team", "acme", str(tmp_path / "via-link"))
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert (body["granted"], body["created"]) == (str(photos.resolve()), True)
    assert body["own_folders"] == [str((data / "storage" / "acme").resolve())]
    listed = json.loads(cli("list-folders", "--team", "acme").stdout)
    assert [f["path"] for f in listed["granted_folders"]] == [str(photos.resolve())]
    for shared in (data / "storage", data, Path("/")):
        refused = cli("grant-folder", "--team", "acme", str(shared))
        assert refused.returncode == 1 and "shared by every team" in refused.stderr
    missing = cli("grant-folder", "--team", "acme", str(tmp_path / "nope"))
    assert missing.returncode == 1 and "not an existing folder" in missing.stderr
    assert cli("grant-folder", "--team", "nobody", str(photos)).returncode == 1
    out = cli("revoke-folder", "--team", "acme", str(photos))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["granted_folders"] == []
    again = cli("revoke-folder", "--team", "acme", str(photos))
    assert again.returncode == 1 and "has no grant" in again.stderr


def test_serve_in_two_processes_registers_and_processes_once(env, tmp_path) -> None:
    """``--processes 2`` on either database: concurrent clients on their own connections
    register 48 images, each processed once by the workers of the process that took it."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.helpers import jpeg_bytes

    data_dir, log = tmp_path / "data", tmp_path / "serve.log"
    bucket = data_dir / "storage" / "acme" / "media"
    bucket.mkdir(parents=True)
    for i in range(48):
        (bucket / f"{i:02d}.jpg").write_bytes(jpeg_bytes(96 + i, 64))
    created = run_cli(
        "admin", "create-team", "acme", "--data-dir", str(data_dir), env=env, cwd=tmp_path
    )
    h = {"Authorization": f"ApiKey {json.loads(created.stdout)['api_key']}"}
    args = ["--data-dir", str(data_dir), "--processes", "2"]
    with live_serve(args, env=env, cwd=tmp_path, log_to=log) as url:
        httpx.post(f"{url}/api/datasets", json={"name": "cars"}, headers=h).raise_for_status()
        storage = {"name": "media", "provider": "local", "bucket": "media"}
        httpx.post(f"{url}/api/teams/acme/storage", json=storage, headers=h).raise_for_status()

        def register(first: int) -> int:
            items = [
                {
                    "path": "/",
                    "type": "image",
                    "name": f"{i:02d}.jpg",
                    "storage_key": f"{i:02d}.jpg",
                }
                for i in range(first, first + 6)
            ]
            body = {"items": items, "dataset_slug": "cars", "storage_slug": "media"}
            with httpx.Client(headers=h, timeout=60) as client:  # a connection of its own
                r = client.post(f"{url}/api/v2/teams/acme/items/register_existing", json=body)
            return r.status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(register, range(0, 48, 6))) == {200}

        def statuses() -> list[str]:
            r = httpx.get(f"{url}/api/v2/teams/acme/items", params={"page[size]": 100}, headers=h)
            return [i["processing_status"] for i in r.json()["items"]]

        deadline = time.monotonic() + 120
        while statuses() != ["complete"] * 48 and time.monotonic() < deadline:
            time.sleep(0.2)  # processing in other processes: nothing to await on but the API
        assert statuses() == ["complete"] * 48
    said = log.read_text()
    assert len(set(re.findall(r"Started server process \[(\d+)\]", said))) == 2, said[:2000]
    assert len(re.findall(r"\bjob\.done\b", said)) == 48, said[-2000:]  # each job once
    on_sqlite = "MOORAGE_DATABASE_URL" not in env
    assert ("each of the 2 processes counts requests" in said) == on_sqlite, said[-2000:]
