"""S3 event notifications through SQS: moto's server delivers real records on loopback."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from structlog.testing import capture_logs

from moorage.storage.base import StorageError
from moorage.storage.egress import EgressPolicy, EndpointRefused
from moorage.storage.events import KeyEvent
from moorage.storage.events_sqs import (
    SqsEventSource,
    check_events,
    open_event_source,
    parse_message,
)
from moorage.storage.factory import StorageSpec, check_endpoints
from tests.storage.conftest import LOOPBACK, AuthS3, moto_client
from tests.storage.test_ssrf import Canary, canary  # noqa: F401 (the canary fixture)

CREDS = {"access_key_id": "test", "secret_access_key": "test"}


def _clients(endpoint: str, creds: dict[str, str] = CREDS) -> tuple[Any, Any]:
    return moto_client(endpoint, "s3", creds), moto_client(endpoint, "sqs", creds)


@dataclass
class Wired:
    """A bucket whose notifications go to its own queue."""

    s3: Any
    sqs: Any
    bucket: str
    queue_url: str
    endpoint: str

    def spec(self, **changes: Any) -> StorageSpec:
        fields: dict[str, Any] = {
            "provider": "aws",
            "bucket": self.bucket,
            "region": "us-east-1",
            "endpoint_url": self.endpoint,
            "credentials": CREDS,
            "egress": LOOPBACK,
            "events": {"kind": "sqs", "queue_url": self.queue_url},
        }
        fields.update(changes)
        return StorageSpec(**fields)

    def pending(self) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )


def wire(s3: Any, sqs: Any, endpoint: str, *, visibility: int = 30) -> Wired:
    name = f"ev-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    queue = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility)})[
        "QueueUrl"
    ]
    notify(s3, sqs, name, queue)
    return Wired(s3, sqs, name, queue, endpoint)


def notify(s3: Any, sqs: Any, bucket: str, queue_url: str) -> None:
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn["Attributes"]["QueueArn"],
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                }
            ]
        },
    )


@pytest.fixture
def wired(moto_endpoint: str) -> Wired:
    s3, sqs = _clients(moto_endpoint)
    return wire(s3, sqs, moto_endpoint)


@pytest.fixture
def source(wired: Wired) -> Iterator[SqsEventSource]:
    found = open_event_source(wired.spec())
    assert found is not None
    yield found
    found.close()


def collect(source: SqsEventSource, count: int, *, timeout: float = 10.0) -> list[KeyEvent]:
    """Receive and ack until ``count`` events came (the queue also holds S3's TestEvent)."""
    events: list[KeyEvent] = []
    deadline = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline:
        batch = source.receive(wait_seconds=1)
        events.extend(batch.events)
        batch.ack()
    return events


def drain(source: SqsEventSource) -> None:
    """Take what is queued (S3's TestEvent) until a receive finds nothing."""
    while True:
        batch = source.receive(wait_seconds=1)
        taken = len(batch.receipts)
        batch.ack()
        if not taken:
            return


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # noqa: S324 (S3's etag of a single-part upload)


class TestEvents:
    def test_put_is_created_with_size_and_etag(self, wired: Wired, source) -> None:
        wired.s3.put_object(Bucket=wired.bucket, Key="cars/a.jpg", Body=b"hello")
        (event,) = collect(source, 1)
        assert (event.kind, event.key, event.size, event.etag) == (
            "created",
            "cars/a.jpg",
            5,
            _md5(b"hello"),
        )
        assert event.event_time is not None and event.event_time.tzinfo is not None

    def test_overwrite_is_created_with_the_new_etag(self, wired: Wired, source) -> None:
        wired.s3.put_object(Bucket=wired.bucket, Key="a.jpg", Body=b"one")
        assert collect(source, 1)[0].etag == _md5(b"one")
        wired.s3.put_object(Bucket=wired.bucket, Key="a.jpg", Body=b"second")
        (event,) = collect(source, 1)
        assert (event.kind, event.size, event.etag) == ("created", 6, _md5(b"second"))

    def test_delete_is_removed(self, wired: Wired, source) -> None:
        wired.s3.put_object(Bucket=wired.bucket, Key="a.jpg", Body=b"one")
        collect(source, 1)
        wired.s3.delete_object(Bucket=wired.bucket, Key="a.jpg")
        (event,) = collect(source, 1)
        assert (event.kind, event.key, event.size, event.etag) == ("removed", "a.jpg", None, None)

    def test_one_event_per_key_in_a_batch_the_latest(self, wired: Wired, source) -> None:
        wired.s3.put_object(Bucket=wired.bucket, Key="a.jpg", Body=b"one")
        wired.s3.put_object(Bucket=wired.bucket, Key="b.jpg", Body=b"b")
        wired.s3.delete_object(Bucket=wired.bucket, Key="a.jpg")
        # all of them already queued: one receive takes them together
        batch = source.receive(wait_seconds=1, max_events=100)
        assert [(e.kind, e.key) for e in batch.events] == [
            ("removed", "a.jpg"),
            ("created", "b.jpg"),
        ]
        batch.ack()

    @pytest.mark.parametrize(
        "key",
        [
            "with space/and  two.jpg",
            "ünïcødé/日本語.png",
            "a+b=c&d.jpg",
            "100%/x%20y.jpg",
            "~!'()*.jpg",
        ],
    )
    def test_keys_arrive_decoded(self, wired: Wired, source, key: str) -> None:
        wired.s3.put_object(Bucket=wired.bucket, Key=key, Body=b"x")
        wired.s3.delete_object(Bucket=wired.bucket, Key=key)
        events = collect(source, 1)
        assert [e.key for e in events] == [key]
        assert events[0].kind == "removed"

    def test_another_buckets_events_are_ignored_and_acked(self, wired: Wired, source) -> None:
        other = f"other-{uuid.uuid4().hex[:10]}"
        wired.s3.create_bucket(Bucket=other)
        notify(wired.s3, wired.sqs, other, wired.queue_url)
        wired.s3.put_object(Bucket=other, Key="theirs.jpg", Body=b"x")
        wired.s3.put_object(Bucket=wired.bucket, Key="ours.jpg", Body=b"y")
        assert [e.key for e in collect(source, 1)] == ["ours.jpg"]
        assert source.receive(wait_seconds=0).events == []
        assert wired.pending() == 0


class TestDelivery:
    def test_malformed_messages_are_logged_once_and_dropped(self, wired: Wired, source) -> None:
        bodies = [
            "not json at all",
            "[1, 2]",
            json.dumps({"Records": "nope"}),
            json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}),
            json.dumps(
                {
                    "Records": [
                        {
                            "eventName": "ObjectCreated:Put",
                            "s3": {"bucket": {"name": wired.bucket}, "object": {"key": 7}},
                        }
                    ]
                }
            ),
            json.dumps({"Type": "Notification", "Message": "{broken"}),
        ]
        for body in bodies:
            wired.sqs.send_message(QueueUrl=wired.queue_url, MessageBody=body)
        wired.s3.put_object(Bucket=wired.bucket, Key="good.jpg", Body=b"x")
        with capture_logs() as logs:
            assert [e.key for e in collect(source, 1)] == ["good.jpg"]
            assert source.receive(wait_seconds=0).events == []
        malformed = [entry for entry in logs if entry["event"] == "events.sqs.malformed"]
        assert len(malformed) == len(bodies)
        assert len({entry["message"] for entry in malformed}) == len(bodies)
        assert wired.pending() == 0

    def test_unacked_batch_is_redelivered_after_the_visibility_timeout(
        self, moto_endpoint: str
    ) -> None:
        s3, sqs = _clients(moto_endpoint)
        short = wire(s3, sqs, moto_endpoint, visibility=1)
        source = open_event_source(short.spec())
        assert source is not None
        try:
            drain(source)  # S3's TestEvent
            s3.put_object(Bucket=short.bucket, Key="a.jpg", Body=b"x")
            first = source.receive(wait_seconds=5)
            assert [e.key for e in first.events] == ["a.jpg"]
            # not acked (the sync crashed before applying it): handed out again
            again = source.receive(wait_seconds=5)
            assert [e.key for e in again.events] == ["a.jpg"]
            again.ack()
            assert source.receive(wait_seconds=2).events == []
            assert short.pending() == 0
        finally:
            source.close()

    def test_more_than_ten_messages_in_one_batch_and_max_events(self, wired: Wired, source) -> None:
        drain(source)
        for i in range(25):
            wired.s3.put_object(Bucket=wired.bucket, Key=f"k/{i:02d}.jpg", Body=b"x")
        small = source.receive(wait_seconds=1, max_events=5)
        assert len(small.events) == 5
        small.ack()
        rest = source.receive(wait_seconds=1, max_events=100)
        assert len(rest.events) == 20  # SQS gives at most 10 a call: three calls
        rest.ack()
        keys = {e.key for e in small.events} | {e.key for e in rest.events}
        assert keys == {f"k/{i:02d}.jpg" for i in range(25)}

    def test_receive_waits_for_an_event_then_returns_at_once(self, wired: Wired, source) -> None:
        drain(source)
        started = time.monotonic()
        assert source.receive(wait_seconds=1).events == []
        assert time.monotonic() - started >= 0.9  # long polling, not a busy loop
        wired.s3.put_object(Bucket=wired.bucket, Key="a.jpg", Body=b"x")
        started = time.monotonic()
        assert [e.key for e in source.receive(wait_seconds=10).events] == ["a.jpg"]
        assert time.monotonic() - started < 5


