"""S3 event notifications delivered to an SQS queue, as an ``EventSource``.

The bucket's notification configuration (``QueueConfigurations``, or an SNS topic that fans out
to the queue) sends ``ObjectCreated:*`` and ``ObjectRemoved:*`` records. This source long-polls
the queue (``WaitTimeSeconds``) and deletes what it received only on ``ack``: a crash before
the ack lets the visibility timeout hand the messages out again (at least once).

The queue is a team-named endpoint: its URL obeys the server's egress policy and every request
goes through the egress proxy, as the S3 client's do. The client signs with the storage's own
credentials; the server's ambient ones only with the operator's grant.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import structlog

from moorage.storage.base import (
    AccessDenied,
    BucketNotFound,
    InvalidCredentials,
    StorageError,
    StorageUnavailable,
)
from moorage.storage.egress import EgressPolicy, EndpointRefused
from moorage.storage.egress_proxy import Ticket, proxy_for
from moorage.storage.events import EventKind, EventSource, KeyEvent
from moorage.storage.s3 import check_region
from moorage.storage.spec import StorageSpec

__all__ = [
    "SqsEventBatch",
    "SqsEventSource",
    "SqsEvents",
    "check_events",
    "open_event_source",
    "parse_message",
]

log = structlog.get_logger(__name__)

#: providers whose buckets can notify an SQS queue (S3 and S3-compatible stores)
SQS_PROVIDERS = ("aws", "minio")
#: SQS's own limits: 10 messages per receive or delete call, 20 s of long polling
_PER_CALL = 10
_MAX_WAIT = 20
_SQS_HOST = re.compile(r"^sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
_XML_CODE = re.compile(r"<Code>([A-Za-z0-9.]+)</Code>")
_CREATED = "ObjectCreated:"
_REMOVED = ("ObjectRemoved:", "LifecycleExpiration:Delete")
_MISSING_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
_DENIED = {"AccessDenied", "AccessDeniedException", "KMS.AccessDeniedException"}
_BAD_CREDS = {
    "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException",
    "ExpiredToken", "InvalidSecurity", "MissingAuthenticationToken", "IncompleteSignature",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SqsEvents:
    """A storage's ``events`` setting for ``kind: "sqs"``."""

    queue_url: str
    region: str

    @classmethod
    def of(cls, spec: StorageSpec) -> SqsEvents | None:
        """The setting of ``spec``; ``None`` when the storage names no queue.

        Raises ``EndpointRefused`` whose ``field`` names what is wrong (``events``,
        ``events.region``, ``region``).
        """
        events = spec.events
        if not events:
            return None
        if events.get("kind") != "sqs":
            raise EndpointRefused(
                f"Unknown bucket event source {events.get('kind')!r}.", field="events"
            )
        if spec.provider not in SQS_PROVIDERS:
            raise EndpointRefused(
                f"A {spec.provider} storage cannot take S3 event notifications from SQS.",
                field="events",
            )
        url = str(events.get("queue_url") or "")
        named = _SQS_HOST.match((urlsplit(url).hostname or "").lower())
        own = events.get("region")
        try:
            region = check_region(own or (named.group(1) if named else None) or spec.region)
        except EndpointRefused as exc:
            raise EndpointRefused(exc.message, field="events.region" if own else "region") from None
        return cls(queue_url=url, region=region)


def check_events(spec: StorageSpec) -> None:
    """Refuse, before anything is contacted, a queue the storage may not use.

    Raises ``EndpointRefused`` whose ``field`` names the storage field at fault.
    """
    found = SqsEvents.of(spec)
    if found is None:
        return
    try:
        (spec.egress or EgressPolicy()).check_url(found.queue_url)
    except EndpointRefused as exc:
        raise EndpointRefused(f"events.queue_url: {exc.message}", field="events") from None


# -- parsing --------------------------------------------------------------------------------


def _kind(name: str) -> EventKind | None:
    if name.startswith(_CREATED):
        return "created"
    if name.startswith(_REMOVED):
        return "removed"
    return None  # restores, tagging, ACL and replication changes leave the key as it was


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _Parsed:
    event: KeyEvent
    #: S3's per-key ordering token: a later change of one key has a greater sequencer
    sequencer: str


