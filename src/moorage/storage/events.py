"""Bucket event sources: what changed in a bucket, without listing it.

A watching sync (``moorage.syncs``) applies each event as a one-key sync. Sources are storage
code: they know nothing of HTTP or the database. Delivery is at least once: a batch is
acknowledged (``EventBatch.ack``) only after its events were applied, so a crash in between
re-delivers them, and applying an event twice changes nothing.

Implemented: S3 event notifications delivered to SQS (``moorage.storage.events_sqs``, where
present). Azure Event Grid and GCS Pub/Sub fit the same interface; a storage without a source
falls back to polling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

EventKind = Literal["created", "removed"]


@dataclass(frozen=True, slots=True)
class KeyEvent:
    """One object created (or overwritten) or removed; ``key`` is decoded, as stored."""

    kind: EventKind
    key: str
    size: int | None = None
    etag: str | None = None
    event_time: datetime | None = None


class EventBatch(Protocol):
    """Events received together; ``ack`` removes them from the source for good."""

    @property
    def events(self) -> Sequence[KeyEvent]: ...

    def ack(self) -> None: ...


class EventSource(Protocol):
    """A stream of a bucket's key events."""

    def receive(self, *, wait_seconds: float = 10.0, max_events: int = 100) -> EventBatch:
        """Wait up to ``wait_seconds`` for events; an empty batch when none came."""
        ...

    def close(self) -> None: ...
