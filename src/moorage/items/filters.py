"""Item filters and sorting, from a query string (darwin-py's spellings) or a JSON body."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from moorage.errors import BadRequest, ValidationFailed
from moorage.kit.text import unsafe_text

SORT_FIELDS = ("inserted_at", "updated_at", "file_size", "filename", "priority")
MAX_PAGE_SIZE = 1000
#: parameters darwin-py sends that change nothing here
_ACCEPTED_FLAGS = frozenset({"include_workflow_data"})
_LIST_FIELDS = (
    "dataset_ids",
    "item_ids",
    "item_names",
    "item_paths",
    "statuses",
    "slot_types",
    "source_statuses",
)
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

    def is_empty(self) -> bool:
        return not any(getattr(self, f) for f in _LIST_FIELDS)


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


def _normalize_path(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts)


def _build(raw: Mapping[str, list[Any]]) -> ItemFilters:
    return ItemFilters(
        dataset_ids=_ints(raw.get("dataset_ids", []), "dataset_ids"),
        item_ids=_uuids(raw.get("item_ids", []), "item_ids"),
        item_names=_texts(raw.get("item_names", []), "item_names"),
        item_paths=[_normalize_path(p) for p in _texts(raw.get("item_paths", []), "item_paths")],
        statuses=_texts(raw.get("statuses", []), "statuses"),
        slot_types=_texts(raw.get("slot_types", []), "slot_types"),
        source_statuses=_source_statuses(raw.get("source_statuses", [])),
    )


def _source_statuses(values: Iterable[Any]) -> list[str]:
    out = [str(v) for v in values]
    for value in out:
        if value not in SOURCE_STATUSES:
            raise BadRequest(
                f"source_statuses holds {value[:40]!r}; use {' or '.join(SOURCE_STATUSES)}.",
                field="source_statuses",
            )
    return out


def filters_from_query(params: Iterable[tuple[str, str]]) -> tuple[ItemFilters, Page]:
    """``dataset_ids[]=1``, ``dataset_ids=1``, ``statuses=new,annotate``, ``sort[name]=desc``."""
    lists: dict[str, list[str]] = {}
    page = Page()
    for key, value in params:
        base = key[:-2] if key.endswith("[]") else key
        if base in _LIST_FIELDS:
            # comma-joined only where no [] was sent; names may contain commas
            values = [value] if key.endswith("[]") else [v for v in value.split(",") if v != ""]
            lists.setdefault(base, []).extend(values)
        elif base == "filenames":
            lists.setdefault("item_names", []).append(value)
        elif key == "page[size]":
            sizes = _ints([value], "page[size]")
            if not 1 <= sizes[0] <= MAX_PAGE_SIZE:
                raise BadRequest(
                    f"page[size] must be between 1 and {MAX_PAGE_SIZE}.", field="page[size]"
                )
            page.size = sizes[0]
        elif key == "page[from]":
            page.cursor = value or None
        elif key.startswith("sort[") and key.endswith("]"):
            name = key[5:-1]
            if name not in SORT_FIELDS:
                raise BadRequest(
                    f"Cannot sort by {name!r}; use one of {', '.join(SORT_FIELDS)}.", field=key
                )
            if value.lower() not in ("asc", "desc", "ascending", "descending"):
                raise BadRequest(f"{key} must be asc or desc.", field=key)
            page.sort_field, page.descending = name, value.lower().startswith("desc")
        elif key in _ACCEPTED_FLAGS:
            pass  # Darwin's; moorage's answer has no workflow data to include
        else:
            # a filter moorage does not know would otherwise list every item
            known = ", ".join([*_LIST_FIELDS, "filenames", "page[size]", "page[from]", "sort[...]"])
            raise ValidationFailed(
                f"Unknown query parameter {key!r}; the listing takes {known}.", field=key
            )
    return _build(lists), page


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
