"""A watching sync fed by S3 event notifications through SQS: put -> listed item, delete -> missing.

Starts ``moto_server`` (S3 and SQS, its own process) on loopback and a ``moorage serve`` of its
own (SQLite with in-process workers, or ``--backend postgresql`` with a private Redis and two
``moorage worker`` processes). The bucket notifies two queues of the same events
(``QueueConfigurations`` for ``s3:ObjectCreated:*`` and ``s3:ObjectRemoved:*``): moorage's
storage names the first; a bare boto3 long-poll of the second is the reference, the floor
(when the same notification could be read at all), measured in the same run.

A watching sync (``"watch": true``, ``poll_seconds`` a day: no listing pass can help) runs over
the bucket; then, one object at a time, ``--rounds`` puts (time from the put to the item in the
dataset's listing) and ``--rounds`` deletes (time to ``source_status: missing``), the API polled
every 20 ms, ``--gap`` seconds (default 1) between rounds so that they span several of the
sync's 20 s watch windows and their hand-overs. Prints median, p90 and max of each and of the reference. Target: medians <= 5 s.

    uv run python -m benchmarks.sync_events [--rounds 20] [--gap 1] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

import boto3
from benchmarks.existence import start_moto
from benchmarks.synckit import TEAM, Moorage, exit_on_sigterm, png_bytes

BUCKET = "sync-events"
BAR_SECONDS = 5.0
POLL = 0.02
DEADLINE = 60.0


class EventsMoorage(Moorage):
    """A moorage whose egress policy lets it reach the loopback moto server."""

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        self.env["MOORAGE_ALLOWED_ENDPOINTS"] = "127.0.0.1"
        return super()._spawn(name, args)


class Reference(threading.Thread):
    """Long-polls the reference queue: when each (kind, key) notification could be received."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        super().__init__(daemon=True)
        self.sqs, self.queue_url = sqs, queue_url
        self.seen: dict[tuple[str, str], float] = {}
        self.cond = threading.Condition()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            got = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            now = time.perf_counter()
            for message in got:
                for record in json.loads(message["Body"]).get("Records", []):
                    kind = "removed" if "Removed" in record["eventName"] else "created"
                    key = unquote_plus(record["s3"]["object"]["key"])
                    with self.cond:
                        self.seen.setdefault((kind, key), now)
                        self.cond.notify_all()
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def when(self, kind: str, key: str) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: (kind, key) in self.seen, timeout=DEADLINE):
                raise TimeoutError(f"the reference queue never got {kind} {key}")
            return self.seen[(kind, key)]


def until(check: Callable[[], bool], what: str) -> float:
    """Poll ``check`` every 20 ms; the perf_counter time it first held."""
    deadline = time.monotonic() + DEADLINE
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {DEADLINE} s")
        time.sleep(POLL)  # polling another process's state over HTTP
    return time.perf_counter()


def wire(endpoint: str) -> tuple[Any, Any, str, str]:
    kw: dict[str, Any] = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "bench",
        "aws_secret_access_key": "bench-secret",
    }
    s3, sqs = boto3.client("s3", **kw), boto3.client("sqs", **kw)
    s3.create_bucket(Bucket=BUCKET)
    queues = [sqs.create_queue(QueueName=n)["QueueUrl"] for n in ("moorage", "reference")]
    arns = [
        sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for q in queues
    ]
    events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": a, "Events": events} for a in arns]
        },
    )
    return s3, sqs, queues[0], queues[1]


def watching_sync(m: Moorage, endpoint: str, queue_url: str) -> tuple[str, int]:
    body = {
        "name": "events",
        "slug": "events",
        "provider": "aws",
        "bucket": BUCKET,
        "region": "us-east-1",
        "endpoint_url": endpoint,
        "credentials": {"access_key_id": "bench", "secret_access_key": "bench-secret"},
        "events": {"kind": "sqs", "queue_url": queue_url, "region": "us-east-1"},
    }
    with m.client() as api:
        r = api.post(f"/api/teams/{TEAM}/storage", json=body)
        if r.status_code != 200:
            raise SystemExit(f"storage: {r.status_code} {r.text}")
    dataset = m.dataset("events")
    sync_id = m.start_sync(dataset, "events", "", watch=True, poll_seconds=86_400)
    with m.client() as api:
        url = f"/api/v2/teams/{TEAM}/syncs/{sync_id}"
        until(lambda: api.get(url).json()["state"] == "watching", "the sync watching")
    return sync_id, m.dataset_id(dataset)


def measure(
    m: Moorage, s3: Any, ref: Reference, dataset_id: int, rounds: int, gap: float
) -> dict[str, Any]:
    items = f"/api/v2/teams/{TEAM}/items"
    out: dict[str, list[float]] = {"put": [], "put_ref": [], "delete": [], "delete_ref": []}
    with m.client() as api:

        def listed(name: str, **query: str) -> bool:
            params = {"dataset_ids": str(dataset_id), "item_names": name, **query}
            r = api.get(items, params=params)
            return r.status_code == 200 and bool(r.json()["items"])

        for kind, verb in (("created", "put"), ("removed", "delete")):
            for i in range(rounds):
                time.sleep(gap)  # pacing: the rounds span several watch windows (20 s each)
                name = f"{i:03d} é+x.png"  # S3 sends the key URL-encoded
                key = f"put/{name}"
                started = time.perf_counter()
                if verb == "put":
                    s3.put_object(Bucket=BUCKET, Key=key, Body=png_bytes(i))
                    done = until(lambda n=name: listed(n), f"{key} listed")
                else:
                    s3.delete_object(Bucket=BUCKET, Key=key)
                    done = until(
                        lambda n=name: listed(n, source_statuses="missing"), f"{key} missing"
                    )
                out[verb].append(done - started)
                out[f"{verb}_ref"].append(ref.when(kind, key) - started)
    return out


def stats(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):6.3f} s  p90 {p90:6.3f} s  max {ordered[-1]:6.3f} s"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between rounds")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    exit_on_sigterm()
    print(f"before: {uptime()}")
    moto, endpoint = start_moto()
    try:
        s3, sqs, queue_url, ref_url = wire(endpoint)
        with EventsMoorage(backend=args.backend, workers=2, threads=2) as m:
            sync_id, dataset_id = watching_sync(m, endpoint, queue_url)
            ref = Reference(sqs, ref_url)
            ref.start()
            got = measure(m, s3, ref, dataset_id, args.rounds, args.gap)
            ref.stopping.set()
            with m.client() as api:
                sync = api.get(f"/api/v2/teams/{TEAM}/syncs/{sync_id}").json()
    finally:
        moto.terminate()
        moto.wait(timeout=30)
    print(f"after:  {uptime()}")
    print(f"{args.rounds} rounds, {args.backend}; sync {sync['state']}, passes {sync['passes']}, "
          f"counts {sync['counts']}")  # fmt: skip
    print(f"put -> listed item      {stats(got['put'])}")
    print(f"  reference (SQS recv)  {stats(got['put_ref'])}")
    print(f"delete -> missing       {stats(got['delete'])}")
    print(f"  reference (SQS recv)  {stats(got['delete_ref'])}")
    worst = max(statistics.median(got["put"]), statistics.median(got["delete"]))
    ok = worst <= BAR_SECONDS and sync["passes"] == 1
    print(f"bar: medians <= {BAR_SECONDS:.0f} s, no listing pass: {'met' if ok else 'NOT met'}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
