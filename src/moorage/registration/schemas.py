from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RegisterRequest(BaseModel):
    """The top level of register_existing. Items are checked one by one by the service, so a
    bad item is blocked with a reason instead of failing the whole request."""

    model_config = ConfigDict(extra="allow")

    items: list[Any] = Field(description="items to register; at most MOORAGE_MAX_ITEMS_PER_REQUEST")
    dataset_slug: str = Field(min_length=1)
    storage_slug: str | None = Field(
        default=None, description="the storage's slug (or name); default: the team's default"
    )
    options: dict[str, Any] | None = None
