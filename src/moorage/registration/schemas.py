from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from moorage.kit.schemas import NameStr, SafeJson


class RegisterRequest(BaseModel):
    """The top level of register_existing. Items are checked one by one by the service, so a
    bad item is blocked with a reason instead of failing the whole request."""

    model_config = ConfigDict(extra="allow")

    items: list[Any] = Field(description="items to register; at most MOORAGE_MAX_ITEMS_PER_REQUEST")
    dataset_slug: NameStr = Field(min_length=1, max_length=200)
    storage_slug: NameStr | None = Field(
        default=None, description="the storage's slug (or name); default: the team's default"
    )
    options: SafeJson | None = None