class TestParse:
    BUCKET = "data"

    def _record(self, name: str, key: str = "k", bucket: str = BUCKET, **obj: Any) -> dict:
        return {
            "eventName": name,
            "eventTime": "2026-12-01T10:56:39.841Z",
            "s3": {"bucket": {"name": bucket}, "object": {"key": key, **obj}},
        }

    def test_kinds(self) -> None:
        body = json.dumps(
            {
                "Records": [
                    self._record("ObjectCreated:CompleteMultipartUpload", "a", size=3, eTag='"e"'),
                    self._record("ObjectRemoved:DeleteMarkerCreated", "b"),
                    self._record("LifecycleExpiration:Delete", "c"),
                    self._record("ObjectRestore:Completed", "d"),
                    self._record("ObjectTagging:Put", "e"),
                ]
            }
        )
        found = parse_message(body, self.BUCKET)
        assert [(e.kind, e.key, e.size, e.etag) for e in found] == [
            ("created", "a", 3, "e"),
            ("removed", "b", None, None),
            ("removed", "c", None, None),
        ]
        assert all(e.event_time is not None for e in found)

    def test_sns_envelope_test_event_and_other_buckets(self) -> None:
        inner = json.dumps({"Records": [self._record("ObjectCreated:Put", "x+y%2Fz")]})
        wrapped = json.dumps({"Type": "Notification", "Message": inner})
        assert [e.key for e in parse_message(wrapped, self.BUCKET)] == ["x y/z"]
        test = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "data"})
        assert parse_message(test, self.BUCKET) == []
        other = json.dumps({"Records": [self._record("ObjectCreated:Put", bucket="else")]})
        assert parse_message(other, self.BUCKET) == []

    @pytest.mark.parametrize(
        "body", ["", "null", "{}", '{"Records": [1]}', '{"Records": [{"s3": 1}]}']
    )
    def test_malformed_raises_value_error(self, body: str) -> None:
        with pytest.raises(ValueError):  # noqa: PT011 (json's error is one too)
            parse_message(body, self.BUCKET)


