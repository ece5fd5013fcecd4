"""``POST .../datasets/{slug}/exports`` as darwin-py 3.6.3 sends it (``export_dataset``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from moorage.kit.schemas import NameStr


def _release_name(value: str) -> str:
    # darwin-py pulls into ``<datasets dir>/<team>/<dataset>/releases/<name>``, and reads
    # ``team/dataset:name`` on its command line
    if value.strip() in ("", ".", "..") or any(c in value for c in "/\\:"):
        raise PydanticCustomError(
            "invalid_release_name", "a release name is not '.', '..' nor holds '/', '\\' or ':'"
        )
    return value


ReleaseName = Annotated[NameStr, Field(min_length=1, max_length=200), AfterValidator(_release_name)]


class AnnotationFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    annotation_class_ids: list[int] = Field(default_factory=list, max_length=10_000)


class ExportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ReleaseName
    #: ``darwin_json_2`` (Darwin JSON 2.0); absent means the team's default, which is that
    format: Literal["darwin_json_2"] = "darwin_json_2"
    include_authorship: bool = False
    include_export_token: bool = Field(
        default=False,
        description="the zip's file URLs carry the release token (else they need an API key)",
    )
    annotation_filters: AnnotationFilters = Field(default_factory=AnnotationFilters)
    #: darwin-py sends ``{"annotation_class_ids": [...]}`` here when it filters by class; moorage
    #: holds no annotations yet, so a class filter keeps every item
    filters: AnnotationFilters | None = None
