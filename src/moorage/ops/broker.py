"""Short-lived broker connections for readiness and queue depth (never the workers' own)."""

from __future__ import annotations

from typing import Any

__all__ = ["broker_depth", "ping_broker"]

TIMEOUT = 2.0
#: dramatiq's Redis broker keeps a queue's waiting message ids in this list
_REDIS_NAMESPACE = "dramatiq"


def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)


def _amqp(url: str) -> Any:
    import pika

    params = pika.URLParameters(url)
    params.socket_timeout = TIMEOUT
    params.stack_timeout = TIMEOUT
    params.blocked_connection_timeout = TIMEOUT
    params.connection_attempts = 1
    return pika.BlockingConnection(params)


def ping_broker(url: str) -> None:
    """Raise if the broker does not answer."""
    if url.startswith(("redis://", "rediss://")):
        client = _redis(url)
        try:
            client.ping()
        finally:
            client.close()
        return
    _amqp(url).close()


def broker_depth(url: str, queue: str) -> int | None:
    """Messages waiting in ``queue`` as the broker counts them; ``None`` if it cannot say."""
    if url.startswith(("redis://", "rediss://")):
        client = _redis(url)
        try:
            return int(client.llen(f"{_REDIS_NAMESPACE}:{queue}"))
        finally:
            client.close()
    import pika.exceptions

    connection = _amqp(url)
    try:
        channel = connection.channel()
        try:
            declared = channel.queue_declare(queue=queue, passive=True)
        except pika.exceptions.ChannelClosedByBroker:  # not declared yet: nothing sent
            return 0
        return int(declared.method.message_count)
    finally:
        if connection.is_open:
            connection.close()
