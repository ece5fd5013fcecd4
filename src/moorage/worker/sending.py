"""Many messages to the broker at once: one Redis pipeline per batch instead of a round trip each.

A sync page or a ``register_existing`` request of 1,000 items commits 1,000 processing jobs;
sent one by one through Dramatiq's ``RedisBroker.enqueue`` that is 1,000 round trips to Redis
(each a run of Dramatiq's dispatch script), about half of a local sync's time. Here the same
messages (the same ``redis_message_id`` option, the same Redis keys, the broker's ``enqueue``
middleware hooks) are written with two commands per queue in one ``MULTI`` per ``PIPELINE``
messages; ``tests/worker/test_sending.py`` checks a real worker consumes them. RabbitMQ's
``basic_publish`` without delivery confirms and the in-process ``StubBroker`` are not round
trips: they go through ``broker.enqueue`` one by one.

Where no middleware hooks ``enqueue`` (moorage installs none that do) and the encoder is
Dramatiq's JSON one, ``send_many`` writes the messages' JSON straight from one template message
(the same fields, ids and timestamp Dramatiq would give them), without building a ``Message``
per job: ~40 % of a sync page's Python time went to building, copying and encoding them one by
one (decision 0042).

Each message still carries one job id, so the reconciler's count of waiting messages against
queued jobs is unchanged, and a message lost here (the broker went away mid-batch) is a queued
job row the reconciler sends again.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any
from uuid import uuid4

import dramatiq
import orjson
from dramatiq.encoder import JSONEncoder
from dramatiq.middleware import Middleware

__all__ = ["PIPELINE", "enqueue_many", "send_many"]

#: messages per Redis transaction (each ~300 bytes)
PIPELINE = 1000


def send_many(broker: dramatiq.Broker, actor: Any, calls: Sequence[tuple[Any, ...]]) -> None:
    """One message to ``actor`` for each args tuple of ``calls`` (none delayed), in as few
    round trips as the broker allows."""
    if len(calls) > 1 and _is_redis(broker) and _plain(broker):
        template = actor.message_with_options(args=()).asdict()
        for start in range(0, len(calls), PIPELINE):
            _redis_templated(broker, template, calls[start : start + PIPELINE])
        return
    enqueue_many(broker, [actor.message_with_options(args=args) for args in calls])


def _is_redis(broker: dramatiq.Broker) -> bool:
    # a RedisBroker exists only once its module was imported: no import (~0.3 s) on the first
    # confirm of a process without Redis
    redis_module = sys.modules.get("dramatiq.brokers.redis")
    return redis_module is not None and isinstance(broker, redis_module.RedisBroker)


def _plain(broker: dramatiq.Broker) -> bool:
    """No middleware looks at messages being enqueued, and they are encoded as JSON."""
    hooked = any(
        type(m).before_enqueue is not Middleware.before_enqueue
        or type(m).after_enqueue is not Middleware.after_enqueue
        for m in broker.middleware
    )
    return not hooked and type(dramatiq.get_encoder()) is JSONEncoder


#: stand-ins for what differs from message to message, cut out of the template's JSON
_SLOTS = {
    "args": rb'"\u0000args"',
    "message_id": rb'"\u0000message_id"',
    "redis": rb'"\u0000redis"',
}
#: the variant digit of a version 4 UUID (``10xx``) from any hex digit
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


def _redis_templated(
    broker: Any, template: dict[str, Any], calls: Sequence[tuple[Any, ...]]
) -> None:
    """The messages ``RedisBroker.enqueue`` would write for ``calls``, from one template: a
    message id and a ``redis_message_id`` each, in one ``MULTI``. Each message's JSON is the
    template's with its args and ids put in (as ``orjson`` writes them), not a dict dumped."""
    pieces, order = _json_pieces(template)
    ids = uuid4_strings(2 * len(calls))
    data: dict[str, bytes] = {}
    join = b"".join
    for n, args in enumerate(calls):
        redis_id = ids[2 * n + 1]
        values = {
            "args": orjson.dumps(args),
            "message_id": b'"%s"' % ids[2 * n].encode(),
            "redis": b'"%s"' % redis_id.encode(),
        }
        parts = [pieces[0]]
        for slot, piece in zip(order, pieces[1:], strict=True):
            parts += (values[slot], piece)
        data[redis_id] = join(parts)
    queue_key = f"{broker.namespace}:{template['queue_name']}"
    pipe = broker.client.pipeline(transaction=True)
    pipe.hset(f"{queue_key}.msgs", mapping=data)
    pipe.rpush(queue_key, *data)
    pipe.execute()


def _json_pieces(template: dict[str, Any]) -> tuple[list[bytes], list[str]]:
    """The template's JSON cut at each stand-in: the pieces between them and, in order, which
    value goes in each cut."""
    marked = {
        **template,
        "args": "\x00args",
        "message_id": "\x00message_id",
        "options": {**template["options"], "redis_message_id": "\x00redis"},
    }
    text = orjson.dumps(marked)
    at = sorted((text.index(m), slot) for slot, m in _SLOTS.items())
    pieces, order, start = [], [], 0
    for position, slot in at:
        pieces.append(text[start:position])
        order.append(slot)
        start = position + len(_SLOTS[slot])
    pieces.append(text[start:])
    return pieces, order


def uuid4_strings(count: int) -> list[str]:
    """``count`` random version 4 UUIDs in their canonical text form, from one read of the
    OS's random source (the ``UUID`` objects ``str()`` would be made from are not needed)."""
    hexed = os.urandom(16 * count).hex()
    variant = _VARIANT
    return [
        f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant[h[16]]}{h[17:20]}-{h[20:32]}"
        for h in (hexed[start : start + 32] for start in range(0, 32 * count, 32))
    ]


def enqueue_many(broker: dramatiq.Broker, messages: Sequence[dramatiq.Message[Any]]) -> None:
    """Enqueue ``messages`` (none delayed), in as few round trips as the broker allows."""
    if not _is_redis(broker) or len(messages) < 2:
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
