"""What the egress proxy costs: S3 existence checks and ranged reads on moto, direct vs proxied.

    uv run python benchmarks/egress_proxy.py [rounds]

Interleaves the two adapters round by round (the machine is shared), prints medians per call.
"""

from __future__ import annotations

import socket
import statistics
import sys
import time

import boto3
from moto.server import ThreadedMotoServer

from moorage.storage.egress import EgressPolicy
from moorage.storage.s3 import S3Storage

CALLS = 100


def main(rounds: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    kw = {"aws_access_key_id": "k", "aws_secret_access_key": "s", "region_name": "us-east-1"}
    boto3.client("s3", endpoint_url=endpoint, **kw).create_bucket(Bucket="egress-bench")
    creds = {"access_key_id": "k", "secret_access_key": "s"}
    direct = S3Storage("egress-bench", endpoint_url=endpoint, credentials=creds)
    proxied = S3Storage(
        "egress-bench",
        endpoint_url=endpoint,
        credentials=creds,
        egress=EgressPolicy.parse("127.0.0.1"),
    )
    direct.put("bench/object.bin", bytes(1 << 20))
    times: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, store in (("direct", direct), ("proxied", proxied)):
            start = time.perf_counter()
            for _ in range(CALLS):
                store.exists("bench/object.bin")
            middle = time.perf_counter()
            for _ in range(CALLS):
                store.read_range("bench/object.bin", 0, 64 * 1024)
            end = time.perf_counter()
            times.setdefault(f"{name} exists", []).append((middle - start) / CALLS * 1000)
            times.setdefault(f"{name} read 64 KiB", []).append((end - middle) / CALLS * 1000)
    server.stop()
    for what, values in times.items():
        print(f"{what:>22}: {statistics.median(values):6.2f} ms/call (median of {rounds} rounds)")
    for op in ("exists", "read 64 KiB"):
        ratio = statistics.median(times[f"proxied {op}"]) / statistics.median(times[f"direct {op}"])
        print(f"{'proxied/direct ' + op:>22}: {ratio:6.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
