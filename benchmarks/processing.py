"""End to end: 1,000 images registered on read-write local storage, processed by 2 workers.

    uv run python benchmarks/processing.py [--images 1000] [--size 1920x1080]

Starts ``moorage serve`` (PostgreSQL, Redis broker) and two ``moorage worker`` processes (one
worker thread each, on this 2-core machine), registers the images in one request, and waits
until none is left ``processing``. Prints the wall time and images/s, and, as the reference,
the seed's ``mogrify -resize "356x200>" -quality 50`` run two-at-a-time over a sample of the
same files, extrapolated to all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from PIL import Image

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


SEED_MOGRIFY = ["mogrify", "-resize", "356x200>", "-format", "jpg", "-quality", "50"]


def mogrify_reference(files: list[Path], out: Path) -> float:
    """Seconds per image for the seed's mogrify, two processes at a time."""
    out.mkdir()
    start = time.perf_counter()
    procs: list[subprocess.Popen[bytes]] = []
    for f in files:
        if len(procs) == 2:
            procs.pop(0).wait()
        procs.append(subprocess.Popen([*SEED_MOGRIFY, "-path", str(out), str(f)]))
    for p in procs:
        p.wait()
    return (time.perf_counter() - start) / len(files)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", default="1920x1080")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    db = f"moorage_proc_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        media = data / "storage" / "bench" / "media" / "imgs"
        media.mkdir(parents=True)
        src = media / "000000.jpg"
        Image.effect_mandelbrot((width, height), (-2, -1.2, 1, 1.2), 60).convert("RGB").save(
            src, quality=90
        )
        for i in range(1, args.images):
            shutil.copyfile(src, media / f"{i:06d}.jpg")
        env = {
            **os.environ,
            "MOORAGE_DATA_DIR": str(data),
            "MOORAGE_SECRET_KEY": "bench-only",
            "MOORAGE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{db}",
            "MOORAGE_BROKER_URL": f"redis://127.0.0.1:6379/{15}",
            "MOORAGE_LOG_LEVEL": "WARNING",
        }
        moorage = [sys.executable, "-m", "moorage.cli"]
        team = json.loads(
            subprocess.run(
                [*moorage, "admin", "create-team", "bench"],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        import redis

        redis.Redis.from_url(env["MOORAGE_BROKER_URL"]).flushdb()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        try:
            procs.append(subprocess.Popen([*moorage, "serve", "--port", str(port)], env=env))
            for _ in range(2):
                procs.append(subprocess.Popen([*moorage, "worker", "--threads", "1"], env=env))
            wait_ready(url)
            h = {"Authorization": f"ApiKey {team['api_key']}"}
            httpx.post(f"{url}/api/datasets", json={"name": "bench"}, headers=h).raise_for_status()
            httpx.post(
                f"{url}/api/teams/bench/storage",
                headers=h,
                json={"name": "media", "provider": "local", "bucket": "media", "prefix": "derived"},
            ).raise_for_status()
            items = [
                {"name": f"{i:06d}.jpg", "storage_key": f"imgs/{i:06d}.jpg"}
                for i in range(args.images)
            ]
            start = time.perf_counter()
            r = httpx.post(
                f"{url}/api/v2/teams/bench/items/register_existing",
                headers=h,
                timeout=600,
                json={"items": items, "dataset_slug": "bench", "storage_slug": "media"},
            )
            registered = len(r.json()["items"])
            while True:
                left = httpx.get(
                    f"{url}/api/v2/teams/bench/items?statuses=processing&page[size]=1", headers=h
                )
                if not left.json()["items"]:
                    break
                time.sleep(0.25)
            elapsed = time.perf_counter() - start
            errors = httpx.get(
                f"{url}/api/v2/teams/bench/items?statuses=error&page[size]=1000", headers=h
            ).json()
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=30)
        sample = sorted(media.iterdir())[:100]
        ref = mogrify_reference(sample, Path(tmp) / "mogrify")
        print(
            f"{registered} images of {width}x{height} registered and processed by 2 worker processes "
            f"in {elapsed:.1f} s ({registered / elapsed:.1f} images/s); "
            f"{len(errors['items'])} in error, 0 left processing"
        )
        print(
            f"reference: the seed's mogrify, 2 at a time, {ref * 1000:.0f} ms/image -> "
            f"{ref * args.images:.1f} s for {args.images} thumbnails alone; "
            f"moorage end to end is {ref * args.images / elapsed:.1f}x faster"
        )
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
