from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from moorage.kit.schemas import NameStr


def _prefix(value: str) -> str:
    """A key prefix as the bucket spells it: relative, no ``..`` segment."""
    if value.startswith(("/", "\\")):
        raise PydanticCustomError("invalid_prefix", "give the prefix relative to the bucket")
    if ".." in value.replace("\\", "/").split("/"):
        raise PydanticCustomError("invalid_prefix", "the prefix contains a '..' segment")
    return value


Prefix = Annotated[NameStr, AfterValidator(_prefix)]

#: a glob over the key relative to the prefix (``*.jpg``, ``scans/**``)
Glob = Annotated[NameStr, Field(min_length=1, max_length=1024)]


class SyncCreate(BaseModel):
    """``POST .../datasets/{dataset_slug}/syncs``: what to list and how to register it."""

    model_config = ConfigDict(extra="forbid")

    storage_slug: NameStr = Field(min_length=1, max_length=200)
    prefix: Prefix = Field(default="", max_length=1024, description="list keys under this")
    include: list[Glob] = Field(default_factory=list, max_length=100)
    exclude: list[Glob] = Field(default_factory=list, max_length=100)
    preserve_folders: bool = Field(
        default=True, description="item path = the key's folder relative to the prefix"
    )
    path: NameStr = Field(default="/", max_length=1024, description="item path without folders")
    group: Literal["none", "folder", "dicom-series"] = "none"
    on_missing: Literal["mark", "archive", "ignore"] = "mark"
    watch: bool = False
    poll_seconds: int = Field(default=300, ge=1, le=86_400)
    dry_run: bool = False
