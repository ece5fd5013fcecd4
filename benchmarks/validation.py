"""Item validation: the hand-written ``normalize_item`` against pydantic, on the same items.

    uv run python benchmarks/validation.py [--items 10000] [--runs 5]

The pydantic side is a ``TypeAdapter`` per item shape (slotted and flat) holding the same
checks as ``registration/normalize.py`` (types, lengths, single-line text, the lenient booleans
and numbers of the Darwin contract), then the same ``ItemIn`` built from the validated value,
so both produce what registration goes on with. Timed: valid items (registration's common
case) and a mix with one item in ten blocked (the ``ValidationError`` turned into a reason).
Prints the median microseconds an item of each and the ratio. The decision it informed:
docs/decisions/0016-registration-at-the-floor.md.
"""

from __future__ import annotations

import argparse
import posixpath
import statistics
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from moorage.kit.text import unsafe_text
from moorage.registration.layout import default_layout
from moorage.registration.model import Blocked, ItemIn, SlotIn
from moorage.registration.normalize import (
    MAX_FILE_NAME,
    MAX_NAME,
    _bool,
    check_storable,
    normalize_item,
)
from moorage.registration.normalize import normalize_path as hand_path
from moorage.registration.types import extension_kind

INT32 = 2**31 - 1


def _single_line(value: str) -> str:
    problem = unsafe_text(value, single_line=True)
    if problem is not None:
        raise ValueError(problem)
    return value


def _lenient_bool(value: Any) -> bool:
    try:
        return _bool(value, "flag")
    except Blocked:
        raise ValueError("must be true or false") from None


Line = Annotated[str, AfterValidator(_single_line)]
Flag = Annotated[Any, AfterValidator(_lenient_bool)]
Pixels = Annotated[int, Field(strict=True, gt=0, le=INT32)]
Key = Annotated[str, Field(min_length=1)]


class SectionModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    section_index: Annotated[int, Field(strict=True, ge=1, le=INT32)] | None = None
    width: Pixels | None = None
    height: Pixels | None = None
    storage_hq_key: Key | None = None
    storage_lq_key: Key | None = None


class SlotModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    slot_name: Annotated[Line, Field(min_length=1, max_length=200)] | int = "0"
    storage_key: Key
    file_name: Annotated[Line, Field(max_length=MAX_FILE_NAME)] | None = None
    type: Literal["image", "video", "pdf", "dicom"] | None = None
    fps: float | str | None = None
    as_frames: Flag = False
    extract_views: Flag = False
    storage_thumbnail_key: Key | None = None
    width: Pixels | None = None
    height: Pixels | None = None
    size_bytes: Annotated[int, Field(strict=True, ge=0, lt=2**63)] | None = None
    metadata: dict[str, Any] | None = None
    sections: list[SectionModel] | None = None


class ItemModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: Annotated[Line, Field(min_length=1, max_length=MAX_NAME)]
    path: Line | None = None
    slots: list[SlotModel]
    tags: list[Annotated[Line, Field(min_length=1)]] | dict[str, str | None] | None = None
    priority: Annotated[int, Field(strict=True, ge=-INT32, le=INT32)] = 0
    layout: dict[str, Any] | None = None


class FlatItemModel(SlotModel):
    name: Annotated[Line, Field(min_length=1, max_length=MAX_NAME)]
    path: Line | None = None
    tags: list[Annotated[Line, Field(min_length=1)]] | dict[str, str | None] | None = None
    priority: Annotated[int, Field(strict=True, ge=-INT32, le=INT32)] = 0
    layout: dict[str, Any] | None = None


SLOTTED = TypeAdapter(ItemModel)
FLAT = TypeAdapter(FlatItemModel)
#: the first error's field -> the reason today's checks give it
_REASONS = {"name": "INVALID_NAME", "path": "INVALID_PATH", "tags": "INVALID_TAGS"}


def _blocked(index: int, raw: dict[str, Any], exc: ValidationError) -> ItemIn:
    first = exc.errors(include_url=False)[0]
    field = next((str(p) for p in reversed(first["loc"]) if isinstance(p, str)), "item")
    item = ItemIn(index=index, name=raw.get("name"), path="/")
    item.block(_REASONS.get(field, "INVALID_FIELD"), f"{field} {first['msg']}.", field=field)
    return item


def pydantic_item(index: int, raw: Any) -> ItemIn:
    """What ``normalize_item`` returns for a well-formed item, from pydantic's validation."""
    storable = check_storable(raw)
    try:
        model: ItemModel | FlatItemModel = (
            SLOTTED.validate_python(raw) if "slots" in raw else FLAT.validate_python(raw)
        )
    except ValidationError as exc:
        return _blocked(index, raw, exc)
    entries = model.slots if isinstance(model, ItemModel) else [model]
    item = ItemIn(index=index, name=model.name, path=hand_path(model.path), error=storable)
    for position, entry in enumerate(entries):
        file_name = entry.file_name or posixpath.basename(entry.storage_key)
        kind = extension_kind(file_name) or extension_kind(entry.storage_key)
        slot = SlotIn(
            slot_name=str(entry.slot_name),
            type=entry.type or kind,
            kind=entry.type or kind,
            file_name=file_name,
            storage_key=entry.storage_key,
            thumbnail_key=entry.storage_thumbnail_key,
            width=entry.width,
            height=entry.height,
            size_bytes=entry.size_bytes,
            as_frames=entry.as_frames,
            extract_views=entry.extract_views,
            metadata={**(entry.metadata or {}), "position": position},
        )
        item.slots.append(slot)
    tags = model.tags
    item.tags = dict.fromkeys(tags) if isinstance(tags, list) else dict(tags or {})
    item.priority = model.priority
    item.layout = model.layout or default_layout([s.slot_name for s in item.slots])
    return item


def items(n: int, *, bad_every: int = 0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        slot = {"slot_name": "0", "type": "image", "storage_key": f"imgs/{i:06d}.jpg"}
        slot["file_name"] = f"{i:06d}.jpg"
        item: dict[str, Any] = {"name": f"{i:06d}.jpg", "path": "/imgs", "slots": [slot]}
        if bad_every and i % bad_every == 0:
            slot["width"] = -5  # blocked: INVALID_DIMENSIONS / a pydantic ValidationError
        out.append(item)
    return out


def timed(fn: Callable[[int, Any], ItemIn], batch: list[dict[str, Any]], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for i, raw in enumerate(batch):
            fn(i, raw)
        times.append(time.perf_counter() - start)
    return statistics.median(times) / len(batch) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    good, mixed = items(args.items), items(args.items, bad_every=10)
    for raw in good[:50]:  # the two agree on what they build
        a, b = normalize_item(0, raw), pydantic_item(0, raw)
        assert (a.name, a.path, a.layout, [s.kind for s in a.slots]) == (
            b.name,
            b.path,
            b.layout,
            [s.kind for s in b.slots],
        )
    blocked = [pydantic_item(i, r) for i, r in enumerate(mixed[:20])]
    assert sum(1 for b in blocked if b.blocked) == 2, [b.error for b in blocked]
    for label, batch in (("valid items", good), ("one in ten blocked", mixed)):
        hand = timed(normalize_item, batch, args.runs)
        typed = timed(pydantic_item, batch, args.runs)
        print(
            f"{label}: hand-written {hand:.1f} us/item, pydantic {typed:.1f} us/item "
            f"(pydantic/hand-written {typed / hand:.2f}x)"
        )


if __name__ == "__main__":
    main()
