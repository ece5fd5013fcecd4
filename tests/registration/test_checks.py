"""The storage checks of registration, against the built-in ``MemoryStorage`` fake."""

from __future__ import annotations

import pytest

from moorage.registration.checks import (
    check_key_syntax,
    check_keys_exist,
    check_readonly_fields,
    resolve_unknown_types,
)
from moorage.registration.model import Blocked, ItemIn, SectionIn, SlotIn
from moorage.storage.memory import MemoryStorage
from tests.helpers import jpeg_bytes


def _item(*slots: SlotIn) -> ItemIn:
    return ItemIn(index=0, name="x", path="/", slots=list(slots))


def _slot(key: str, **fields) -> SlotIn:
    return SlotIn(slot_name="0", file_name=key.rsplit("/", 1)[-1], storage_key=key, **fields)


class TestKeySyntax:
    def test_a_key_leaving_the_bucket_blocks_its_slot(self) -> None:
        bad, good = _slot("a/../../etc/passwd"), _slot("a/b.jpg")
        check_key_syntax([_item(bad), _item(good)])
        assert bad.error is not None and bad.error.reason == "INVALID_STORAGE_KEY"
        assert bad.error.field == "storage_key"
        assert good.error is None


class TestKeysExist:
    def test_missing_keys_block_with_the_field_they_came_from(self) -> None:
        store = MemoryStorage({"a.jpg": b"x"})
        present = _slot("a.jpg")
        missing = _slot("a.jpg", thumbnail_key="thumbs/a.jpg")
        check_keys_exist([_item(present), _item(missing)], store)
        assert present.error is None
        assert missing.error is not None
        assert (missing.error.reason, missing.error.field) == (
            "STORAGE_KEY_NOT_FOUND",
            "storage_thumbnail_key",
        )
        assert "case-sensitive" in missing.error.message

    def test_first_block_wins(self) -> None:
        slot = _slot("nowhere.jpg")
        slot.error = Blocked("EARLIER", "an earlier check")
        item = ItemIn(index=0, name="x", path="/", slots=[slot])
        check_keys_exist([item], MemoryStorage())
        assert slot.error.reason == "EARLIER"


class TestUnknownTypes:
    def test_content_tells_the_type(self) -> None:
        store = MemoryStorage({"scan": jpeg_bytes(8, 8)})
        slot = _slot("scan")
        resolve_unknown_types([_item(slot)], store)
        assert (slot.kind, slot.type, slot.error) == ("image", "image", None)

    def test_unknown_content_is_unsupported(self) -> None:
        slot = _slot("notes")
        resolve_unknown_types([_item(slot)], MemoryStorage({"notes": b"hello"}))
        assert slot.error is not None and slot.error.reason == "UNSUPPORTED_TYPE"
        assert slot.error.field == "type"

    def test_unreadable_key_names_it(self) -> None:
        slot = _slot("gone")
        resolve_unknown_types([_item(slot)], MemoryStorage())
        assert slot.error is not None and slot.error.reason == "STORAGE_KEY_NOT_FOUND"
        assert "'gone'" in slot.error.message


class TestReadonlyFields:
    def test_image_needs_thumbnail_and_size(self) -> None:
        slot = _slot("a.jpg", kind="image", width=4)
        with pytest.raises(Blocked) as caught:
            check_readonly_fields(slot)
        assert caught.value.reason == "MISSING_READONLY_FIELDS"
        assert caught.value.field == "storage_thumbnail_key"
        assert "height" in caught.value.message

    def test_complete_series_passes(self) -> None:
        section = SectionIn(index=1, width=2, height=2, hq_key="h", lq_key="l")
        slot = _slot("a.dcm", kind="dicom", thumbnail_key="t", sections=[section])
        check_readonly_fields(slot)
