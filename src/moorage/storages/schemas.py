from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from moorage.storage.factory import PROVIDERS

ProviderField = Field(description=f"one of {', '.join(PROVIDERS)}")


class StorageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(default=None, max_length=200)
    provider: str = ProviderField
    bucket: str = Field(min_length=1, max_length=1024)
    prefix: str = ""
    readonly: bool = False
    default: bool = False
    region: str | None = None
    endpoint_url: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, str] | None = Field(
        default=None, description="secret values; stored encrypted, never returned"
    )


class StorageUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    bucket: str | None = Field(default=None, min_length=1, max_length=1024)
    prefix: str | None = None
    readonly: bool | None = None
    default: bool | None = None
    region: str | None = None
    endpoint_url: str | None = None
    options: dict[str, Any] | None = None
    credentials: dict[str, str] | None = None
