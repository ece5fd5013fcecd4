from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from moorage.kit.schemas import NameStr


class DatasetCreate(BaseModel):
    """darwin-py sends more than the name; only the name is read."""

    model_config = ConfigDict(extra="allow")

    #: blank or missing is the service's darwin-style ``can't be blank``
    name: NameStr | None = Field(default=None, max_length=200)
