"""Existence checks at scale: ``check_many`` vs one ``head()`` per key, against a local S3 server.

Starts moto's S3 server on loopback (its own process, as a real server would be), writes
10,000 small objects, then times in the same run, for a few rounds:

- one-by-one: ``adapter.head(key)`` for every key in turn (what a naive registration does);
- check_many: ``adapter.check_many(keys)`` (lists crowded folders, heads the rest, in a pool);
- (with ``--heads-only``) concurrent heads: ``check_many`` with the listing fallback off.

Prints keys/s (median of the rounds) and the ratio to one-by-one. Target: check_many >= 10x.

    uv run python benchmarks/existence.py [--keys 10000] [--folders 10] [--rounds 3] [--heads-only]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from moorage.storage.base import StorageAdapter
from moorage.storage.check import ExistencePlan, check_existence
from moorage.storage.factory import StorageSpec, build_adapter

BUCKET = "bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    moto = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    port = free_port()
    process = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
            return process, endpoint
        except urllib.error.HTTPError:
            return process, endpoint
        except OSError:
            time.sleep(0.05)  # polling for readiness
    process.kill()
    raise SystemExit("moto_server did not start")


def create_bucket(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT")
    urllib.request.urlopen(request, timeout=10).read()


def one_by_one(adapter: StorageAdapter, keys: list[str]) -> int:
    found = 0
    for key in keys:
        adapter.head(key)
        found += 1
    return found


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    found = fn()
    return time.perf_counter() - started, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--folders", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--heads-only",
        action="store_true",
        help="also time concurrent heads with the listing fallback off",
    )
    args = parser.parse_args()

    process, endpoint = start_moto()
    try:
        create_bucket(endpoint)
        adapter = build_adapter(
            StorageSpec(
                provider="minio",
                bucket=BUCKET,
                endpoint_url=endpoint,
                credentials={"access_key_id": "bench", "secret_access_key": "bench-secret"},
            )
        )
        per_folder = max(1, args.keys // args.folders)
        keys = [f"datasets/run-{i // per_folder:03d}/image {i:06d}.jpg" for i in range(args.keys)]
        started = time.perf_counter()
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda k: adapter.put(k, b"\xff\xd8\xff\xd9"), keys))
        print(f"moto S3 at {endpoint}: put {len(keys)} objects in {args.folders} folders "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip

        no_listing = ExistencePlan(list_min_keys=len(keys) + 1)
        modes: dict[str, Callable[[], int]] = {
            "one-by-one head()": lambda: one_by_one(adapter, keys),
            "check_many": lambda: sum(r is None for r in adapter.check_many(keys).values()),
        }
        if args.heads_only:
            modes["concurrent heads only"] = lambda: sum(
                r is None for r in check_existence(adapter, keys, plan=no_listing).values()
            )
        times: dict[str, list[float]] = {name: [] for name in modes}
        for round_no in range(1, args.rounds + 1):
            for name, fn in modes.items():
                elapsed, found = timed(fn)
                if found != len(keys):
                    raise SystemExit(f"{name}: found {found} of {len(keys)} keys")
                times[name].append(elapsed)
            line = ", ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items())
            print(f"round {round_no}: {line}")

        base = statistics.median(times["one-by-one head()"])
        print(f"\n{len(keys)} keys, median of {args.rounds} rounds "
              f"(moto_server on loopback, {adapter.max_concurrency} workers):")  # fmt: skip
        print(f"{'mode':<24}{'median s':>10}{'keys/s':>12}{'vs one-by-one':>16}")
        for name, samples in times.items():
            median = statistics.median(samples)
            print(f"{name:<24}{median:>10.2f}{len(keys) / median:>12,.0f}{base / median:>15.1f}x")
        ratio = base / statistics.median(times["check_many"])
        verdict = "meets" if ratio >= 10 else "MISSES"
        print(f"\ncheck_many vs one-by-one: {ratio:.1f}x ({verdict} the 10x target)")
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
