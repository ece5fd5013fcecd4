"""Settings from the environment (prefix ``MOORAGE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOORAGE_", extra="ignore")

    #: where the embedded default keeps its database, secret key file and local storage
    data_dir: Path = Field(default_factory=lambda: Path.cwd() / "moorage-data")
    #: SQLAlchemy URL; default ``sqlite:///<data_dir>/moorage.db``
    database_url: str | None = None
    #: comma-separated roots; a team's ``local`` storages live in ``<root>/<team-slug>/`` of them
    #: (or in folders the operator granted it); default ``<data_dir>/storage``
    local_roots: str | None = None
    #: key for encrypting stored secrets; default: a key file in the data dir
    secret_key: str | None = None
    #: ``amqp://...`` or ``redis://...``; unset = in-process workers
    broker_url: str | None = None
    #: how many items one register_existing request may carry
    max_items_per_request: int = 10_000
    #: lifetime of signed URLs handed out by the serving endpoints, in seconds
    signed_url_seconds: int = 900
    #: public base URL used in item JSON links; default derived from the request
    public_url: str | None = None
    #: the most bytes one uploaded file (``register_upload`` + PUT) may have, when the client
    #: announces no ``size_bytes`` (darwin-py does not); an announced size lowers it per file
    max_upload_bytes: int = 5 * 1024**3
    #: an upload not confirmed this long after ``register_upload`` expires: its item and bytes
    #: are deleted by the reconciler; its PUT and confirm are refused
    upload_expiry_seconds: int = 24 * 3600
    #: in-process worker threads for the embedded default
    workers: int = 2
    log_level: str = "INFO"
    #: ``console`` (human) or ``json`` (one object a line, with the request id)
    log_format: str = "console"

    # -- trust: what the server may contact, how much it reads, how much it makes --
    #: comma-separated hosts or CIDR ranges a storage endpoint may resolve to although they are
    #: loopback, link-local, private or metadata addresses (e.g. ``127.0.0.1,10.0.0.0/8``)
    allowed_endpoints: str | None = None
    #: largest request body read, in bytes (413 beyond); sized for 10,000 items a request
    max_body_bytes: int = 32 * 1024 * 1024
    #: per slot: pages of a PDF, frames of a video, slices of a DICOM/NIfTI volume
    max_pages_per_slot: int = 2_000
    max_frames_per_slot: int = 200_000
    max_slices_per_slot: int = 5_000
    #: total bytes of derivatives one slot may write
    max_derivative_bytes: int = 20 * 1024**3
    #: voxels a NIfTI volume may hold in memory while it is sliced (or one decoded DICOM frame),
    #: checked from the header before anything is allocated
    max_volume_bytes: int = 2 * 1024**3
    #: a running job whose heartbeat is older than this is taken back (its worker died); jobs
    #: beat every timeout/9 (5 s at most) and the reconciler looks every timeout/4.5 (10 s at
    #: most), so a dead worker's jobs run again within timeout + 10 s
    job_heartbeat_timeout_seconds: float = 45
    #: keys a sync lists (and registers) per page; each page is one checkpointed transaction
    sync_page_size: int = Field(default=1000, ge=1, le=10_000)
    #: on PostgreSQL, a sync registers the next page while the current one commits
    sync_pages_ahead: bool = True
    #: processing jobs run this many nice steps below the worker thread's priority (Linux), so
    #: a sync registering items is not slowed by their thumbnails; 0: the same priority
    processing_nice: int = Field(default=10, ge=0, le=19)
    #: where processing jobs run: ``processes`` (children of the process taking the messages,
    #: as many as its worker threads, each niced as a whole: out of the API's or the sync's
    #: GIL) or ``threads`` (the worker threads themselves)
    processing_in: Literal["processes", "threads"] = "processes"
    #: a worker told to stop (SIGTERM) lets running jobs finish this long, then hands them back
    worker_grace_seconds: float = 20

    # -- rate limiting, per API key --
    #: e.g. ``600/minute``; empty or ``0`` turns it off; the default admits a darwin-py push
    #: at 100 files/s (two requests a file, decision 0049)
    rate_limit: str = "12000/minute"
    #: where the counters live: unset = the database when PostgreSQL, this process otherwise;
    #: ``redis://...`` to share them through Redis
    rate_limit_url: str | None = None
    #: when set, ``/metrics`` wants ``Authorization: Bearer <token>``; unset, it is open
    metrics_token: str | None = None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'moorage.db'}"

    @property
    def resolved_local_roots(self) -> list[Path]:
        if self.local_roots:
            return [Path(p).expanduser() for p in self.local_roots.split(",") if p.strip()]
        return [self.data_dir / "storage"]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
