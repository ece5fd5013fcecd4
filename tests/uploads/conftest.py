from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import uvicorn

from moorage.app import create_app
from moorage.context import AppContext
from tests.conftest import LiveServer, free_port


@pytest.fixture
def working_server(ctx: AppContext) -> Iterator[LiveServer]:
    """moorage on a loopback port with its in-process workers, as ``moorage serve`` runs."""
    port = free_port()
    app = create_app(ctx.settings, ctx, start_runtime=True)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    while not server.started and thread.is_alive():
        started.wait(0.01)
    assert server.started, "uvicorn did not start"
    yield LiveServer(url=f"http://127.0.0.1:{port}", ctx=ctx)
    server.should_exit = True
    thread.join(timeout=30)