class TestConfiguration:
    def test_no_queue_means_no_source(self, wired: Wired) -> None:
        assert open_event_source(wired.spec(events=None)) is None

    def test_only_s3_storage_takes_sqs_events(self, wired: Wired) -> None:
        with pytest.raises(EndpointRefused) as caught:
            check_events(wired.spec(provider="gcp"))
        assert caught.value.field == "events"
        with pytest.raises(EndpointRefused):
            open_event_source(wired.spec(events={"kind": "kafka", "queue_url": "x"}))

    def test_region_from_the_aws_queue_host(self, wired: Wired) -> None:
        from moorage.storage.events_sqs import SqsEvents

        url = "https://sqs.eu-west-3.amazonaws.com/123456789012/q"
        found = SqsEvents.of(wired.spec(events={"kind": "sqs", "queue_url": url}))
        assert found is not None and found.region == "eu-west-3"
        with pytest.raises(EndpointRefused) as caught:
            SqsEvents.of(wired.spec(events={"kind": "sqs", "queue_url": url, "region": "eu/../x"}))
        assert caught.value.field == "events.region"

    def test_loopback_queue_refused_without_the_operators_allowance(self, wired: Wired) -> None:
        spec = wired.spec(egress=EgressPolicy())
        with pytest.raises(EndpointRefused) as caught:
            check_endpoints(replace(spec, endpoint_url=None))
        assert caught.value.field == "events"
        with pytest.raises(EndpointRefused):
            open_event_source(spec)

    def test_dns_rebinding_is_refused_at_connect(
        self,
        wired: Wired,
        canary: Canary,  # noqa: F811 (the fixture imported above)
        rebinding: dict[str, str],
    ) -> None:
        """The queue's name resolves to an allowed address when opened, to the canary later:
        the proxy, which every request goes through, refuses it."""
        answer = rebinding
        answer["rebind.test"] = "127.0.0.2"
        url = f"http://rebind.test:{canary.port}/123456789012/q"
        policy = EgressPolicy.parse("127.0.0.2")
        source = open_event_source(
            wired.spec(egress=policy, events={"kind": "sqs", "queue_url": url})
        )
        assert source is not None
        try:
            answer["rebind.test"] = "127.0.0.1"
            with pytest.raises(EndpointRefused):
                source.receive(wait_seconds=0)
        finally:
            source.close()
        assert canary.contacts() == []


