from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from moorage.context import AppContext
from moorage.worker.dispatch import set_dispatcher
from moorage.worker.runtime import Runtime


@pytest.fixture
def runtime(ctx: AppContext) -> Iterator[Runtime]:
    """In-process Dramatiq (StubBroker) with two worker threads, as ``moorage serve`` runs it."""
    rt = Runtime(ctx, broker_url=None, threads=2)
    rt.install()
    rt.start_workers(reconcile_every=3600)
    yield rt
    rt.stop()


@pytest.fixture
def sent() -> Iterator[list[uuid.UUID]]:
    """The job ids handed to the broker after each commit."""
    out: list[uuid.UUID] = []
    set_dispatcher(out.extend)
    yield out
    set_dispatcher(None)
