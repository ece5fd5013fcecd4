"""``moorage prepare`` as a real process: options, progress, kill and resume, --register."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from moorage.prepare import MARKER_NAME
from tests.prepare.conftest import write_photo, write_tree
from tests.test_cli import MOORAGE, env, live_serve, run_cli  # noqa: F401 - a fixture

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def markers(root: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in root.rglob(MARKER_NAME)}


class TestOptions:
    @pytest.mark.parametrize(
        ("args", "option"),
        [
            (["--key-prefix", "s3://bucket/x"], "--key-prefix"),
            (["--key-prefix", "/abs"], "--key-prefix"),
            (["--key-prefix", "a/../b"], "--key-prefix"),
            (["--derivatives-prefix", ""], "--derivatives-prefix"),
            (["--jobs", "0"], "--jobs"),
            (["--originals", "move"], "--originals"),
            (["--register"], "--url"),
        ],
    )
    def test_a_bad_option_exits_2_naming_it(
        self, tmp_path: Path, args: list[str], option: str
    ) -> None:
        write_photo(tmp_path / "a.jpg")
        out = run_cli(
            "prepare", str(tmp_path / "a.jpg"), "--out", str(tmp_path / "out"), *args,
            env={k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_")},
            cwd=tmp_path,
        )  # fmt: skip
        assert out.returncode == 2, out.stderr
        assert out.stderr.startswith(f"error: {option}: "), out.stderr
        assert not (tmp_path / "out" / "s3:").exists()

    def test_a_folder_is_accepted_and_a_missing_path_fails(self, tmp_path: Path) -> None:
        root = write_tree(tmp_path / "photos")
        out = run_cli(
            "prepare", str(root), str(tmp_path / "nope"), "--out", str(tmp_path / "out"),
            "--key-prefix", "batch/", env=dict(os.environ), cwd=tmp_path,
        )  # fmt: skip
        assert out.returncode == 1
        assert f"error: {tmp_path / 'nope'}: probe: no such file or folder" in out.stderr
        items = json.loads(out.stdout)["items"]
        assert [i["slots"][0]["storage_key"] for i in items] == [
            "batch/a.jpg",
            "batch/sub/c.jpg",
            "batch/sub/deeper/b.png",
        ]
        assert "upload with:" in out.stderr
        assert f"aws s3 sync {root}/ 's3://<bucket>/batch/'" in out.stderr


class TestProgress:
    def test_a_bar_on_a_terminal_and_none_with_quiet(self, tmp_path: Path) -> None:
        root = write_tree(tmp_path / "photos")

        def stderr_on_a_terminal(*extra: str) -> str:
            primary, secondary = pty.openpty()
            proc = subprocess.Popen(
                [*MOORAGE, "prepare", str(root), "--out", str(tmp_path / "out"), "--jobs", "1", *extra],
                stdout=subprocess.DEVNULL, stderr=secondary, env=dict(os.environ), cwd=tmp_path,
            )  # fmt: skip
            os.close(secondary)
            chunks = []
            while True:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:  # the other end closed: the process is done
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            assert proc.wait(timeout=120) == 0
            os.close(primary)
            return ANSI.sub("", b"".join(chunks).decode(errors="replace"))

        shown = stderr_on_a_terminal()
        assert "files/s" in shown and "4/4" in shown  # readme.txt is looked at too
        quiet = stderr_on_a_terminal("--quiet")
        assert "files/s" not in quiet
        assert "moorage prepare: 3 file(s) ready (0 made, 3 already present)" in quiet


class TestKillAndResume:
    def test_a_killed_run_is_finished_by_the_next_doing_only_the_rest(self, tmp_path: Path) -> None:
        src = tmp_path / "photos"
        src.mkdir()
        total = 40
        for i in range(total):
            write_photo(src / f"p{i:03d}.jpg", i, size=(1600, 1200))
        out = tmp_path / "out"
        args = [*MOORAGE, "prepare", str(src), "--out", str(out), "--jobs", "2", "--quiet"]
        proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 180
        while len(markers(out)) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the files a running process writes
        assert proc.poll() is None, "finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # the command, its fork server and its workers
        proc.wait()
        before = markers(out)
        assert 3 <= len(before) < total
        done = subprocess.run(args, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        made = total - len(before)
        assert f"{total} file(s) ready ({made} made, {len(before)} already present)" in (
            done.stderr
        )
        after = markers(out)
        assert len(after) == total
        assert {p: after[p] for p in before} == before  # what was done was not done again
        items = json.loads(done.stdout)["items"]
        assert [i["name"] for i in items] == [f"p{i:03d}.jpg" for i in range(total)]


class TestRegister:
    def test_register_through_a_running_moorage(
        self,
        tmp_path: Path,
        env: dict[str, str],  # noqa: F811
    ) -> None:
        data = tmp_path / "data"
        # a server taking 2 items a request: the 3-item payload gets a 413 and is split
        env = {**env, "MOORAGE_DATA_DIR": str(data), "MOORAGE_MAX_ITEMS_PER_REQUEST": "2"}
        with live_serve(["--data-dir", str(data)], env=env, cwd=tmp_path) as url:
            created = run_cli("admin", "create-team", "acme", env=env, cwd=tmp_path)
            key = json.loads(created.stdout)["api_key"]
            folder = data / "storage" / "acme" / "photos"
            folder.mkdir(parents=True)
            made = run_cli(
                "admin", "create-storage", "--team", "acme", "--name", "photos",
                "--provider", "local", "--bucket", "photos", "--readonly", env=env, cwd=tmp_path,
            )  # fmt: skip
            assert made.returncode == 0, made.stderr
            headers = {"Authorization": f"ApiKey {key}"}
            dataset = httpx.post(f"{url}/api/datasets", json={"name": "cars"}, headers=headers)
            slug = dataset.json()["slug"]
            root = write_tree(tmp_path / "src")
            args = [
                "prepare", str(root), "--out", str(folder), "--originals", "link",
                "--key-prefix", "batch", "--dataset", slug, "--storage", "photos",
                "--register", "--quiet",
            ]  # fmt: skip
            reg_env = {**env, "MOORAGE_URL": url, "MOORAGE_API_KEY": key}
            first = run_cli(*args, env=reg_env, cwd=tmp_path)
            assert first.returncode == 0, first.stderr
            assert json.loads(first.stdout) == {"registered": 3, "blocked": []}
            assert (folder / "batch" / "sub" / "deeper" / "b.png").is_file()
            listing = httpx.get(
                f"{url}/api/v2/teams/acme/items",
                params={"dataset_ids": dataset.json()["id"]},
                headers=headers,
            ).json()
            assert sorted((i["path"], i["name"]) for i in listing["items"]) == [
                ("/", "a.jpg"),
                ("/sub", "c.jpg"),
                ("/sub/deeper", "b.png"),
            ]
            # again: every file is present, every item already registered
            second = run_cli(*args, env=reg_env, cwd=tmp_path)
            assert second.returncode == 1
            result = json.loads(second.stdout)
            assert result["registered"] == 0
            assert {b["reason"] for b in result["blocked"]} == {"ALREADY_EXISTS"}
            assert "blocked: /sub/c.jpg: ALREADY_EXISTS" in second.stderr
            assert "0 made, 3 already present" in second.stderr
            bad = run_cli(*args, env={**reg_env, "MOORAGE_API_KEY": "nope"}, cwd=tmp_path)
            assert bad.returncode == 1
            assert "error: --register: the API key was refused" in bad.stderr
