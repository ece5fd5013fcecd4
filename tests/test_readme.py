"""README's "Try it" examples, run as written against a live ``moorage serve``.

The only change made to the README's text is the server's address (``localhost:8000`` and
``127.0.0.1:8000`` become the test server's). The shell blocks run in one ``bash`` in a fresh
working directory, as a new user would type them in a second shell while the server runs there;
``uv run`` finds this checkout through ``UV_PROJECT``, as it would find the clone's directory.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import jpeg_bytes
from tests.test_cli import live_serve

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def try_it_blocks(readme: str) -> list[tuple[str, str]]:
    """The fenced blocks of the "Try it" section, as (language, code), in order."""
    section = readme.split("\n## Try it\n", 1)[1].split("\n## ", 1)[0]
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(section)]


@dataclass
class Readme:
    setup: str  # shell: team, key, file, dataset, storage
    register: str  # shell: register_existing with curl
    darwin_py: str  # python: the same registration with darwin-py


def readme_examples(address: str) -> Readme:
    text = (ROOT / "README.md").read_text()
    text = text.replace("localhost:8000", address).replace("127.0.0.1:8000", address)
    blocks = try_it_blocks(text)
    assert [lang for lang, _ in blocks] == ["sh", "sh", "python"], "a new block needs a test"
    (_, setup), (_, register), (_, darwin_py) = blocks
    assert "register_existing" in register and "register_existing" not in setup
    return Readme(setup, register, darwin_py)


@dataclass
class Shell:
    cwd: Path
    url: str
    env: dict[str, str]

    def run(self, *blocks: str) -> tuple[list[str], str]:
        """Runs the blocks in one bash; its output lines and the ``MOORAGE_KEY`` it exported."""
        key_file = self.cwd.parent / "exported-key"
        # after the README's lines, a child process of that shell reports what it was handed
        script = "\n".join([*blocks, f"printenv MOORAGE_KEY > {shlex.quote(str(key_file))}"])
        out = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout.splitlines(), key_file.read_text().strip()


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    """A live ``moorage serve`` on a free port in a fresh directory, and a user's shell there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOORAGE_", "DARWIN_"))}
    env["UV_PROJECT"] = str(ROOT)
    cwd = tmp_path / "clone"
    cwd.mkdir()
    (cwd / "some.jpg").write_bytes(jpeg_bytes(640, 480))
    with live_serve([], env=env, cwd=cwd) as url:
        yield Shell(cwd, url, env)


def wait_complete(url: str, key: str, item_id: str) -> dict:
    headers = {"Authorization": f"ApiKey {key}"}
    deadline = time.monotonic() + 30
    while True:
        answer = httpx.get(f"{url}/api/v2/teams/acme/items/{item_id}", headers=headers)
        item = answer.raise_for_status().json()
        if item["processing_status"] not in ("processing", "queued") or time.monotonic() > deadline:
            return item
        time.sleep(0.05)  # processing runs in the server process; nothing to await from here


def test_the_curl_registration_answers_with_the_item_and_completes(shell: Shell) -> None:
    readme = readme_examples(shell.url.removeprefix("http://"))
    lines, key = shell.run(readme.setup, readme.register)
    assert key, "the setup block exported no MOORAGE_KEY"
    dataset, storage, registered = (json.loads(line) for line in lines)
    assert dataset["slug"] == "cars" and storage["slug"] == "media", lines
    assert registered["blocked_items"] == [], registered
    [item] = registered["items"]
    assert item["name"] == "car.jpg" and item["path"] == "/"
    assert item["slots"][0]["storage_key"] == "cars/car.jpg"
    assert (shell.cwd / "moorage-data" / "moorage.db").is_file()
    done = wait_complete(shell.url, key, item["id"])
    assert done["processing_status"] == "complete", done


def test_the_darwin_py_example_prints_the_item(shell: Shell, tmp_path: Path) -> None:
    readme = readme_examples(shell.url.removeprefix("http://"))
    (shell.cwd / "example.py").write_text(readme.darwin_py)
    shell.env["DARWIN_RETRY_MAX_ATTEMPTS"] = "1"
    # run in the same shell as the README says; darwin-py is a dev dependency, so the test
    # venv's interpreter stands for `uv run --no-dev --with darwin-py python` (HOME: its ~/.darwin)
    python = f"HOME={shlex.quote(str(tmp_path))} {shlex.quote(sys.executable)} example.py"
    lines, _key = shell.run(readme.setup, python)
    assert lines[-1:] == ["['car.jpg']"], lines
