"""The normalised shape of a registration request: one ``ItemIn`` per payload item."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moorage.errors import Failure

#: the id of an ``ItemIn`` or ``SlotIn`` until its rows are built (only accepted ones get one)
NO_ID = uuid.UUID(int=0)


class Blocked(Failure):
    """Why an item or slot cannot be registered: a stable code and a sentence to act on."""

    def __init__(self, reason: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field


@dataclass(slots=True)
class SectionIn:
    index: int
    width: int | None = None
    height: int | None = None
    hq_key: str | None = None
    lq_key: str | None = None
    #: the source file of this section (one file of a DICOM series)
    storage_key: str | None = None
    file_name: str | None = None


@dataclass(slots=True)
class LocalVideo:
    """A video darwin-py processed itself: its fields, checked (``local_video.py``)."""

    native_fps: float
    total_frames: int
    visible_frames: int
    sections_prefix: str
    extension: str
    lq_prefix: str | None
    manifest_key: str
    audio_peaks_key: str | None
    #: quality ("high", "low") -> (index text, bitrate, segment keys)
    hls: dict[str, tuple[str, float | None, list[str]]] = field(default_factory=dict)


@dataclass(slots=True)
class SlotIn:
    slot_name: str
    type: str | None = None
    kind: str | None = None
    file_name: str = ""
    storage_key: str = ""
    thumbnail_key: str | None = None
    width: int | None = None
    height: int | None = None
    size_bytes: int | None = None
    fps: float | None = None
    fps_out: float | str | None = None
    as_frames: bool = False
    extract_views: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    sections: list[SectionIn] = field(default_factory=list)
    #: number of payload entries merged into this slot (>1: a series)
    entries: int = 1
    #: set when the rows are built: the sections the slot has (0 until processed, for most)
    total_sections: int = 0
    error: Blocked | None = None
    id: uuid.UUID = NO_ID
    #: a video darwin-py processed itself (``local_video.py``)
    local_video: LocalVideo | None = None
    #: more keys to check, with their fields (a locally processed video's manifest, segments)
    extra_keys: list[tuple[str, str]] = field(default_factory=list)

    def storage_keys(self) -> list[tuple[str, str]]:
        """Every storage key this slot names, with the field it came from."""
        out = [("storage_key", self.storage_key)]
        if self.thumbnail_key:
            out.append(("storage_thumbnail_key", self.thumbnail_key))
        for s in self.sections:
            if s.storage_key and s.storage_key != self.storage_key:
                out.append(("storage_key", s.storage_key))
            if s.hq_key:
                out.append(("storage_hq_key", s.hq_key))
            if s.lq_key:
                out.append(("storage_lq_key", s.lq_key))
        out.extend(self.extra_keys)
        return out


@dataclass(slots=True)
class ItemIn:
    index: int
    name: str | None
    path: str
    slots: list[SlotIn] = field(default_factory=list)
    tags: dict[str, str | None] = field(default_factory=dict)
    layout: dict[str, Any] | None = None
    priority: int = 0
    error: Blocked | None = None
    id: uuid.UUID = NO_ID

    @property
    def size_bytes(self) -> int | None:
        """The sum of the slots' sizes, when any slot gave one."""
        sizes = [s.size_bytes for s in self.slots if s.size_bytes is not None]
        return sum(sizes) if sizes else None

    @property
    def blocked(self) -> bool:
        # asked several times an item by every check: a loop, not any() over a generator
        if self.error is not None:
            return True
        for slot in self.slots:  # noqa: SIM110 (see above)
            if slot.error is not None:
                return True
        return False

    def block(self, reason: str, message: str, *, field: str | None = None) -> None:
        if self.error is None:
            self.error = Blocked(reason, message, field=field)

    def blocked_json(self) -> dict[str, Any]:
        """The ``blocked_items`` entry. Every slot carries a reason (darwin-py reads slot 0's)."""
        slots = []
        for s in self.slots:
            err = self.error or s.error
            if err is None:
                err = Blocked("OTHER_SLOT_BLOCKED", "Another slot of this item is blocked.")
            entry: dict[str, Any] = {
                "slot_name": s.slot_name,
                "file_name": s.file_name,
                "type": s.type,
                "storage_key": s.storage_key,
                "reason": err.reason,
                "message": err.message,
            }
            if err.field:
                entry["field"] = err.field
            slots.append(entry)
        # the slots that caused the block first, so slots[0].reason is the real one
        slots.sort(key=lambda e: e["reason"] == "OTHER_SLOT_BLOCKED")
        if not slots:
            err = self.error or Blocked("NO_SLOTS", "The item has no slots.")
            entry = {
                "slot_name": None,
                "file_name": None,
                "type": None,
                "storage_key": None,
                "reason": err.reason,
                "message": err.message,
            }
            if err.field:
                entry["field"] = err.field
            slots.append(entry)
        first = slots[0]
        out = {
            "name": self.name,
            "path": self.path,
            "index": self.index,
            "reason": first["reason"],
            "message": first["message"],
            "slots": slots,
        }
        if "field" in first:
            out["field"] = first["field"]
        return out


@dataclass(frozen=True, slots=True)
class RegistrationResult:
    """What one ``register_existing`` request did.

    ``registered``: the items written, in payload order, each with its ids, its slots and their
    final metadata; ``blocked``: the items not written, each with its reason. ``job_ids``: the
    processing jobs created (sent to the queue after the commit). The Darwin response is
    ``moorage.registration.render.response_json(result)``.
    """

    registered: list[ItemIn]
    blocked: list[ItemIn]
    job_ids: list[uuid.UUID]
    team_slug: str
    dataset_id: int
    readonly: bool
    #: the items' ``inserted_at`` and ``updated_at``
    registered_at: datetime
    #: the server's public URL, which the response's file URLs start with
    base_url: str
