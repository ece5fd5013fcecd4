from __future__ import annotations

from collections.abc import Iterator

import pytest

from moorage.context import AppContext
from moorage.worker.runtime import Runtime


@pytest.fixture
def runtime(ctx: AppContext) -> Iterator[Runtime]:
    """In-process Dramatiq (StubBroker) with two worker threads, as ``moorage serve`` runs it."""
    rt = Runtime(ctx, broker_url=None, threads=2)
    rt.install()
    rt.start_workers(reconcile_every=3600)
    yield rt
    rt.stop()
