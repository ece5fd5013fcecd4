"""Many messages to the broker at once: one Redis pipeline per batch instead of a round trip each.

A sync page or a ``register_existing`` request of 1,000 items commits 1,000 processing jobs;
sent one by one through Dramatiq's ``RedisBroker.enqueue`` that is 1,000 round trips to Redis
(each a run of Dramatiq's dispatch script), about half of a local sync's time. Here the same
messages (the same ``redis_message_id`` option, the same Redis keys, the broker's ``enqueue``
middleware hooks) are written with two commands per queue in one ``MULTI`` per ``PIPELINE``
messages; ``tests/worker/test_sending.py`` checks a real worker consumes them. RabbitMQ's
``basic_publish`` without delivery confirms and the in-process ``StubBroker`` are not round
trips: they go through ``broker.enqueue`` one by one.

Each message still carries one job id, so the reconciler's count of waiting messages against
queued jobs is unchanged, and a message lost here (the broker went away mid-batch) is a queued
job row the reconciler sends again.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any
from uuid import uuid4

import dramatiq

__all__ = ["PIPELINE", "enqueue_many"]

#: messages per Redis transaction (each ~300 bytes)
PIPELINE = 1000


def enqueue_many(broker: dramatiq.Broker, messages: Sequence[dramatiq.Message[Any]]) -> None:
    """Enqueue ``messages`` (none delayed), in as few round trips as the broker allows."""
    # a RedisBroker exists only once its module was imported: no import (~0.3 s) on the first
    # confirm of a process without Redis
    redis_module = sys.modules.get("dramatiq.brokers.redis")
    is_redis = redis_module is not None and isinstance(broker, redis_module.RedisBroker)
    if not is_redis or len(messages) < 2:
        for message in messages:
            broker.enqueue(message)
        return
    for start in range(0, len(messages), PIPELINE):
        _redis_pipeline(broker, messages[start : start + PIPELINE])


def _redis_pipeline(broker: Any, messages: Sequence[dramatiq.Message[Any]]) -> None:
    """What ``RedisBroker.enqueue`` does for each message (Dramatiq's dispatch script stores the
    message in the queue's ``.msgs`` hash and appends its id to the queue's list), for a batch
    of messages in one ``MULTI``: one ``HSET`` and one ``RPUSH`` per queue."""
    by_queue: dict[str, tuple[dict[str, bytes], list[str]]] = {}
    sent = []
    for message in messages:
        message = message.copy(options={"redis_message_id": str(uuid4())})
        broker.emit_before("enqueue", message, None)
        redis_id = message.options["redis_message_id"]
        data, ids = by_queue.setdefault(message.queue_name, ({}, []))
        data[redis_id] = message.encode()
        ids.append(redis_id)
        sent.append(message)
    pipe = broker.client.pipeline(transaction=True)
    for queue, (data, ids) in by_queue.items():
        queue_key = f"{broker.namespace}:{queue}"
        pipe.hset(f"{queue_key}.msgs", mapping=data)
        pipe.rpush(queue_key, *ids)
    pipe.execute()
    for message in sent:
        broker.emit_after("enqueue", message, None)
