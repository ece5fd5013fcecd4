"""Batched sends (``sending.enqueue_many``) and the syncs' own queue, on the real brokers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

from moorage.worker.reconciler import waiting_messages
from moorage.worker.runtime import PROCESSING_PRIORITY, QUEUE, SYNC_PRIORITY, SYNC_QUEUE
from moorage.worker.sending import PIPELINE, enqueue_many, send_many, uuid4_strings

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/%2F"


def wait_for(check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the timeout"
        time.sleep(0.02)  # a worker thread of this process consumes the broker


class Counting(Middleware):
    def __init__(self) -> None:
        self.before: list[str] = []
        self.after: list[str] = []

    def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        self.before.append(message.args[0])

    def after_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        self.after.append(message.args[0])


@pytest.fixture
def redis_broker() -> Iterator[RedisBroker]:
    import redis

    url = f"redis://127.0.0.1:6379/{1 + uuid.uuid4().int % 14}"
    redis.Redis.from_url(url).flushdb()
    broker = RedisBroker(url=url, namespace=f"t{uuid.uuid4().hex[:8]}")  # type: ignore[no-untyped-call]
    yield broker
    broker.close()


def _actor(broker: dramatiq.Broker, seen: list[str], *, queue: str, name: str) -> Any:
    lock = threading.Lock()

    def run(job_id: str, attempt: int | None = None) -> None:
        with lock:
            seen.append(job_id)

    return dramatiq.Actor(
        run, broker=broker, actor_name=name, queue_name=queue, priority=0, options={}
    )


def _consume_all(broker: RedisBroker, seen: list[str], ids: list[str]) -> None:
    """A real worker runs every message of ``QUEUE``: each job id once, none left waiting."""
    worker = dramatiq.Worker(broker, queues={QUEUE}, worker_threads=2)
    worker.start()
    try:
        wait_for(lambda: len(seen) >= len(ids))
        broker.join(QUEUE, timeout=30_000)
    finally:
        worker.stop()
    assert sorted(seen) == sorted(ids)  # every one, none twice
    assert waiting_messages(broker, QUEUE) == 0


def test_redis_batch_is_consumed_whole_once_each(redis_broker: RedisBroker) -> None:
    counting = Counting()
    redis_broker.add_middleware(counting)
    seen: list[str] = []
    actor = _actor(redis_broker, seen, queue=QUEUE, name="process_slot")
    ids = [str(uuid.uuid4()) for _ in range(2 * PIPELINE + 7)]  # three transactions
    enqueue_many(redis_broker, [actor.message_with_options(args=(i, None)) for i in ids])
    # the reconciler counts them as it counts messages sent one by one
    assert waiting_messages(redis_broker, QUEUE) == len(ids)
    assert counting.before == ids and counting.after == ids
    _consume_all(redis_broker, seen, ids)


def test_templated_redis_messages_are_what_dramatiq_would_write(redis_broker: RedisBroker) -> None:
    seen: list[str] = []
    actor = _actor(redis_broker, seen, queue=QUEUE, name="process_slot")
    calls = [(str(uuid.uuid4()), n % 3 or None) for n in range(PIPELINE + 5)]  # two MULTIs
    send_many(redis_broker, actor, calls)
    assert waiting_messages(redis_broker, QUEUE) == len(calls)
    stored = redis_broker.client.hgetall(f"{redis_broker.namespace}:{QUEUE}.msgs")
    decoded = [dramatiq.Message.decode(raw) for raw in stored.values()]
    like = actor.message_with_options(args=calls[0])
    assert sorted(m.args for m in decoded) == sorted(calls)  # type: ignore[type-var]
    for message in decoded:
        assert (message.queue_name, message.actor_name, message.kwargs) == (
            like.queue_name,
            like.actor_name,
            like.kwargs,
        )
        assert message.options.keys() == {*like.options, "redis_message_id"}
        assert str(uuid.UUID(message.message_id)) == message.message_id
    assert {m.options["redis_message_id"].encode() for m in decoded} == set(stored)
    assert len({m.message_id for m in decoded}) == len(calls)
    _consume_all(redis_broker, seen, [c[0] for c in calls])


def test_send_many_goes_through_enqueue_hooks_when_a_middleware_has_them(
    redis_broker: RedisBroker,
) -> None:
    counting = Counting()
    redis_broker.add_middleware(counting)
    actor = _actor(redis_broker, [], queue=QUEUE, name="process_slot")
    ids = [str(uuid.uuid4()) for _ in range(20)]
    send_many(redis_broker, actor, [(i, None) for i in ids])
    assert counting.before == ids and counting.after == ids
    assert waiting_messages(redis_broker, QUEUE) == len(ids)


def test_redis_batch_over_two_queues_keeps_each_in_order(redis_broker: RedisBroker) -> None:
    seen: list[str] = []
    a = _actor(redis_broker, seen, queue="qa", name="a")
    b = _actor(redis_broker, seen, queue="qb", name="b")
    messages = [(a if n % 3 else b).message_with_options(args=(f"m{n}", None)) for n in range(30)]
    enqueue_many(redis_broker, messages)
    assert waiting_messages(redis_broker, "qa") == 20
    assert waiting_messages(redis_broker, "qb") == 10
    worker = dramatiq.Worker(redis_broker, queues={"qa", "qb"}, worker_threads=1)
    worker.start()
    try:
        wait_for(lambda: len(seen) == 30)
    finally:
        worker.stop()
    order_a = [int(m[1:]) for m in seen if int(m[1:]) % 3]
    assert order_a == sorted(order_a)


def test_rabbitmq_batch_is_sent_one_by_one() -> None:
    broker = RabbitmqBroker(url=RABBITMQ)
    queue = f"moorage-test-{uuid.uuid4().hex[:8]}"
    try:
        seen: list[str] = []
        actor = _actor(broker, seen, queue=queue, name=f"a{uuid.uuid4().hex[:6]}")
        ids = [str(uuid.uuid4()) for _ in range(50)]
        enqueue_many(broker, [actor.message_with_options(args=(i, None)) for i in ids])
        worker = dramatiq.Worker(broker, queues={queue}, worker_threads=1)
        worker.start()
        try:
            wait_for(lambda: len(seen) == len(ids))
        finally:
            worker.stop()
        assert seen == ids
    finally:
        broker.channel.queue_delete(queue)
        broker.close()


def test_a_sync_is_not_kept_behind_a_processing_backlog(redis_broker: RedisBroker) -> None:
    """10,000 processing messages wait; a sync sent after them runs within the first few."""
    seen: list[str] = []
    lock = threading.Lock()

    def record(job_id: str, attempt: int | None = None) -> None:
        with lock:
            seen.append(job_id)

    jobs: Any = dramatiq.Actor(
        record,
        broker=redis_broker,
        actor_name="process_slot",
        queue_name=QUEUE,
        priority=PROCESSING_PRIORITY,
        options={},
    )
    syncs: Any = dramatiq.Actor(
        record,
        broker=redis_broker,
        actor_name="run_sync",
        queue_name=SYNC_QUEUE,
        priority=SYNC_PRIORITY,
        options={},
    )
    enqueue_many(
        redis_broker, [jobs.message_with_options(args=(f"j{n}", None)) for n in range(10_000)]
    )
    syncs.send("sync", None)
    worker = dramatiq.Worker(redis_broker, queues={QUEUE, SYNC_QUEUE}, worker_threads=1)
    worker.start()
    try:
        wait_for(lambda: "sync" in seen)
    finally:
        worker.stop()
    # at most the messages the job queue's consumer had prefetched ran before it
    assert seen.index("sync") <= 10, seen.index("sync")


def test_uuid4_strings_are_canonical_version_4_and_distinct() -> None:
    strings = uuid4_strings(2000)
    parsed = [uuid.UUID(s) for s in strings]
    assert [str(u) for u in parsed] == strings
    assert {(u.version, u.variant) for u in parsed} == {(4, uuid.RFC_4122)}
    assert len(set(strings)) == len(strings)