def _record(record: object, bucket: str) -> _Parsed | None:
    """One record, or ``None`` for another bucket's or an event that changes no key."""
    if not isinstance(record, dict):
        raise ValueError("a record is not an object")
    kind = _kind(str(record.get("eventName") or ""))
    s3 = record.get("s3")
    if not isinstance(s3, dict):
        raise ValueError("a record has no s3 object")
    if (s3.get("bucket") or {}).get("name") != bucket or kind is None:
        return None
    obj = s3.get("object")
    if not isinstance(obj, dict) or not isinstance(obj.get("key"), str) or not obj["key"]:
        raise ValueError("a record has no object key")
    size = obj.get("size")
    etag = obj.get("eTag") or obj.get("etag")
    event = KeyEvent(
        kind=kind,
        key=unquote_plus(obj["key"]),
        size=int(size) if isinstance(size, int) and kind == "created" else None,
        etag=(str(etag).strip('"') or None) if etag and kind == "created" else None,
        event_time=_time(record.get("eventTime")),
    )
    return _Parsed(event, str(obj.get("sequencer") or "").upper().rjust(32, "0"))


def _records(body: str) -> list[Any] | None:
    """The S3 records of a message body; ``None`` for a test event. Raises ``ValueError``."""
    doc = json.loads(body)
    if isinstance(doc, dict) and doc.get("Type") == "Notification" and "Message" in doc:
        doc = json.loads(str(doc["Message"]))  # S3 -> SNS -> SQS wraps the records once more
    if not isinstance(doc, dict):
        raise ValueError("the message is not a JSON object")
    if doc.get("Event") == "s3:TestEvent":
        return None
    records = doc.get("Records")
    if not isinstance(records, list):
        raise ValueError("the message has no Records list")
    return records


def parse_message(body: str, bucket: str) -> list[KeyEvent]:
    """The key events of ``bucket`` in one message body (keys URL-decoded).

    Raises ``ValueError`` for a body that is not an S3 notification.
    """
    records = _records(body)
    return [p.event for r in records or () if (p := _record(r, bucket)) is not None]


def _latest_per_key(parsed: Sequence[_Parsed]) -> list[KeyEvent]:
    """One event per key, the latest by S3's sequencer (a standard queue reorders messages)."""
    latest: dict[str, _Parsed] = {}
    for p in parsed:
        seen = latest.get(p.event.key)
        if seen is None or p.sequencer >= seen.sequencer:
            latest[p.event.key] = p
    order = {p.event.key: i for i, p in reversed(list(enumerate(parsed)))}
    return [p.event for p in sorted(latest.values(), key=lambda p: order[p.event.key])]


# -- the source -----------------------------------------------------------------------------


