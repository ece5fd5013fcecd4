"""build_rows: every row of a registration, once; a series' files on the slot, not in sections."""

from __future__ import annotations

import time
import uuid

from moorage.models.base import new_uuids, utcnow
from moorage.registration.model import NO_ID
from moorage.registration.normalize import normalize_item
from moorage.registration.rows import RegistrationRows, build_rows


def _rows(raw_items: list[dict], *, readonly: bool = False) -> tuple[list, RegistrationRows]:
    items = [normalize_item(i, raw) for i, raw in enumerate(raw_items)]
    assert not any(i.blocked for i in items)
    rows = build_rows(
        items,
        team_id=1,
        dataset_id=2,
        storage_id=3,
        readonly=readonly,
        options={"ignore_dicom_layout": True},
        now=utcnow(),
    )
    return items, rows


def _named(bulk, row) -> dict:
    return dict(zip(bulk.columns, row, strict=True))


SERIES = {
    "name": "ct",
    "path": "/scans/2024",
    "slots": [
        {"slot_name": "0", "storage_key": "s/1.dcm", "file_name": "1.dcm"},
        {"slot_name": "0", "storage_key": "s/2.dcm", "file_name": "2.dcm"},
    ],
}


class TestBuildRows:
    def test_one_row_each_with_its_ids(self) -> None:
        items, rows = _rows([{"name": "a.jpg", "storage_key": "a.jpg", "tags": ["x"]}])
        (item,) = items
        assert item.id != NO_ID and item.slots[0].id != NO_ID
        (row,) = rows.items.rows
        assert _named(rows.items, row)["id"] == item.id
        assert rows.items.constants["status"] == "processing"
        (slot,) = rows.slots.rows
        assert _named(rows.slots, slot)["item_id"] == item.id
        assert rows.tags.rows == [(item.id, "x", None)]
        (job,) = rows.jobs.rows
        assert job[1:] == (item.id, item.slots[0].id)
        assert job[0] not in (item.id, item.slots[0].id)
        assert rows.folders == {"/"}

    def test_series_files_go_to_the_slot_not_to_sections(self) -> None:
        _, rows = _rows([SERIES])
        (slot,) = rows.slots.rows
        named = _named(rows.slots, slot)
        assert named["source_files"] == [
            {"storage_key": "s/1.dcm", "file_name": "1.dcm"},
            {"storage_key": "s/2.dcm", "file_name": "2.dcm"},
        ]
        assert named["total_sections"] == 2
        assert named["metadata"]["series_files"] == 2
        assert rows.sections.rows == []
        assert rows.folders == {"/", "/scans", "/scans/2024"}

    def test_supplied_derivatives_are_sections(self) -> None:
        raw = {
            "name": "ct",
            "slots": [
                {
                    "slot_name": "0",
                    "storage_key": "s/1.dcm",
                    "storage_thumbnail_key": "t.jpg",
                    "sections": [
                        {"storage_hq_key": "h1.png", "storage_lq_key": "l1.jpg", "width": 4,
                         "height": 3},
                    ],
                }
            ],
        }  # fmt: skip
        items, rows = _rows([raw], readonly=True)
        assert rows.jobs.rows == []
        assert rows.sections.rows == [(items[0].slots[0].id, 1, "h1.png", "l1.jpg", 4, 3)]
        assert _named(rows.slots, rows.slots.rows[0])["source_files"] is None

    def test_keeping_drops_the_rows_of_items_that_lost_their_name(self) -> None:
        items, rows = _rows([{"name": "a.jpg", "storage_key": "a.jpg", "tags": ["x"]}, SERIES])
        kept = rows.keeping({items[1].id})
        assert [r[0] for r in kept.items.rows] == [items[1].id]
        assert [r[1] for r in kept.slots.rows] == [items[1].id]
        assert kept.tags.rows == []
        assert [r[1] for r in kept.jobs.rows] == [items[1].id]


class TestNewUuids:
    def test_random_version_4_uuids(self) -> None:
        ids = new_uuids(1000)
        assert len(set(ids)) == 1000
        for value in ids[:50]:
            assert (value.version, value.variant) == (4, uuid.RFC_4122)
            assert uuid.UUID(str(value)) == value and hash(uuid.UUID(value.hex)) == hash(value)

    def test_ascending_ids_are_time_ordered_version_7_and_come_in_order(self) -> None:
        before = time.time_ns() // 1_000_000
        ids = new_uuids(1000, ascending=True)
        after = time.time_ns() // 1_000_000
        assert ids == sorted(ids) and len(set(ids)) == 1000
        assert [i.hex for i in ids] == sorted(i.hex for i in ids)  # the stored text sorts alike
        assert all((i.version, i.variant) == (7, uuid.RFC_4122) for i in ids)
        assert all(before <= i.int >> 80 <= after for i in ids)  # RFC 9562: Unix ms on top
        randoms = {i.int & ((1 << 62) - 1) for i in ids}
        assert len(randoms) == 1000  # the low bits are random, not a counter
        assert new_uuids(1000) != sorted(new_uuids(1000))  # not ascending unless asked

    def test_a_later_request_gets_higher_ids(self) -> None:
        first = new_uuids(100, ascending=True)
        start = time.monotonic_ns()
        while time.monotonic_ns() - start < 2_000_000:  # into the next millisecond or later
            pass
        assert max(first) < min(new_uuids(100, ascending=True))

    def test_rows_get_ids_in_the_order_they_are_written(self) -> None:
        raw = [
            {"name": f"{n}.jpg", "slots": [{"slot_name": s, "storage_key": f"{n}{s}.jpg"}
                                           for s in "ab"]}
            for n in range(50)
        ]  # fmt: skip
        _, rows = _rows(raw)
        for bulk in (rows.items, rows.slots, rows.jobs):
            ids = [r[0] for r in bulk.rows]
            assert ids == sorted(ids)
