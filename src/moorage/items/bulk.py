"""The bodies of the bulk item operations darwin-py sends (tags, path, layout, priority).

Each body holds ``filters`` (read by ``filters.filters_from_body``, the archive/delete
semantics) plus the operation's own fields, checked here: a bad field is a 422 naming it
(``layout.type``, ``priority``), never a 500.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

from moorage.errors import BadRequest, MoorageError, ValidationFailed
from moorage.kit.text import unsafe_text

__all__ = ["LayoutBody", "PathBody", "PriorityBody", "TagBody", "Unsupported", "parse_body"]

#: widths of the columns the values land in (items.path, item_tags.name, items.priority)
MAX_PATH = 1024
MAX_TAG = 200
INT32 = 2**31

_Body = TypeVar("_Body", bound=BaseModel)


class Unsupported(MoorageError):
    """A darwin-py call about users or workflows, which moorage does not have."""

    status_code = 422
    code = "NOT_SUPPORTED"

    def __init__(self, field: str) -> None:
        super().__init__(
            "moorage has no users, workflows nor stages: assigning items and moving them "
            "between workflow stages is not supported (docs/item-operations.md).",
            field=field,
        )


class _Body_(BaseModel):
    # ``filters`` is read separately; every other unknown field is refused by name
    model_config = ConfigDict(extra="forbid")
    filters: Any = None


class TagBody(_Body_):
    """``annotation_class_id`` (darwin-py's tag class; moorage has no annotation classes,
    so the tag is named by the id's decimal digits) or ``tag`` (a tag name, moorage's own)."""

    annotation_class_id: StrictInt | None = Field(None, ge=0, lt=INT32)
    tag: str | None = Field(None, min_length=1, max_length=MAX_TAG)

    @model_validator(mode="after")
    def _one(self) -> TagBody:
        if (self.annotation_class_id is None) == (self.tag is None):
            raise ValueError("send exactly one of annotation_class_id or tag")
        return self

    @property
    def name(self) -> str:
        return self.tag if self.tag is not None else str(self.annotation_class_id)


class PathBody(_Body_):
    path: str = Field(min_length=1, max_length=MAX_PATH)


class Layout(BaseModel):
    """darwin-py's ``ItemLayout``: version 2 needs ``layout_shape``."""

    model_config = ConfigDict(extra="forbid")
    slots: list[str] = Field(min_length=1, max_length=64)
    type: Literal["grid", "horizontal", "vertical", "simple"]
    version: Literal[1, 2]
    layout_shape: list[StrictInt] | None = Field(None, min_length=1, max_length=8)

    @model_validator(mode="after")
    def _shape(self) -> Layout:
        if self.version == 2 and not self.layout_shape:
            raise ValueError("layout_shape is required for a version 2 layout")
        if self.layout_shape and any(not 1 <= n <= 64 for n in self.layout_shape):
            raise ValueError("layout_shape holds counts from 1 to 64")
        return self


class LayoutBody(_Body_):
    layout: Layout


class PriorityBody(_Body_):
    priority: StrictInt = Field(ge=-INT32, lt=INT32)


def _field(error: Any) -> str:
    loc = [str(p) for p in error.get("loc", ())]
    return ".".join(loc) or "body"


def parse_body(model: type[_Body], body: Any) -> _Body:
    """``body`` as ``model``, or a 422 naming the first field at fault."""
    if not isinstance(body, dict):
        raise BadRequest("Send a JSON object with filters.", field="body")
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _field(first)
        message = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
        raise ValidationFailed(f"{where}: {message}.", field=where) from None
    _check_texts(parsed)
    return parsed


def _check_texts(parsed: BaseModel) -> None:
    """Control characters, lone surrogates and the like in a name or path are refused."""
    texts: list[tuple[str, str]] = []
    if isinstance(parsed, TagBody) and parsed.tag is not None:
        texts.append(("tag", parsed.tag))
    if isinstance(parsed, PathBody):
        texts.append(("path", parsed.path))
    if isinstance(parsed, LayoutBody):
        texts.extend(("layout.slots", s) for s in parsed.layout.slots)
    for where, text in texts:
        reason = unsafe_text(text, single_line=True)
        if reason is not None:
            raise ValidationFailed(f"{where} {reason}.", field=where)
