"""sign and the capability PUT read in units that take no write lock (``Database.reading``)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from moorage.context import AppContext
from moorage.models import ApiKey
from moorage.models.base import utcnow
from moorage.teams.service import team_service
from tests.helpers import jpeg_bytes, make_storage
from tests.uploads.test_endpoints import UPLOADS, put, register, sign


@pytest.fixture
def storage(api: TestClient, bucket: Path, dataset: dict) -> dict:
    return make_storage(api)


def while_a_writer_holds_the_database(
    ctx: AppContext, call: Callable[[], Any], *, done: Callable[[], bool] | None = None
) -> Any:
    """``call()``'s answer, asked while another unit of work is writing; fails if it waited
    for that unit to end (on SQLite: for its write lock) before ``done()`` (default: before
    it answered)."""
    answers: list[Any] = []
    with ctx.db.session() as writer:
        team_service.create_team(writer, slug=f"busy-{uuid.uuid4().hex[:8]}")
        writer.flush()
        caller = threading.Thread(target=lambda: answers.append(call()))
        caller.start()
        if done is None:
            caller.join(timeout=5)
            waited = caller.is_alive()
        else:
            deadline = time.monotonic() + 5
            while not done() and time.monotonic() < deadline:
                time.sleep(0.01)
            waited = not done()
    caller.join()
    assert not waited, "the request waited for the writer"
    return answers[0]


class TestReadingUnits:
    def test_sign_and_put_wait_for_no_writer(
        self, api: TestClient, ctx: AppContext, storage: dict, bucket: Path
    ) -> None:
        """sign only reads; a PUT reads, writes the bytes, then marks the upload received:
        only that last step waits for the writer."""
        (item,) = register(api, "a.jpg")
        upload_id = item["slots"][0]["upload_id"]
        api.get(f"{UPLOADS}/{upload_id}/sign")  # the key's last use noted: sign only reads
        r = while_a_writer_holds_the_database(ctx, lambda: api.get(f"{UPLOADS}/{upload_id}/sign"))
        assert r.status_code == 200, r.text
        url = r.json()["upload_url"]
        r = while_a_writer_holds_the_database(
            ctx,
            lambda: put(api, url, jpeg_bytes()),
            done=lambda: any(p.is_file() for p in bucket.rglob("*")),
        )
        assert r.status_code == 200, r.text
        r = api.post(f"{UPLOADS}/{upload_id}/confirm", json={})
        assert r.status_code == 200, r.text

    def test_sign_still_notes_the_keys_use(
        self, api: TestClient, ctx: AppContext, storage: dict
    ) -> None:
        (item,) = register(api, "a.jpg")
        upload_id = item["slots"][0]["upload_id"]
        long_ago = utcnow() - timedelta(minutes=5)
        with ctx.db.session() as session:
            session.execute(update(ApiKey).values(last_used_at=long_ago))
        sign(api, upload_id)
        with ctx.db.session() as session:
            used = session.scalars(select(ApiKey.last_used_at)).one()
        assert used is not None
        assert used.replace(tzinfo=long_ago.tzinfo) > long_ago + timedelta(minutes=4)

    def test_a_refused_sign_notes_no_use(
        self, api: TestClient, ctx: AppContext, storage: dict
    ) -> None:
        """As before: the note is written with the request's work, not when it fails."""
        long_ago = utcnow() - timedelta(minutes=5)
        with ctx.db.session() as session:
            session.execute(update(ApiKey).values(last_used_at=long_ago))
        missing = "00000000-0000-4000-8000-000000000000"
        assert api.get(f"{UPLOADS}/{missing}/sign").status_code == 404
        with ctx.db.session() as session:
            used = session.scalars(select(ApiKey.last_used_at)).one()
        assert used is not None and used.replace(tzinfo=long_ago.tzinfo) == long_ago
