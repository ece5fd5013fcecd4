"""Helpers for the local scale-out set-up: ports, polling, private services, test media."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import httpx

PG_ADMIN = os.environ.get("MOORAGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


class Started:
    """``with Thing(...) as t:`` runs ``start()``, and ``stop()`` on exit or when start fails."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout} s")
        time.sleep(0.05)  # polling another process's state


def api_ready(url: str) -> bool:
    """``/readyz`` where the server has it (database, broker, migrations), else ``/healthz``."""
    try:
        r = httpx.get(f"{url}/readyz", timeout=2)
        if r.status_code == 404:
            r = httpx.get(f"{url}/healthz", timeout=2)
    except httpx.TransportError:
        return False
    return r.status_code == 200


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A private ``redis-server`` on a free loopback port, without persistence."""
    port = free_port()
    args = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    args += ["--appendonly", "no", "--dir", str(folder)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    wait_until(lambda: port_open(port), timeout=20, what="redis-server")
    return proc, port


def start_moto() -> tuple[subprocess.Popen[bytes], int]:
    """``moto_server`` (S3) in its own process on a free loopback port."""
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: port_open(port), timeout=30, what="moto_server")
    return proc, port


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def add_vhost(vhost: str) -> None:
    """A private vhost on the local RabbitMQ: its queues are nobody else's."""
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")


def delete_vhost(vhost: str) -> None:
    _rabbitmqctl("delete_vhost", vhost)


def jpeg(width: int = 1280, height: int = 720) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    image = Image.effect_mandelbrot((width, height), (-2, -1.2, 1, 1.2), 40).convert("RGB")
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()
