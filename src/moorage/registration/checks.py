"""Checks that need the storage: key syntax, content sniffing, existence; read-only fields."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from moorage.media.probe import kind_from_content
from moorage.registration.model import Blocked, ItemIn, SlotIn
from moorage.registration.types import SNIFF_BYTES, kind_to_type
from moorage.storage.base import InvalidKey, StorageAdapter, StorageError, validate_key

_KEY_REASONS = {
    "STORAGE_KEY_NOT_FOUND": (
        "was not found in the storage; keys are case-sensitive and exclude the bucket name"
    ),
}


def check_readonly_fields(slot: SlotIn) -> None:
    """On read-only storage the caller supplies every derivative moorage would have made."""
    missing: list[str] = []
    if slot.kind == "image" and slot.entries == 1:
        for field, value in (
            ("storage_thumbnail_key", slot.thumbnail_key),
            ("width", slot.width),
            ("height", slot.height),
        ):
            if value is None:
                missing.append(field)
    else:
        if slot.thumbnail_key is None:
            missing.append("storage_thumbnail_key")
        if not slot.sections:
            missing.append("sections")
        # darwin-py's locally processed videos may come without lq frames
        lq_needed = slot.local_video is None
        for s in slot.sections:
            for field, value in (
                ("storage_hq_key", s.hq_key),
                ("storage_lq_key", s.lq_key if lq_needed else ""),
                ("width", s.width),
                ("height", s.height),
            ):
                if value is None:
                    missing.append(f"sections[{s.index}].{field}")
    if missing:
        raise Blocked(
            "MISSING_READONLY_FIELDS",
            "This storage is read-only, so moorage cannot make derivatives: supply "
            + ", ".join(missing[:6])
            + (" and more" if len(missing) > 6 else "")
            + " (moorage prepare makes them).",
            field=missing[0],
        )


def _block_slot(slot: SlotIn, exc: Blocked) -> None:
    """Block the slot with ``exc`` unless an earlier check already blocked it."""
    if slot.error is None:
        slot.error = exc


def check_key_syntax(items: list[ItemIn]) -> None:
    for item in items:
        if item.blocked:
            continue
        for slot in item.slots:
            for field, key in slot.storage_keys():
                try:
                    validate_key(key)
                except InvalidKey as exc:
                    _block_slot(slot, Blocked(exc.reason, exc.message, field=field))
                    break


def resolve_unknown_types(items: list[ItemIn], adapter: StorageAdapter) -> None:
    """Slots with neither a type nor a known extension: read their first bytes, concurrently."""
    pending = [s for i in items if not i.blocked for s in i.slots if s.kind is None]
    if not pending:
        return

    def head_of(slot: SlotIn) -> bytes | StorageError:
        try:
            return adapter.read_range(slot.storage_key, 0, SNIFF_BYTES)
        except StorageError as exc:
            return exc

    workers = max(1, min(adapter.max_concurrency, len(pending), 32))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        heads = list(pool.map(head_of, pending))
    for slot, head in zip(pending, heads, strict=True):
        if isinstance(head, StorageError):
            _block_slot(
                slot, Blocked(head.reason, _key_message(head, "storage_key", slot.storage_key))
            )
            continue
        kind = kind_from_content(head)
        if kind is None:
            _block_slot(
                slot,
                Blocked(
                    "UNSUPPORTED_TYPE",
                    f"Cannot tell the type of {slot.file_name!r}: give type "
                    "(image, video, pdf, dicom) or a file extension.",
                    field="type",
                ),
            )
        else:
            slot.kind, slot.type = kind, kind_to_type(kind)


def _key_message(exc: StorageError, field: str, key: str) -> str:
    if exc.reason in _KEY_REASONS:
        return f"{field} {key!r} {_KEY_REASONS[exc.reason]}."
    return f"{field} {key!r}: {exc.message}"


def check_keys_exist(items: list[ItemIn], adapter: StorageAdapter) -> None:
    """One batched, concurrent existence check over every key of every unblocked item."""
    wanted = [
        (slot, field, key)
        for i in items
        if not i.blocked
        for slot in i.slots
        for field, key in slot.storage_keys()
    ]
    results = adapter.check_many(key for _, _, key in wanted)
    for slot, field, key in wanted:
        exc = results.get(key)
        if exc is not None:
            _block_slot(slot, Blocked(exc.reason, _key_message(exc, field, key), field=field))
