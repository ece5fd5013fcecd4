"""Item filters and sorting, from a query string (darwin-py's spellings) or a JSON body."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_origin

from pydantic import BaseModel, ConfigDict, Field

from moorage.errors import BadRequest, ValidationFailed
from moorage.kit.text import unsafe_text

SORT_FIELDS = ("inserted_at", "updated_at", "file_size", "filename", "priority")
MAX_PAGE_SIZE = 1000
_LIST_FIELDS = (
    "dataset_ids",
    "item_ids",
    "item_names",
    "item_paths",
    "statuses",
    "slot_types",
    "source_statuses",
)
#: what ``statuses`` may hold: V7's item statuses (an unknown one would silently match nothing)
STATUSES = (
    "new", "annotate", "review", "complete",
    "processing", "error", "cancelled", "uploading", "archived",
)  # fmt: skip
#: what ``slot_types`` may hold: the slot types items have, and ``nifti`` (a volume's own kind)
SLOT_TYPES = ("image", "video", "pdf", "dicom", "nifti")
#: what ``source_statuses`` may hold: ``missing`` (a sync found the file gone) or ``present``
SOURCE_STATUSES = ("missing", "present")


@dataclass
class ItemFilters:
    dataset_ids: list[int] = field(default_factory=list)
    item_ids: list[uuid.UUID] = field(default_factory=list)
    item_names: list[str] = field(default_factory=list)
    item_paths: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    slot_types: list[str] = field(default_factory=list)
    source_statuses: list[str] = field(default_factory=list)
    #: the gallery's filters (not in the v2 query string): items holding any of these tags,
    #: and items whose name contains this text (case-insensitive)
    tags: list[str] = field(default_factory=list)
    name_contains: str | None = None

    def is_empty(self) -> bool:
        fields = (*_LIST_FIELDS, "tags", "name_contains")
        return not any(getattr(self, f) for f in fields)


@dataclass
class Page:
    size: int = 500
    cursor: str | None = None
    sort_field: str = "inserted_at"
    descending: bool = False


def _ints(values: Iterable[Any], name: str) -> list[int]:
    try:
        out = [int(v) for v in values]
    except (ValueError, TypeError):
        raise BadRequest(f"{name} must hold integers.", field=name) from None
    if any(not 0 <= v < 2**31 for v in out):  # dataset ids are 32-bit integers
        raise BadRequest(f"{name} holds an id out of range.", field=name)
    return out


def _uuids(values: Iterable[Any], name: str) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(str(v)) for v in values]
    except ValueError:
        raise BadRequest(f"{name} must hold item ids (UUIDs).", field=name) from None


def _texts(values: Iterable[Any], name: str) -> list[str]:
    out = [str(v) for v in values]
    for text in out:
        reason = unsafe_text(text)
        if reason is not None:
            raise BadRequest(f"{name} {reason}.", field=name)
    return out


def normalize_path(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts)


def _build(raw: Mapping[str, list[Any]]) -> ItemFilters:
    return ItemFilters(
        dataset_ids=_ints(raw.get("dataset_ids", []), "dataset_ids"),
        item_ids=_uuids(raw.get("item_ids", []), "item_ids"),
        item_names=_texts(raw.get("item_names", []), "item_names"),
        item_paths=[normalize_path(p) for p in _texts(raw.get("item_paths", []), "item_paths")],
        statuses=_one_of(raw.get("statuses", []), "statuses", STATUSES),
        slot_types=_one_of(raw.get("slot_types", []), "slot_types", SLOT_TYPES),
        source_statuses=_one_of(raw.get("source_statuses", []), "source_statuses", SOURCE_STATUSES),
    )


def _one_of(values: Iterable[Any], name: str, allowed: tuple[str, ...]) -> list[str]:
    out = [str(v) for v in values]
    for value in out:
        if value not in allowed:
            raise BadRequest(f"{name} holds {value[:40]!r}; use {', '.join(allowed)}.", field=name)
    return out


def _sort_field(name: str, what: str) -> Any:
    return Field(None, alias=f"sort[{name}]", description=f"sort by {what}: asc or desc")


class ItemQuery(BaseModel):
    """The listing's query string, in darwin-py's spellings. A ``[]`` parameter holds one value
    each time it is repeated; the same name without ``[]`` holds comma-joined values (names may
    contain commas, so send those with ``[]``). Any other parameter is a 422 naming it."""

    model_config = ConfigDict(extra="allow")

    dataset_ids: list[str] = Field(default_factory=list, description="dataset ids, comma-joined")
    dataset_ids_each: list[int] = Field(
        default_factory=list, alias="dataset_ids[]", description="a dataset id"
    )
    item_ids: list[str] = Field(default_factory=list, description="item ids (UUIDs), comma-joined")
    item_ids_each: list[uuid.UUID] = Field(
        default_factory=list, alias="item_ids[]", description="an item id"
    )
    item_names: list[str] = Field(default_factory=list, description="item names, comma-joined")
    item_names_each: list[str] = Field(
        default_factory=list, alias="item_names[]", description="an item name"
    )
    filenames: list[str] = Field(default_factory=list, description="an item name (older client)")
    filenames_each: list[str] = Field(
        default_factory=list, alias="filenames[]", description="an item name (older client)"
    )
    item_paths: list[str] = Field(default_factory=list, description="folder paths, comma-joined")
    item_paths_each: list[str] = Field(
        default_factory=list, alias="item_paths[]", description="a folder path (/cars)"
    )
    statuses: list[str] = Field(
        default_factory=list, description="statuses, comma-joined (new,processing)"
    )
    statuses_each: list[str] = Field(
        default_factory=list, alias="statuses[]", description="a status"
    )
    slot_types: list[str] = Field(
        default_factory=list, description="slot types, comma-joined (image,video)"
    )
    slot_types_each: list[str] = Field(
        default_factory=list, alias="slot_types[]", description="a slot type"
    )
    source_statuses: list[str] = Field(
        default_factory=list, description="missing or present (a sync's view of the file)"
    )
    source_statuses_each: list[str] = Field(
        default_factory=list, alias="source_statuses[]", description="missing or present"
    )
    page_size: int | None = Field(
        None, alias="page[size]", description=f"items per page, 1 to {MAX_PAGE_SIZE} (500)"
    )
    page_from: str | None = Field(None, alias="page[from]", description="the previous page.next")
    sort_inserted_at: str | None = _sort_field("inserted_at", "registration order (default)")
    sort_updated_at: str | None = _sort_field("updated_at", "last change")
    sort_file_size: str | None = _sort_field("file_size", "size in bytes")
    sort_filename: str | None = _sort_field("filename", "name")
    sort_priority: str | None = _sort_field("priority", "priority")
    include_workflow_data: str | None = Field(
        None, description="accepted for darwin-py; moorage has no workflow data to include"
    )


#: the listing's parameters that take one value (the others may be repeated)
SINGLE_VALUED = frozenset(
    f.alias or name
    for name, f in ItemQuery.model_fields.items()
    if get_origin(f.annotation) is not list
)


def refuse_repeated(params: Iterable[tuple[str, str]]) -> None:
    """A 422 naming a one-value parameter sent twice (FastAPI would keep the last silently)."""
    seen: set[str] = set()
    for key, _ in params:
        if key in SINGLE_VALUED and key in seen:
            raise ValidationFailed(f"{key} takes one value; it was sent more than once.", field=key)
        seen.add(key)


def _joined(values: list[str]) -> list[str]:
    return [v for value in values for v in value.split(",") if v != ""]


def _page(query: ItemQuery) -> Page:
    page = Page(cursor=query.page_from or None)
    if query.page_size is not None:
        size = _ints([query.page_size], "page[size]")[0]
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise BadRequest(
                f"page[size] must be between 1 and {MAX_PAGE_SIZE}.", field="page[size]"
            )
        page.size = size
    for name in SORT_FIELDS:
        value = getattr(query, f"sort_{name}")
        if value is None:
            continue
        key = f"sort[{name}]"
        if value.lower() not in ("asc", "desc", "ascending", "descending"):
            raise BadRequest(f"{key} must be asc or desc.", field=key)
        page.sort_field, page.descending = name, value.lower().startswith("desc")
    return page


def _refuse_unknown(names: Iterable[str]) -> None:
    for key in names:
        if key.startswith("sort[") and key.endswith("]"):
            raise BadRequest(
                f"Cannot sort by {key[5:-1]!r}; use one of {', '.join(SORT_FIELDS)}.", field=key
            )
        # a filter moorage does not know would otherwise list every item
        known = ", ".join([*_LIST_FIELDS, "filenames", "page[size]", "page[from]", "sort[...]"])
        raise ValidationFailed(
            f"Unknown query parameter {key!r}; the listing takes {known}.", field=key
        )


def filters_from_query(query: ItemQuery) -> tuple[ItemFilters, Page]:
    """``dataset_ids[]=1``, ``dataset_ids=1``, ``statuses=new,annotate``, ``sort[name]=desc``."""
    _refuse_unknown(query.model_extra or {})
    lists: dict[str, list[Any]] = {
        name: [*getattr(query, f"{name}_each"), *_joined(getattr(query, name))]
        for name in _LIST_FIELDS
    }
    lists["item_names"].extend([*query.filenames, *query.filenames_each])
    return _build(lists), _page(query)


def filters_from_body(body: Any) -> ItemFilters:
    if not isinstance(body, dict) or not isinstance(body.get("filters"), dict):
        raise BadRequest('Send {"filters": {"item_ids": [...]}} or similar.', field="filters")
    raw = body["filters"]
    lists: dict[str, list[Any]] = {}
    for name in _LIST_FIELDS:
        value = raw.get(name)
        if value is None:
            continue
        if isinstance(value, str | int):
            value = [value]
        if not isinstance(value, list):
            raise BadRequest(f"filters.{name} must be a list.", field=f"filters.{name}")
        lists[name] = value
    filters = _build(lists)
    if filters.is_empty():
        raise BadRequest(
            "filters must name items (item_ids, dataset_ids, item_names, ...); "
            "an empty filter would touch every item of the team.",
            field="filters",
        )
    return filters
