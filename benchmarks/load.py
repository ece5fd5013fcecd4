"""Load: concurrent clients registering and listing against the scale-out API processes.

    uv run python benchmarks/load.py [--clients 16] [--seconds 60] [--apis 2] [--batch 10]
                                     [--broker redis|rabbitmq] [--rate-limit 0]

The set-up of benchmarks/scaleout.py on PostgreSQL (2 API processes, the broker, no workers:
the jobs wait in the queue, so the two cores serve the API). After 2,000 items are seeded,
each client in turn registers ``--batch`` new read-write images (``register_existing``) and
lists a page of 100 items, against the API processes round robin, for ``--seconds``. Prints
requests/s, items registered/s, p50/p99 per kind of request and the count of 5xx (bar: 0).
The per-key rate limit is off by default (``--rate-limit 1200/minute`` to measure with it:
429s are then counted apart, never as errors).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scenarios
from localkit import jpeg
from scaleout import TEAM, ScaleOut


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


class Tally:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = {"register": [], "list": []}
        self.status: Counter[str] = Counter()
        self.registered = 0

    def line(self, kind: str) -> str:
        lat = self.latency[kind]
        median = statistics.median(lat) * 1000 if lat else float("nan")
        return f"{kind}: {len(lat)} requests, p50 {median:.1f} ms, p99 {_pct(lat, 0.99):.1f} ms"


async def client(
    n: int, so: ScaleOut, keys: list[str], args: argparse.Namespace, deadline: float, t: Tally
) -> None:
    url = so.urls[n % len(so.urls)]
    base = f"/api/v2/teams/{TEAM}/items"
    async with httpx.AsyncClient(base_url=url, headers=so.headers, timeout=60) as http:
        round_ = 0
        while time.monotonic() < deadline:
            items = [
                {"path": f"/load/{n}", "name": f"{round_:06d}-{i}.jpg", "storage_key": keys[i]}
                for i in range(args.batch)
            ]
            body = {"items": items, "dataset_slug": "scaleout", "storage_slug": "media"}
            for kind, call in (
                ("register", lambda b=body: http.post(f"{base}/register_existing", json=b)),
                ("list", lambda: http.get(base, params={"page[size]": 100})),
            ):
                t0 = time.perf_counter()
                try:
                    r = await call()
                except httpx.TransportError as exc:
                    t.status[f"transport {type(exc).__name__}"] += 1
                    continue
                t.latency[kind].append(time.perf_counter() - t0)
                t.status[str(r.status_code)] += 1
                if kind == "register" and r.status_code == 200:
                    t.registered += len(r.json()["items"])
            round_ += 1


async def run(so: ScaleOut, keys: list[str], args: argparse.Namespace) -> tuple[Tally, float]:
    tally = Tally()
    start = time.monotonic()
    deadline = start + args.seconds
    await asyncio.gather(*(client(n, so, keys, args, deadline, tally) for n in range(args.clients)))
    return tally, time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--apis", type=int, default=2)
    parser.add_argument("--batch", type=int, default=10, help="items per register_existing")
    parser.add_argument("--broker", choices=["redis", "rabbitmq"], default="redis")
    parser.add_argument("--rate-limit", default="0")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    env = {"MOORAGE_RATE_LIMIT": args.rate_limit}
    with ScaleOut(broker=args.broker, apis=args.apis, workers=0, env=env) as so:
        keys = [f"load/{i:03d}.jpg" for i in range(args.batch)]
        so.put_files(keys, jpeg(640, 360))
        scenarios.register_spread(so, scenarios.image_items("/seed", 2000, keys=keys), batch=500)
        tally, elapsed = asyncio.run(run(so, keys, args))
        total = sum(len(v) for v in tally.latency.values())
        every = tally.latency["register"] + tally.latency["list"]
        fivexx = sum(n for s, n in tally.status.items() if s.startswith("5"))
        errors = sum(n for s, n in tally.status.items() if s.startswith("transport"))
        print(
            f"{args.clients} clients, {elapsed:.0f} s, {args.apis} API processes on PostgreSQL "
            f"({args.broker}), rate limit {args.rate_limit if args.rate_limit not in ('', '0') else 'off'}"
        )
        print(
            f"throughput: {total / elapsed:.0f} requests/s, "
            f"{tally.registered / elapsed:.0f} items registered/s"
        )
        print(tally.line("register"))
        print(tally.line("list"))
        print(f"all: p50 {statistics.median(every) * 1000:.1f} ms, p99 {_pct(every, 0.99):.1f} ms")
        print(f"statuses: {dict(sorted(tally.status.items()))}")
        print(
            f"5xx: {fivexx}, dropped connections: {errors} -> bar {'holds' if fivexx == 0 and errors == 0 else 'FAILS'}"
        )
    sys.exit(0 if fivexx == 0 and errors == 0 else 1)


if __name__ == "__main__":
    main()
