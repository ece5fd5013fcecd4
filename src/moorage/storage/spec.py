"""What a storage adapter is built from: plain values, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moorage.storage.egress import EgressPolicy

__all__ = ["StorageSpec"]


@dataclass(frozen=True)
class StorageSpec:
    """Everything needed to reach one bucket. ``credentials`` holds decrypted secrets."""

    provider: str
    bucket: str
    region: str | None = None
    endpoint_url: str | None = None
    #: provider options that are not secret (e.g. Azure ``account``, S3 ``path_style``)
    options: dict[str, Any] = field(default_factory=dict)
    #: secret values (access keys, connection strings, service-account JSON); never logged
    credentials: dict[str, str] = field(default_factory=dict, repr=False)
    #: ``local`` only: the resolved folders the bucket may resolve into, a relative bucket under
    #: the first (for a team's storage: its ``<root>/<team-slug>`` areas, then its grants)
    local_roots: tuple[Path, ...] = ()
    #: where a team-named endpoint may lead; ``None`` only for adapters the operator's own
    #: code builds (the server always gives the policy of ``MOORAGE_ALLOWED_ENDPOINTS``)
    egress: EgressPolicy | None = None
    #: the operator's grant to use the server's own cloud credentials (``moorage admin
    #: allow-ambient-credentials``); without it a storage with no credentials is anonymous
    allow_ambient_credentials: bool = False
    #: where the bucket's change events arrive (``{"kind": "sqs", "queue_url", "region"}``),
    #: opened by ``moorage.storage.events_sqs.open_event_source``; ``None``: a sync polls
    events: dict[str, Any] | None = None
