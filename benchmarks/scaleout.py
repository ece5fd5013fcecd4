"""The scale-out set-up on one machine, from its local services (the harness).

Run it with ``scripts/scaleout.sh`` or ``uv run python scripts/scaleout.py [--broker
redis|rabbitmq] [--storage local|s3] [--apis 2] [--workers 2] [--seconds N]``.

A fresh PostgreSQL database, a broker of its own (a private ``redis-server`` on a free port, or
a private vhost on the local RabbitMQ), optionally an S3 endpoint (``moto_server``), N
``moorage serve`` API processes on loopback ports sharing the database and M ``moorage worker``
processes. Waits until every API answers ``/readyz`` (``/healthz`` where there is none) and
every worker is consuming, prints the URLs and an API key, and stops everything on exit
(Ctrl-C, SIGTERM, or after ``--seconds``). ``benchmarks/faults.py``, ``benchmarks/load.py`` and
``tests/test_scaleout.py`` drive it through :class:`ScaleOut`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faultproxy import FaultProxy
from localkit import (
    PG_ADMIN,
    Started,
    add_vhost,
    api_ready,
    delete_vhost,
    free_port,
    start_moto,
    start_redis,
    wait_until,
)

RABBIT = "amqp://guest:guest@127.0.0.1:{port}/{vhost}"
TEAM = "scaleout"
S3_BUCKET = "moorage-scaleout"
S3_KEYS = {"access_key_id": "scaleout", "secret_access_key": "scaleout-secret"}


class ScaleOut(Started):
    """Start with ``with ScaleOut(...) as so:``; everything stops when the block ends."""

    def __init__(
        self,
        *,
        broker: str = "redis",
        storage: str = "local",
        apis: int = 2,
        workers: int = 2,
        worker_threads: int = 1,
        proxy_broker: bool = False,
        proxy_storage: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        if broker not in ("redis", "rabbitmq") or storage not in ("local", "s3"):
            raise ValueError("broker: redis|rabbitmq, storage: local|s3")
        self.broker, self.storage = broker, storage
        self.n_apis, self.n_workers, self.worker_threads = apis, workers, worker_threads
        self.extra_env = env or {}
        self.tmp = Path(tempfile.mkdtemp(prefix="moorage-scaleout-"))
        self.logs = self.tmp / "logs"
        self.logs.mkdir()
        tag = uuid.uuid4().hex[:8]
        self.db_name = f"moorage_scaleout_{tag}"
        self.db_url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{self.db_name}"
        self.vhost = f"moorage-scaleout-{tag}"
        self.api_ports = [free_port() for _ in range(apis)]
        self.apis: list[subprocess.Popen[bytes] | None] = [None] * apis
        self.workers: list[subprocess.Popen[bytes]] = []
        self._services: list[subprocess.Popen[bytes]] = []
        self._cleanup: list[Callable[[], None]] = []
        self.broker_proxy: FaultProxy | None = None
        self.storage_proxy: FaultProxy | None = None
        self._want_broker_proxy, self._want_storage_proxy = proxy_broker, proxy_storage
        self.api_key = ""
        self.s3_endpoint = ""
        self.s3_direct = ""
        self.broker_url = ""

    # -- life cycle -------------------------------------------------------------------------

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.api_ports]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"ApiKey {self.api_key}"}

    def start(self) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self._cleanup.append(self._drop_database)
        self.broker_url = self._start_broker()
        if self.storage == "s3":
            self._start_moto()
        else:
            # bucket "media" of the team is its own folder <root>/<team>/media
            (self.tmp / "storage" / TEAM / "media").mkdir(parents=True)
        team = json.loads(self.cli("admin", "create-team", TEAM).stdout)  # also migrates
        self.api_key = team["api_key"]
        for i in range(self.n_apis):
            self.start_api(i)
        for _ in range(self.n_workers):
            self.start_worker()
        self.wait_ready()
        self._create_dataset_and_storage()

    def stop(self) -> None:
        procs = [p for p in (*self.apis, *self.workers) if p is not None]
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                self._signal_group(p, signal.SIGCONT)  # a process a scenario froze
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.apis = [None] * self.n_apis
        self.workers = []
        for proxy in (self.broker_proxy, self.storage_proxy):
            if proxy is not None:
                proxy.close()
        for p in self._services:
            p.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=10)
            if p.poll() is None:
                p.kill()
                p.wait()
        self._services = []
        while self._cleanup:
            with contextlib.suppress(Exception):
                self._cleanup.pop()()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _drop_database(self) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')

    # -- services ---------------------------------------------------------------------------

    def _proxied(self, port: int, wanted: bool) -> tuple[int, FaultProxy | None]:
        if not wanted:
            return port, None
        proxy = FaultProxy(port)
        proxy.up()
        return proxy.port, proxy

    def _start_broker(self) -> str:
        if self.broker == "redis":
            proc, port = start_redis(self.tmp)
            self._services.append(proc)
            port, self.broker_proxy = self._proxied(port, self._want_broker_proxy)
            return f"redis://127.0.0.1:{port}/0"
        add_vhost(self.vhost)
        self._cleanup.append(lambda: delete_vhost(self.vhost))
        port, self.broker_proxy = self._proxied(5672, self._want_broker_proxy)
        return RABBIT.format(port=port, vhost=self.vhost)

    def _start_moto(self) -> None:
        proc, port = start_moto()
        self._services.append(proc)
        self.s3_direct = f"http://127.0.0.1:{port}"
        self.s3().create_bucket(Bucket=S3_BUCKET)
        port, self.storage_proxy = self._proxied(port, self._want_storage_proxy)
        self.s3_endpoint = f"http://127.0.0.1:{port}"

    def s3(self) -> Any:
        """A boto3 client on the object store itself (not through the fault proxy)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.s3_direct,
            region_name="us-east-1",
            aws_access_key_id=S3_KEYS["access_key_id"],
            aws_secret_access_key=S3_KEYS["secret_access_key"],
        )

    # -- moorage processes ------------------------------------------------------------------

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            **os.environ,
            "MOORAGE_DATA_DIR": str(self.tmp / "data"),
            "MOORAGE_LOCAL_ROOTS": str(self.tmp / "storage"),
            "MOORAGE_SECRET_KEY": "scaleout-only",
            "MOORAGE_DATABASE_URL": self.db_url,
            "MOORAGE_BROKER_URL": self.broker_url,
            # the S3 endpoint (moto) and the brokers are on loopback
            "MOORAGE_ALLOWED_ENDPOINTS": "127.0.0.1",
            "MOORAGE_LOG_FORMAT": "json",
            "MOORAGE_LOG_LEVEL": "WARNING",
        }
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "moorage.cli", *args],
            env=self.env(),
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "moorage.cli", *args],
                env=env,
                stdout=log,
                stderr=log,
                # a process group of its own: a worker and its processing children are
                # frozen, thawed and killed together, as a machine or container would be
                start_new_session=True,
            )
        finally:
            log.close()

    def start_api(self, i: int) -> None:
        port = str(self.api_ports[i])
        self.apis[i] = self._spawn(f"api-{i}", ["serve", "--port", port], self.env())

    def start_worker(self) -> None:
        n = len(self.workers)
        args = ["worker", "--threads", str(self.worker_threads)]
        # workers log at INFO: their ``job.done`` lines are how duplicates are counted
        self.workers.append(self._spawn(f"worker-{n}", args, self.env(MOORAGE_LOG_LEVEL="INFO")))

    def kill_api(self, i: int) -> None:
        proc = self.apis[i]
        assert proc is not None
        proc.kill()  # SIGKILL: no shutdown hook runs
        proc.wait()
        self.apis[i] = None

    def stop_workers(self) -> None:
        """SIGTERM every worker and wait for it (a planned scale-in)."""
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
                self._signal_group(proc, signal.SIGCONT)
        for proc in self.workers:
            proc.wait(timeout=90)

    def signal_worker(self, i: int, sig: signal.Signals) -> None:
        """Send ``sig`` to worker ``i`` and its processing children (its process group)."""
        self._signal_group(self.workers[i], sig)

    def kill_worker(self, i: int) -> None:
        """``kill -9`` of the worker's whole process group, as when its machine dies."""
        self._signal_group(self.workers[i], signal.SIGKILL)
        self.workers[i].wait()

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    def wait_ready(self, timeout: float = 120) -> None:
        for i, url in enumerate(self.urls):
            self._wait_process(f"api-{i}", self.apis[i], lambda url=url: api_ready(url), timeout)
        for i, proc in enumerate(self.workers):
            if proc.poll() is not None:
                continue
            log = self.logs / f"worker-{i}.log"
            ready = lambda log=log: "moorage worker:" in log.read_text(errors="replace")  # noqa: E731
            self._wait_process(f"worker-{i}", proc, ready, timeout)

    def _wait_process(
        self,
        name: str,
        proc: subprocess.Popen[bytes] | None,
        ready: Callable[[], bool],
        timeout: float,
    ) -> None:
        def check() -> bool:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{name} exited {proc.returncode}: {self._tail(name)}")
            return ready()

        try:
            wait_until(check, timeout=timeout, what=name)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}: {self._tail(name)}") from None

    def _tail(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-2000:]

    def _create_dataset_and_storage(self) -> None:
        api = httpx.Client(base_url=self.urls[0], headers=self.headers, timeout=30)
        with api:
            api.post("/api/datasets", json={"name": "scaleout"}).raise_for_status()
            body: dict[str, Any] = {"name": "media", "slug": "media", "prefix": "derived"}
            if self.storage == "s3":
                body |= {
                    "provider": "aws",
                    "bucket": S3_BUCKET,
                    "region": "us-east-1",
                    "endpoint_url": self.s3_endpoint,
                    "credentials": S3_KEYS,
                    "options": {"timeout": 10, "connect_timeout": 2, "max_retries": 1},
                }
            else:
                body |= {"provider": "local", "bucket": "media"}
            r = api.post(f"/api/teams/{TEAM}/storage", json=body)
            assert r.status_code == 200, r.text

    # -- data and observations --------------------------------------------------------------

    def put_files(self, keys: list[str], data: bytes) -> None:
        if self.storage == "local":
            root = self.tmp / "storage" / TEAM / "media"
            for key in keys:
                (root / key).parent.mkdir(parents=True, exist_ok=True)
                (root / key).write_bytes(data)
            return
        from concurrent.futures import ThreadPoolExecutor

        client = self.s3()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda k: client.put_object(Bucket=S3_BUCKET, Key=k, Body=data), keys))

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    def jobs_done(self) -> Counter[str]:
        """How many times each job id was logged ``job.done`` by any worker, dead or alive."""
        done: Counter[str] = Counter()
        for log in self.logs.glob("worker-*.log"):
            for line in log.read_text(errors="replace").splitlines():
                if '"job.done"' not in line:
                    continue
                with contextlib.suppress(ValueError):
                    done[json.loads(line)["job"]] += 1
        return done

    def register(self, url: str, items: list[dict[str, Any]], timeout: float = 600) -> Any:
        return httpx.post(
            f"{url}/api/v2/teams/{TEAM}/items/register_existing",
            headers=self.headers,
            timeout=timeout,
            json={"items": items, "dataset_slug": "scaleout", "storage_slug": "media"},
        )
