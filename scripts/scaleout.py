"""Start the scale-out set-up from this machine's local services; Ctrl-C stops it.

    uv run python scripts/scaleout.py [--broker redis|rabbitmq] [--storage local|s3]
                                      [--apis 2] [--workers 2] [--threads 1] [--seconds N]

See ``benchmarks/scaleout.py`` (the harness) and docs/deploy.md.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from scaleout import S3_BUCKET, TEAM, ScaleOut


@contextlib.contextmanager
def _signals_stop() -> Iterator[None]:
    def _raise(*_: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--broker", choices=["redis", "rabbitmq"], default="redis")
    parser.add_argument("--storage", choices=["local", "s3"], default="local")
    parser.add_argument("--apis", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="threads per worker")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    with (
        _signals_stop(),
        contextlib.suppress(KeyboardInterrupt),
        ScaleOut(
            broker=args.broker,
            storage=args.storage,
            apis=args.apis,
            workers=args.workers,
            worker_threads=args.threads,
        ) as so,
    ):
        print(f"database   {so.db_url}")
        print(f"broker     {so.broker_url}")
        if so.s3_endpoint:
            print(f"s3         {so.s3_endpoint} bucket {S3_BUCKET}")
        else:
            print(f"storage    {so.tmp / 'storage' / TEAM / 'media'} (bucket 'media')")
        for url in so.urls:
            print(f"api        {url}")
        print(f"team       {TEAM}, dataset 'scaleout', storage 'media'")
        print(f"api key    {so.api_key}")
        print(f"logs       {so.logs}")
        print("ready; Ctrl-C stops everything", flush=True)
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5)  # idle until stopped
            dead = [p.args for p in (*so.apis, *so.workers) if p and p.poll() is not None]
            if dead:
                print(f"a process exited: {dead}", file=sys.stderr)
                break
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
