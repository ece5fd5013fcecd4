from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from moorage.kit.schemas import NameStr, SafeJson


class UploadRequest(BaseModel):
    """The top level of register_upload, as darwin-py sends it. Items are checked one by one
    (as for register_existing): a bad item is blocked with a reason."""

    model_config = ConfigDict(extra="allow")

    items: list[Any] = Field(description="items to upload; at most MOORAGE_MAX_ITEMS_PER_REQUEST")
    dataset_slug: NameStr = Field(min_length=1, max_length=200)
    options: SafeJson | None = None
