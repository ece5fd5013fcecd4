"""moorage's CPU a pushed file, in one process: what ``push.py`` measures end to end, without
the client, the sockets or the other processes of the machine.

    uv run python benchmarks/push_cpu.py [--files 500] [--rounds 3]

Each round registers ``--files`` uploads (``register_upload``, one request), then for each file
sends sign, the capability PUT and confirm straight to the ASGI app (no server, no client:
``time.process_time`` of this process, every thread, around each request), then runs each
file's processing job (``process_job``, the in-process worker's work without Dramatiq). SQLite,
a local read-write storage, small JPEGs as ``push.py`` pushes. Prints the medians of each step
and of a whole file. To compare two trees, run it in each, alternated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synckit import small_jpegs

from moorage.app import create_app
from moorage.config import Settings
from moorage.context import AppContext
from moorage.db import migrate
from moorage.logs import configure_logging
from moorage.teams.service import team_service
from moorage.worker.dispatch import set_dispatcher
from moorage.worker.leases import Leases, heartbeat_every
from moorage.worker.tasks import process_job

TEAM = "acme"


class Asgi:
    """Requests sent straight to the app; each one's CPU (all threads) recorded."""

    def __init__(self, app: Any, key: str) -> None:
        self.app, self.key = app, key

    async def call(
        self, method: str, path: str, body: bytes = b"", ctype: str = "application/json"
    ) -> tuple[int, bytes, float]:
        headers = [(b"host", b"bench"), (b"content-length", str(len(body)).encode())]
        if not path.startswith("/api/v2/uploads/"):
            headers.append((b"authorization", f"ApiKey {self.key}".encode()))
        if body:
            headers.append((b"content-type", ctype.encode()))
        target, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": target,
            "raw_path": target.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("bench", 80),
            "state": {},
        }
        sent = False
        status, chunks = 0, []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        started = time.process_time()
        await self.app(scope, receive, send)
        return status, b"".join(chunks), time.process_time() - started


def setup(tmp: Path) -> tuple[AppContext, Any, str, list[uuid.UUID]]:
    settings = Settings(
        data_dir=tmp / "data",
        secret_key="push-cpu-only",  # noqa: S106 - a throwaway database
        log_level="WARNING",
        rate_limit="0",
    )
    configure_logging("WARNING")
    ctx = AppContext.from_settings(settings)
    migrate(ctx.db.engine)
    with ctx.db.session() as session:
        team = team_service.create_team(session, slug=TEAM)
        key = team_service.create_key(session, team)
    (settings.resolved_local_roots[0] / TEAM / "media").mkdir(parents=True)
    jobs: list[uuid.UUID] = []
    set_dispatcher(jobs.extend)
    return ctx, create_app(settings, ctx, start_runtime=False), key, jobs


async def round_(api: Asgi, images: list[bytes], n: int) -> dict[str, list[float]]:
    names = [f"{n}-{i:05d}.jpg" for i in range(len(images))]
    body = {
        "dataset_slug": "bench",
        "items": [
            {"name": m, "path": "/", "slots": [{"slot_name": "0", "file_name": m}]} for m in names
        ],
        "options": {"handle_as_slices": False},
    }
    path = f"/api/v2/teams/{TEAM}/items/register_upload"
    status, out, cpu = await api.call("POST", path, json.dumps(body).encode())
    assert status == 200, out
    cpus: dict[str, list[float]] = {"register_upload": [cpu / len(images)]}
    uploads = f"/api/v2/teams/{TEAM}/items/uploads"
    for item, data in zip(json.loads(out)["items"], images, strict=True):
        upload_id = item["slots"][0]["upload_id"]
        status, out, cpu = await api.call("GET", f"{uploads}/{upload_id}/sign")
        assert status == 200, out
        cpus.setdefault("sign", []).append(cpu)
        url = json.loads(out)["upload_url"].removeprefix("http://bench")
        status, out, cpu = await api.call("PUT", url, data, "image/jpeg")
        assert status == 200, out
        cpus.setdefault("put", []).append(cpu)
        status, out, cpu = await api.call("POST", f"{uploads}/{upload_id}/confirm", b"{}")
        assert status == 200, out
        cpus.setdefault("confirm", []).append(cpu)
    return cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moorage-pushcpu-") as tmp_name:
        tmp = Path(tmp_name)
        images = [p.read_bytes() for p in small_jpegs(tmp / "images", args.files)]
        ctx, app, key, jobs = setup(tmp)
        api = Asgi(app, key)
        loop = asyncio.new_event_loop()
        status, out, _ = loop.run_until_complete(
            api.call("POST", "/api/datasets", b'{"name": "bench"}')
        )
        assert status == 200, out
        storage = {"name": "media", "provider": "local", "bucket": "media", "default": True}
        status, out, _ = loop.run_until_complete(
            api.call("POST", f"/api/teams/{TEAM}/storage", json.dumps(storage).encode())
        )
        assert status == 200, out
        medians: dict[str, list[float]] = {}
        # one for the process, as the runtime holds it: a heartbeat thread is not started and
        # joined for every job
        leases = Leases(ctx, every=heartbeat_every(ctx.settings))
        for n in range(args.rounds):
            cpus = loop.run_until_complete(round_(api, images, n))
            todo, jobs[:] = list(jobs), []
            assert len(todo) == args.files, len(todo)
            for job_id in todo:
                started = time.process_time()
                assert process_job(ctx, job_id, leases=leases) == "done"
                cpus.setdefault("job", []).append(time.process_time() - started)
            line = []
            for step, values in cpus.items():
                medians.setdefault(step, []).append(statistics.median(values))
                line.append(f"{step} {1000 * statistics.median(values):.3f}")
            print(f"round {n + 1}, ms a file (median): " + ", ".join(line), flush=True)
        loop.close()
        leases.stop()
        ctx.close()
    total = sum(statistics.median(v) for v in medians.values())
    print(
        "medians of the rounds, ms of CPU: "
        + ", ".join(f"{k} {1000 * statistics.median(v):.3f}" for k, v in medians.items())
        + f"; a file in all {1000 * total:.2f}"
    )


if __name__ == "__main__":
    main()