def _error(exc: Exception, queue_url: str, refused: str | None) -> StorageError:
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"the event queue {queue_url!r}"
    if refused is not None:
        return EndpointRefused(
            f"Could not reach {where}: the server's network policy refused the connection: "
            f"{refused}."
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        # some S3-compatible servers answer the JSON protocol with an XML error body
        found = _XML_CODE.search(str(error.get("Message", "")))
        if found and (not code or code.isdigit()):
            code = found.group(1)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        detail = f"HTTP {status} {code}".strip()
        if code in _MISSING_QUEUE:
            return BucketNotFound(f"{where} does not exist ({detail}).")
        if code in _BAD_CREDS:
            return InvalidCredentials(f"The credentials were rejected by {where} ({detail}).")
        if code in _DENIED or status == 403:
            return AccessDenied(f"Access denied to {where} ({detail}).")
        if isinstance(status, int) and (status >= 500 or status == 429):
            return StorageUnavailable(f"{where} is unavailable ({detail}).")
        return StorageError(f"{where} refused the request ({detail}).")
    if isinstance(exc, BotoCoreError):
        return StorageUnavailable(f"Could not reach {where} ({type(exc).__name__}).")
    raise exc


@dataclass
class SqsEventBatch:
    """Events of up to ``max_events`` messages; ``ack`` deletes those messages."""

    source: SqsEventSource = field(repr=False)
    events: list[KeyEvent]
    receipts: list[str]

    def ack(self) -> None:
        self.source.delete(self.receipts)
        self.receipts = []


class SqsEventSource(EventSource):
    """Long-polls one SQS queue for the S3 notifications of one bucket."""

    def __init__(
        self,
        bucket: str,
        *,
        queue_url: str,
        region: str,
        credentials: dict[str, str] | None = None,
        egress: EgressPolicy | None = None,
        ambient: bool = False,
    ) -> None:
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        self.bucket = bucket
        self.queue_url = queue_url
        policy = egress or EgressPolicy()
        policy.check_url(queue_url)
        self._ticket: Ticket | None = proxy_for(policy).ticket()
        creds = dict(credentials or {})
        access_key = creds.get("access_key_id") or creds.get("aws_access_key_id")
        secret_key = creds.get("secret_access_key") or creds.get("aws_secret_access_key")
        token = creds.get("session_token") or creds.get("aws_session_token")
        if bool(access_key) != bool(secret_key):
            raise InvalidCredentials(
                "S3 credentials need both access_key_id and secret_access_key."
            )
        parts = urlsplit(queue_url)
        config = Config(
            region_name=region,
            # the proxy checks every address it connects to; the environment's proxies never
            # apply, a configured list replaces them
            proxies={"http": self._ticket.url, "https": self._ticket.url},
            connect_timeout=10,
            read_timeout=_MAX_WAIT + 10,
            retries={"max_attempts": 3, "mode": "standard"},
            # no credentials of its own and no grant: anonymous, never the server's own
            signature_version=UNSIGNED if not access_key and not ambient else None,
        )
        # a session of its own: AWS_PROFILE / AWS_ENDPOINT_URL_SQS cannot steer it
        session = boto3.session.Session(
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            aws_session_token=token or None,
            region_name=region,
        )
        self._client = session.client(
            "sqs", endpoint_url=f"{parts.scheme}://{parts.netloc}", config=config
        )

    def __repr__(self) -> str:
        return f"SqsEventSource(bucket={self.bucket!r}, queue_url={self.queue_url!r})"

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self._client, method)(
                QueueUrl=self.queue_url, **kwargs
            )
        except Exception as exc:
            refused = self._ticket.last_refusal() if self._ticket is not None else None
            raise _error(exc, self.queue_url, refused) from None
        return result

    def _messages(self, wait_seconds: float, max_messages: int) -> Iterator[dict[str, Any]]:
        """The first call waits; the next ones only take what is already there."""
        wait = max(0, min(_MAX_WAIT, round(wait_seconds)))
        while max_messages > 0:
            got = self._call(
                "receive_message",
                MaxNumberOfMessages=min(_PER_CALL, max_messages),
                WaitTimeSeconds=wait,
            ).get("Messages", [])
            yield from got
            if len(got) < min(_PER_CALL, max_messages):
                return
            max_messages -= len(got)
            wait = 0

    def receive(self, *, wait_seconds: float = 10.0, max_events: int = 100) -> SqsEventBatch:
        parsed: list[_Parsed] = []
        receipts: list[str] = []
        malformed: list[str] = []
        for message in self._messages(wait_seconds, max(1, max_events)):
            try:
                records = _records(str(message.get("Body", "")))
                found = [p for r in records or () if (p := _record(r, self.bucket)) is not None]
            except ValueError as exc:
                self._malformed(message, exc)
                malformed.append(message["ReceiptHandle"])
                continue
            parsed.extend(found)
            receipts.append(message["ReceiptHandle"])
        # a message that is no notification means nothing now or later: gone at once
        self.delete(malformed)
        return SqsEventBatch(self, _latest_per_key(parsed), receipts)

    def _malformed(self, message: dict[str, Any], exc: ValueError) -> None:
        # logged once: the message is deleted, so it never comes back to be logged again
        log.warning(
            "events.sqs.malformed",
            queue=self.queue_url,
            message=message.get("MessageId"),
            error=str(exc),
        )

    def delete(self, receipts: Sequence[str]) -> None:
        for start in range(0, len(receipts), _PER_CALL):
            chunk = receipts[start : start + _PER_CALL]
            entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(chunk)]
            failed = self._call("delete_message_batch", Entries=entries).get("Failed", [])
            if failed:
                # not deleted: the queue hands them out again, and applying twice is harmless
                log.warning("events.sqs.ack_failed", queue=self.queue_url, failed=len(failed))

    def close(self) -> None:
        self._client.close()
        if self._ticket is not None:
            self._ticket.release()
            self._ticket = None


def open_event_source(spec: StorageSpec) -> SqsEventSource | None:
    """The event source ``spec`` names, or ``None`` (then a watching sync polls)."""
    found = SqsEvents.of(spec)
    if found is None:
        return None
    return SqsEventSource(
        spec.bucket,
        queue_url=found.queue_url,
        region=found.region,
        credentials=spec.credentials,
        egress=spec.egress,
        ambient=spec.allow_ambient_credentials,
    )
