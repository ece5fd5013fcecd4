"""Faults on the scale-out set-up: the bars of issue 8, one command.

    uv run python benchmarks/faults.py [--broker redis|rabbitmq] [--images 500]
                                       [--items 10000] [--outage 20] [--only NAME,...]

One set-up (benchmarks/scaleout.py): a fresh PostgreSQL database, the broker and an S3 endpoint
(moto_server) each behind a loopback fault proxy, 2 ``moorage serve`` and 2 ``moorage worker``
processes (one thread each). Then, in turn:

- worker: ``kill -9`` of a worker while it processes N read-write images; prints the seconds
  from the kill until all are complete (bar: 90), jobs finished twice (bar: 0) and jobs taken
  back from the dead worker;
- broker: the broker goes down, N images are registered, it comes back after the outage;
  prints the registration's answer and the seconds from its return until all are complete
  (bar: 60);
- storage: the S3 endpoint goes down while N images are processed and comes back; prints how
  many items were in ``error`` (bar: 0, they wait) and the seconds until all are complete;
- api: ``kill -9`` of an API process during a 10,000-item ``register_existing``, once while it
  inserts the items and once while it inserts their slots, tags and jobs; prints the items
  present afterwards, those half-written (bar: 0) and the retry's outcome.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scenarios
from scaleout import ScaleOut


def _verdict(ok: bool) -> str:
    return "holds" if ok else "FAILS"


def worker(so: ScaleOut, args: argparse.Namespace) -> bool:
    r = scenarios.kill_worker(so, images=args.images, deadline=90)
    took = "not within 90 s" if r.seconds_after_kill is None else f"{r.seconds_after_kill:.1f} s"
    ok = r.seconds_after_kill is not None and r.duplicates == 0
    print(
        f"worker kill -9: {args.images} images, killed after {r.done_at_kill} done "
        f"(the killed worker had finished {r.killed_worker_done}); all complete {took} after "
        f"the kill; statuses {r.statuses}; finished twice: {r.duplicates}; "
        f"taken back: {r.reclaimed} -> bar {_verdict(ok and r.statuses == {'complete': args.images})}"
    )
    so.start_worker()
    so.wait_ready()
    return ok


def broker(so: ScaleOut, args: argparse.Namespace) -> bool:
    r = scenarios.broker_down(so, images=args.images, outage=args.outage, deadline=60)
    seen = r.during_outage
    took = (
        "not within 60 s" if r.seconds_after_return is None else f"{r.seconds_after_return:.1f} s"
    )
    ok = seen["register_status"] == 200 and r.seconds_after_return is not None
    print(
        f"broker down {args.outage:.0f} s: registration answered {seen['register_status']} in "
        f"{seen['register_seconds']:.2f} s ({seen['registered']} items); during the outage "
        f"{seen['statuses']}; all complete {took} after its return; statuses {r.statuses} "
        f"-> bar {_verdict(ok)}"
    )
    return ok


def storage(so: ScaleOut, args: argparse.Namespace) -> bool:
    r = scenarios.storage_down(so, images=args.images, outage=args.outage, deadline=240)
    seen = r.during_outage
    took = (
        "not within 240 s" if r.seconds_after_return is None else f"{r.seconds_after_return:.1f} s"
    )
    errors = r.statuses.get("error", 0)
    ok = errors == 0 and r.seconds_after_return is not None
    print(
        f"storage down {args.outage:.0f} s during processing: at its end items {seen['statuses']}, "
        f"jobs {seen['jobs']}; all complete {took} after its return; statuses {r.statuses} "
        f"-> bar {_verdict(ok)}"
    )
    return ok


def api(so: ScaleOut, args: argparse.Namespace) -> bool:
    so.stop_workers()  # 2 slots x 10,000 items a round: keep the machine for the API
    ok = True
    for phase in ("items", "children"):
        r = scenarios.kill_api(so, items=args.items, phase=phase)
        good = r.half_written == 0 and r.killed_during == phase
        ok = ok and good
        print(
            f"api kill -9 during a {args.items}-item request, while inserting {r.killed_during}: "
            f"client saw {r.request_outcome}; items present {r.present}, half-written "
            f"{r.half_written} (shapes {sorted(r.shapes)} vs {r.expected}); other API answered: "
            f"{r.other_api_answered}; retry registered {r.retry_registered}, blocked "
            f"{r.retry_blocked} -> bar {_verdict(good)}"
        )
    return ok


SCENARIOS = {"worker": worker, "broker": broker, "storage": storage, "api": api}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--broker", choices=["redis", "rabbitmq"], default="redis")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--outage", type=float, default=20.0, help="seconds each outage lasts")
    parser.add_argument("--only", default=",".join(SCENARIOS))
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    started = time.monotonic()
    results: dict[str, bool] = {}
    with ScaleOut(broker=args.broker, storage="s3", proxy_broker=True, proxy_storage=True) as so:
        print(f"set-up ready in {time.monotonic() - started:.0f} s: {args.broker}, {so.urls}")
        for name in chosen:
            results[name] = SCENARIOS[name](so, args)
        print(f"jobs finished twice over the whole run: {scenarios.duplicates(so)}")
    print(f"{sum(results.values())}/{len(results)} bars hold ({time.monotonic() - started:.0f} s)")
    sys.exit(0 if all(results.values()) else 1)


if __name__ == "__main__":
    main()
