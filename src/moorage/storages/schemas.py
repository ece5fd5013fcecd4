from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from moorage.kit.schemas import NameStr, SafeJson, SafeStr
from moorage.storage.factory import PROVIDERS

ProviderField = Field(description=f"one of {', '.join(PROVIDERS)}")
DerivativesField = Field(
    default=None,
    max_length=200,
    description="read-only storage: the slug of a read-write storage of the team where the "
    "workers write thumbnails, frames and slices",
)


class SqsEventsIn(BaseModel):
    """The bucket sends S3 event notifications to this SQS queue (aws and minio storage)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["sqs"]
    queue_url: NameStr = Field(
        min_length=1, max_length=2048, pattern=r"^https?://", description="http(s) queue URL"
    )
    region: NameStr | None = Field(default=None, max_length=100)


class StorageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NameStr = Field(min_length=1, max_length=200)
    slug: NameStr | None = Field(default=None, max_length=200)
    provider: NameStr = ProviderField
    bucket: NameStr = Field(min_length=1, max_length=1024)
    prefix: NameStr = Field(default="", max_length=1024)
    readonly: bool = False
    default: bool = False
    region: NameStr | None = Field(default=None, max_length=100)
    endpoint_url: NameStr | None = Field(default=None, max_length=1024)
    options: SafeJson = Field(default_factory=dict)
    credentials: dict[str, SafeStr] | None = Field(
        default=None, description="secret values; stored encrypted, never returned"
    )
    events: SqsEventsIn | None = None
    derivatives_storage: NameStr | None = DerivativesField


class StorageUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NameStr | None = Field(default=None, min_length=1, max_length=200)
    bucket: NameStr | None = Field(default=None, min_length=1, max_length=1024)
    prefix: NameStr | None = Field(default=None, max_length=1024)
    readonly: bool | None = None
    default: bool | None = None
    region: NameStr | None = Field(default=None, max_length=100)
    endpoint_url: NameStr | None = Field(default=None, max_length=1024)
    options: SafeJson | None = None
    credentials: dict[str, SafeStr] | None = None
    #: ``null`` removes the queue / the derivatives storage
    events: SqsEventsIn | None = None
    derivatives_storage: NameStr | None = DerivativesField