class TestCredentials:
    """moto checking signatures: the storage's own keys, never the server's without a grant."""

    @pytest.fixture
    def authed(self, moto_auth: AuthS3) -> Wired:
        s3, sqs = _clients(moto_auth.endpoint, moto_auth.rw)
        return wire(s3, sqs, moto_auth.endpoint)

    def _spec(self, authed: Wired, moto_auth: AuthS3, **changes: Any) -> StorageSpec:
        return authed.spec(**{"credentials": moto_auth.rw, **changes})

    def test_the_storages_own_credentials_sign(self, authed: Wired, moto_auth: AuthS3) -> None:
        source = open_event_source(self._spec(authed, moto_auth))
        assert source is not None
        try:
            authed.s3.put_object(Bucket=authed.bucket, Key="a.jpg", Body=b"x")
            assert [e.key for e in collect(source, 1)] == ["a.jpg"]
        finally:
            source.close()

    def test_ambient_credentials_only_with_the_grant(
        self, authed: Wired, moto_auth: AuthS3, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_auth.rw["access_key_id"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_auth.rw["secret_access_key"])
        anonymous = open_event_source(self._spec(authed, moto_auth, credentials={}))
        assert anonymous is not None
        try:
            with pytest.raises(StorageError):
                anonymous.receive(wait_seconds=0)
        finally:
            anonymous.close()
        granted = open_event_source(
            self._spec(authed, moto_auth, credentials={}, allow_ambient_credentials=True)
        )
        assert granted is not None
        try:
            assert granted.receive(wait_seconds=0).events == []
        finally:
            granted.close()

    def test_rejected_credentials(self, authed: Wired, moto_auth: AuthS3) -> None:
        bad = {"access_key_id": "AKIANOTAKEY", "secret_access_key": "nope"}
        source = open_event_source(self._spec(authed, moto_auth, credentials=bad))
        assert source is not None
        try:
            with pytest.raises(StorageError) as caught:
                source.receive(wait_seconds=0)
            assert caught.value.reason == "STORAGE_INVALID_CREDENTIALS"
            assert "nope" not in caught.value.message
        finally:
            source.close()
