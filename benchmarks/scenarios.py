"""Faults staged on a running :class:`scaleout.ScaleOut`, each returning its figures.

Shared by ``benchmarks/faults.py`` (the full bars) and ``tests/test_scaleout.py`` (smaller
counts). Each scenario works under its own item path, so several can run on one set-up.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from localkit import jpeg, wait_until
from scaleout import ScaleOut

_SHAPE = """
SELECT i.id,
  (SELECT count(*) FROM slots s WHERE s.item_id = i.id),
  (SELECT count(*) FROM sections x JOIN slots s ON x.slot_id = s.id WHERE s.item_id = i.id),
  (SELECT count(*) FROM jobs j WHERE j.item_id = i.id),
  (SELECT count(*) FROM item_tags t WHERE t.item_id = i.id)
FROM items i WHERE i.path = %s
"""


def image_items(path: str, count: int, *, keys: list[str]) -> list[dict[str, Any]]:
    """``count`` one-slot image items under ``path``, cycling over ``keys``."""
    return [
        {"path": path, "name": f"{i:06d}.jpg", "storage_key": keys[i % len(keys)]}
        for i in range(count)
    ]


def statuses(so: ScaleOut, path: str) -> dict[str, int]:
    rows = so.sql("SELECT processing_status, count(*) FROM items WHERE path = %s GROUP BY 1", path)
    return {s: n for s, n in rows}


def job_statuses(so: ScaleOut, path: str) -> dict[str, int]:
    rows = so.sql(
        "SELECT j.status, count(*) FROM jobs j JOIN items i ON i.id = j.item_id "
        "WHERE i.path = %s GROUP BY 1",
        path,
    )
    return {s: n for s, n in rows}


def register_spread(so: ScaleOut, items: list[dict[str, Any]], *, batch: int = 50) -> int:
    """Register in batches, alternating between the API processes. Returns items registered."""
    registered = 0
    for n, start in enumerate(range(0, len(items), batch)):
        r = so.register(so.urls[n % len(so.urls)], items[start : start + batch])
        r.raise_for_status()
        assert not r.json()["blocked_items"], r.json()["blocked_items"][:3]
        registered += len(r.json()["items"])
    return registered


def wait_done(so: ScaleOut, path: str, total: int, *, timeout: float) -> float | None:
    """Seconds until every item of ``path`` left ``processing``; ``None`` if not in time."""
    start = time.monotonic()
    try:
        wait_until(
            lambda: (
                statuses(so, path).get("processing", 0) == 0
                and sum(statuses(so, path).values()) == total
            ),
            timeout=timeout,
            what="processing",
        )
    except TimeoutError:
        return None
    return time.monotonic() - start


def duplicates(so: ScaleOut) -> int:
    """Jobs a worker finished more than once (``job.done`` logged twice for one id)."""
    return sum(n - 1 for n in so.jobs_done().values() if n > 1)


# -- kill -9 a worker --------------------------------------------------------------------------


@dataclass
class WorkerKill:
    images: int
    done_at_kill: int
    seconds_after_kill: float | None
    statuses: dict[str, int]
    duplicates: int
    #: jobs claimed more than once: the killed worker's job in hand, taken back
    reclaimed: int
    killed_worker_done: int


def _frozen_holds_job(so: ScaleOut, path: str, since: Any, done_before: int) -> bool | None:
    """Whether the frozen worker holds a running job; ``None`` while it is too early to say.

    Once the live workers finished 3 jobs a thread since the freeze, every job they run was
    claimed after it: a job claimed before the freeze and still running is the frozen one's.
    """
    jobs = job_statuses(so, path)
    if jobs.get("done", 0) - done_before < 3 * so.worker_threads * (so.n_workers - 1):
        if jobs.get("queued", 0) + jobs.get("running", 0) == 0:
            raise RuntimeError("processing finished before the kill")
        return None
    (held,) = so.sql(
        "SELECT count(*) FROM jobs j JOIN items i ON i.id = j.item_id WHERE i.path = %s "
        "AND j.status = 'running' AND j.updated_at < %s",
        path,
        since,
    )[0]
    return bool(held)


def _freeze_with_job_in_hand(so: ScaleOut, path: str, worker: int) -> None:
    """SIGSTOP the worker until it is caught holding a running job (else let it go, again).

    The whole process group is frozen: the worker and the processing children it runs jobs in.
    """
    for _ in range(20):
        done = job_statuses(so, path).get("done", 0)
        so.signal_worker(worker, signal.SIGSTOP)
        since = so.sql("SELECT now()")[0][0]
        seen: list[bool | None] = [None]

        def decided(d: int = done, t: Any = since, out: list[bool | None] = seen) -> bool:
            out[0] = _frozen_holds_job(so, path, t, d)
            return out[0] is not None

        try:
            wait_until(decided, timeout=60, what="the live workers' progress")
        except BaseException:
            so.signal_worker(worker, signal.SIGCONT)  # never leave it frozen behind a failure
            raise
        if seen[0]:
            return
        so.signal_worker(worker, signal.SIGCONT)  # it was between jobs
        wait_until(
            lambda d=done: job_statuses(so, path).get("done", 0) > d + 5,
            timeout=30,
            what="progress",
        )
    raise RuntimeError("the worker was never caught holding a job")


def _images_under_way(so: ScaleOut, name: str, images: int) -> str:
    """Register ``images`` read-write images under ``/name`` and wait until a tenth are done."""
    path = f"/{name}"
    keys = [f"{name}/{i:06d}.jpg" for i in range(images)]
    so.put_files(keys, jpeg())
    register_spread(so, image_items(path, images, keys=keys))
    wait_until(
        lambda: job_statuses(so, path).get("done", 0) >= images // 10,
        timeout=120,
        what="processing under way",
    )
    return path


def kill_worker(so: ScaleOut, *, images: int, deadline: float = 90.0) -> WorkerKill:
    """``kill -9`` of worker 0 while it holds a running job, a tenth of the way through."""
    path = _images_under_way(so, "kill-worker", images)
    _freeze_with_job_in_hand(so, path, 0)
    done_at_kill = job_statuses(so, path).get("done", 0)
    so.kill_worker(0)
    took = wait_done(so, path, images, timeout=deadline)
    log = so.logs / "worker-0.log"
    return WorkerKill(
        images=images,
        done_at_kill=done_at_kill,
        seconds_after_kill=took,
        statuses=statuses(so, path),
        duplicates=duplicates(so),
        reclaimed=so.sql(
            "SELECT count(*) FROM jobs j JOIN items i ON i.id = j.item_id "
            "WHERE i.path = %s AND j.attempts > 1",
            path,
        )[0][0],
        killed_worker_done=log.read_text(errors="replace").count('"job.done"'),
    )


# -- kill -9 an API process mid-request --------------------------------------------------------


@dataclass
class ApiKill:
    items: int
    killed_during: str
    request_outcome: str
    present: int
    #: distinct (slots, sections, jobs, tags) counts per item seen, against the control's
    shapes: set[tuple[int, ...]]
    expected: tuple[int, ...]
    retry_registered: int = 0
    retry_blocked: int = 0
    other_api_answered: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def half_written(self) -> int:
        return 0 if self.shapes <= {self.expected} else self.present


def two_slot_items(path: str, count: int, keys: list[str]) -> list[dict[str, Any]]:
    """Items of two image slots and a tag: several rows in several tables each."""
    return [
        {
            "path": path,
            "name": f"{i:06d}",
            "slots": [
                {"slot_name": "0", "storage_key": keys[i % len(keys)], "file_name": "a.jpg"},
                {"slot_name": "1", "storage_key": keys[(i + 1) % len(keys)], "file_name": "b.jpg"},
            ],
            "tags": {"batch": path.strip("/")},
        }
        for i in range(count)
    ]


def _shapes(so: ScaleOut, path: str) -> list[tuple[int, ...]]:
    return [tuple(row[1:]) for row in so.sql(_SHAPE, path)]


def _open_transaction_query(so: ScaleOut) -> str:
    rows = so.sql(
        "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
        "AND xact_start IS NOT NULL AND pid <> pg_backend_pid()"
    )
    return " ".join(r[0] for r in rows)


#: what the open transaction's last statement names when the kill should land
PHASES = {
    "items": ("items_incoming", "INSERT INTO items"),
    "children": ("slots", "item_tags", "jobs", "folders"),
}


def kill_api(so: ScaleOut, *, items: int, phase: str = "children", api: int = 0) -> ApiKill:
    """Kill API ``api`` while its ``register_existing`` transaction is in ``phase``."""
    keys = [f"kill-api/{i:03d}.jpg" for i in range(20)]
    so.put_files(keys, jpeg(64, 48))
    other = so.urls[(api + 1) % len(so.urls)]
    r = so.register(other, two_slot_items("/kill-api-control", 50, keys))
    r.raise_for_status()
    expected = _shapes(so, "/kill-api-control")[0]
    path = f"/kill-api-{phase}-{items}"
    payload = two_slot_items(path, items, keys)
    outcome: dict[str, str] = {}

    def post() -> None:
        try:
            outcome["status"] = str(so.register(so.urls[api], payload).status_code)
        except httpx.TransportError as exc:
            outcome["status"] = f"connection lost ({type(exc).__name__})"

    thread = threading.Thread(target=post)
    thread.start()
    marks = PHASES[phase]
    wait_until(
        lambda: "status" in outcome or any(m in _open_transaction_query(so) for m in marks),
        timeout=300,
        what=f"a transaction in phase {phase}",
    )
    during = "after the response" if "status" in outcome else phase
    so.kill_api(api)
    thread.join()
    # the database notices the dead client and rolls its transaction back
    wait_until(lambda: not _open_transaction_query(so), timeout=30, what="rollback")
    shapes = _shapes(so, path)
    result = ApiKill(
        items=items,
        killed_during=during,
        request_outcome=outcome["status"],
        present=len(shapes),
        shapes=set(shapes),
        expected=expected,
    )
    result.other_api_answered = httpx.get(f"{other}/healthz", timeout=5).status_code == 200
    so.start_api(api)
    so.wait_ready()
    again = so.register(so.urls[api], payload).json()
    result.retry_registered = len(again["items"])
    result.retry_blocked = len(again["blocked_items"])
    return result


# -- broker and storage outages ----------------------------------------------------------------


@dataclass
class Outage:
    what: str
    images: int
    outage_seconds: float
    during_outage: dict[str, Any]
    seconds_after_return: float | None
    statuses: dict[str, int]


def broker_down(so: ScaleOut, *, images: int, outage: float, deadline: float = 60.0) -> Outage:
    """The broker goes down, registration runs, the broker returns: do the jobs run?"""
    assert so.broker_proxy is not None, "start ScaleOut(proxy_broker=True)"
    path = "/broker-down"
    keys = [f"broker-down/{i:06d}.jpg" for i in range(images)]
    so.put_files(keys, jpeg())
    so.broker_proxy.down()
    started = time.monotonic()
    t0 = time.perf_counter()
    r = so.register(so.urls[0], image_items(path, images, keys=keys))
    seen = {"register_status": r.status_code, "register_seconds": time.perf_counter() - t0}
    seen["registered"] = len(r.json().get("items", [])) if r.status_code == 200 else 0
    time.sleep(max(0.0, outage - (time.monotonic() - started)))  # the outage's length
    seen["statuses"] = statuses(so, path)
    so.broker_proxy.up()
    took = wait_done(so, path, images, timeout=deadline)
    return Outage("broker", images, outage, seen, took, statuses(so, path))


def storage_down(so: ScaleOut, *, images: int, outage: float, deadline: float = 180.0) -> Outage:
    """The object store goes down while workers process: jobs wait, then complete."""
    assert so.storage_proxy is not None, "start ScaleOut(storage='s3', proxy_storage=True)"
    path = _images_under_way(so, "storage-down", images)
    so.storage_proxy.down()
    time.sleep(outage)  # the outage's length
    seen: dict[str, Any] = {"statuses": statuses(so, path), "jobs": job_statuses(so, path)}
    so.storage_proxy.up()
    took = wait_done(so, path, images, timeout=deadline)
    return Outage("storage", images, outage, seen, took, statuses(so, path))
