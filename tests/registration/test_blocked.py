"""Per-item outcomes: every problem blocks only its item, with a stable reason and a message."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from tests.helpers import REGISTER


def _register(api: TestClient, items: list, **extra) -> dict:
    r = api.post(
        REGISTER,
        json={"items": items, "dataset_slug": "darwin-py", "storage_slug": "media", **extra},
    )
    assert r.status_code == 200, r.text
    return r.json()


def _reason(body: dict, index: int = 0) -> str:
    blocked = body["blocked_items"][index]
    assert blocked["slots"][0]["message"]
    return blocked["slots"][0]["reason"]


class TestItemReasons:
    @pytest.mark.parametrize(
        ("key", "reason"),
        [
            ("", "INVALID_STORAGE_KEY"),
            ("/etc/passwd", "INVALID_STORAGE_KEY"),
            ("../../secret.jpg", "INVALID_STORAGE_KEY"),
            ("a/../../b.jpg", "INVALID_STORAGE_KEY"),
            ("missing.jpg", "STORAGE_KEY_NOT_FOUND"),
            ("Present.JPG", "STORAGE_KEY_NOT_FOUND"),
        ],
    )
    def test_bad_keys(self, api, dataset, rw_storage, put_file, key, reason) -> None:
        put_file("present.jpg")
        body = _register(api, [{"name": "x.jpg", "storage_key": key, "type": "image"}])
        assert body["items"] == []
        assert _reason(body) == reason

    def test_symlink_escaping_the_root_is_refused(
        self, api, dataset, rw_storage, bucket, tmp_path
    ) -> None:
        outside = tmp_path / "outside.jpg"
        outside.write_bytes(b"secret")
        (bucket / "link.jpg").symlink_to(outside)
        body = _register(api, [{"name": "x.jpg", "storage_key": "link.jpg", "type": "image"}])
        assert _reason(body) == "INVALID_STORAGE_KEY"

    def test_already_exists_then_other_path_is_fine(
        self, api, dataset, rw_storage, put_file
    ) -> None:
        put_file("a.jpg")
        assert _register(api, [{"name": "a.jpg", "storage_key": "a.jpg"}])["blocked_items"] == []
        again = _register(api, [{"name": "a.jpg", "storage_key": "a.jpg"}])
        assert _reason(again) == "ALREADY_EXISTS"
        other = _register(api, [{"name": "a.jpg", "path": "/other", "storage_key": "a.jpg"}])
        assert other["blocked_items"] == []

    def test_duplicate_within_one_request(self, api, dataset, rw_storage, put_file) -> None:
        put_file("a.jpg")
        body = _register(api, [{"name": "a.jpg", "storage_key": "a.jpg"}] * 2)
        assert len(body["items"]) == 1
        assert _reason(body) == "ALREADY_EXISTS"

    @pytest.mark.parametrize(
        ("slot", "reason"),
        [
            ({"type": "spreadsheet"}, "UNSUPPORTED_TYPE"),
            ({"storage_key": "doc.xyz", "type": None}, "UNSUPPORTED_TYPE"),
            ({"fps": -1, "type": "video"}, "INVALID_FPS"),
            ({"fps": "fast", "type": "video"}, "INVALID_FPS"),
            ({"width": 0}, "INVALID_DIMENSIONS"),
            ({"height": "1080"}, "INVALID_DIMENSIONS"),
            ({"width": 12.5}, "INVALID_DIMENSIONS"),
            ({"as_frames": "maybe"}, "INVALID_FIELD"),
            ({"sections": "nope"}, "INVALID_SECTIONS"),
        ],
    )
    def test_invalid_slot_fields(self, api, dataset, rw_storage, put_file, slot, reason) -> None:
        put_file("a.jpg")
        put_file("doc.xyz", b"hello")
        entry = {"slot_name": "0", "storage_key": "a.jpg", "file_name": "a.jpg", **slot}
        entry["file_name"] = entry["storage_key"]
        entry = {k: v for k, v in entry.items() if v is not None}
        body = _register(api, [{"name": "a.jpg", "slots": [entry]}])
        assert body["items"] == []
        assert _reason(body) == reason

    def test_invalid_item_fields(self, api, dataset, rw_storage, put_file) -> None:
        put_file("a.jpg")
        body = _register(
            api,
            [
                "not an object",
                {"name": "", "storage_key": "a.jpg"},
                {"name": "b.jpg", "path": "/a/../b", "storage_key": "a.jpg"},
                {"name": "c.jpg", "storage_key": "a.jpg", "tags": 5},
                {
                    "name": "d.jpg",
                    "slots": [{"slot_name": "0", "storage_key": "a.jpg", "file_name": "a.jpg"}],
                    "layout": {"version": 9},
                },
                {"name": "e.jpg"},
            ],
        )
        reasons = [b["slots"][0]["reason"] for b in body["blocked_items"]]
        assert reasons == [
            "INVALID_ITEM",
            "INVALID_NAME",
            "INVALID_PATH",
            "INVALID_TAGS",
            "INVALID_LAYOUT",
            "NO_SLOTS",
        ]
        assert body["items"] == []

    def test_one_bad_slot_blocks_the_item_and_is_listed_first(
        self, api, dataset, rw_storage, put_file
    ) -> None:
        put_file("a.jpg")
        body = _register(
            api,
            [
                {
                    "name": "pair",
                    "slots": [
                        {"slot_name": "0", "storage_key": "a.jpg", "file_name": "a.jpg"},
                        {"slot_name": "1", "storage_key": "gone.jpg", "file_name": "gone.jpg"},
                    ],
                }
            ],
        )
        slots = body["blocked_items"][0]["slots"]
        assert [s["reason"] for s in slots] == ["STORAGE_KEY_NOT_FOUND", "OTHER_SLOT_BLOCKED"]
        assert slots[0]["slot_name"] == "1"

    def test_good_items_register_beside_blocked_ones(
        self, api, dataset, rw_storage, put_file
    ) -> None:
        put_file("a.jpg")
        body = _register(
            api,
            [{"name": "a.jpg", "storage_key": "a.jpg"}, {"name": "b.jpg", "storage_key": "b.jpg"}],
        )
        assert [i["name"] for i in body["items"]] == ["a.jpg"]
        assert [b["name"] for b in body["blocked_items"]] == ["b.jpg"]
        listed = api.get("/api/v2/teams/acme/items").json()["items"]
        assert [i["name"] for i in listed] == ["a.jpg"]


class TestReadOnly:
    def test_image_needs_thumbnail_and_size(self, api, dataset, ro_storage, put_file) -> None:
        put_file("a.jpg")
        body = _register(api, [{"name": "a.jpg", "storage_key": "a.jpg", "type": "image"}])
        assert _reason(body) == "MISSING_READONLY_FIELDS"
        assert "storage_thumbnail_key" in body["blocked_items"][0]["slots"][0]["message"]

    def test_video_needs_sections(self, api, dataset, ro_storage, put_file) -> None:
        put_file("v.mp4", b"\x00\x00\x00\x18ftypmp42")
        put_file("t.jpg")
        body = _register(
            api,
            [
                {
                    "name": "v.mp4",
                    "slots": [
                        {
                            "slot_name": "0",
                            "storage_key": "v.mp4",
                            "file_name": "v.mp4",
                            "storage_thumbnail_key": "t.jpg",
                            "sections": [
                                {"section_index": 1, "width": 10, "storage_hq_key": "t.jpg"}
                            ],
                        }
                    ],
                }
            ],
        )
        assert _reason(body) == "MISSING_READONLY_FIELDS"
        msg = body["blocked_items"][0]["slots"][0]["message"]
        assert "storage_lq_key" in msg and "height" in msg

    def test_supplied_thumbnail_must_exist(self, api, dataset, ro_storage, put_file) -> None:
        put_file("a.jpg")
        body = _register(
            api,
            [
                {
                    "name": "a.jpg",
                    "storage_key": "a.jpg",
                    "storage_thumbnail_key": "t.jpg",
                    "width": 4,
                    "height": 4,
                }
            ],
        )
        assert _reason(body) == "STORAGE_KEY_NOT_FOUND"
        assert body["blocked_items"][0]["slots"][0]["field"] == "storage_thumbnail_key"


class TestTypes:
    def test_flat_item_and_inferred_types(self, api, dataset, rw_storage, put_file) -> None:
        for key in ("a.png", "b.mp4", "c.pdf", "d.dcm", "e.nii.gz"):
            put_file(key, b"x")
        body = _register(
            api,
            [
                {"name": k, "path": "/", "storage_key": k}
                for k in ("a.png", "b.mp4", "c.pdf", "d.dcm", "e.nii.gz")
            ],
        )
        types = [(i["slots"][0]["slot_name"], i["slots"][0]["type"]) for i in body["items"]]
        assert types == [
            ("0", "image"),
            ("0", "video"),
            ("0", "pdf"),
            ("0", "dicom"),
            ("0", "dicom"),
        ]

    def test_dicom_without_extension_is_sniffed(self, api, dataset, rw_storage, put_file) -> None:
        put_file("series/IM0001", dicom="CT_small.dcm")
        put_file("series/notes", b"just text, no magic here")
        body = _register(
            api,
            [
                {"name": "ct", "storage_key": "series/IM0001"},
                {"name": "notes", "storage_key": "series/notes"},
            ],
        )
        assert body["items"][0]["slots"][0]["type"] == "dicom"
        assert _reason(body) == "UNSUPPORTED_TYPE"

    def test_darwin_py_nifti_as_video_with_extract_views(
        self, api, dataset, rw_storage, put_file
    ) -> None:
        put_file("brain.nii.gz", b"x")
        body = _register(
            api,
            [
                {
                    "name": "brain.nii.gz",
                    "path": "/",
                    "type": "video",
                    "storage_key": "brain.nii.gz",
                    "extract_views": "true",
                }
            ],
        )
        slot = body["items"][0]["slots"][0]
        assert slot["extract_views"] is True
        assert slot["metadata"]["medical_format"] == "nifti"

    def test_fps_native_and_zero(self, api, dataset, rw_storage, put_file) -> None:
        put_file("v.mp4", b"x")
        body = _register(
            api,
            [
                {"name": "a", "storage_key": "v.mp4", "fps": "native"},
                {"name": "b", "storage_key": "v.mp4", "fps": 0},
                {"name": "c", "storage_key": "v.mp4", "fps": 2.5},
            ],
        )
        assert [i["slots"][0]["fps"] for i in body["items"]] == ["native", "native", 2.5]


class TestConcurrency:
    def test_same_name_registered_twice_at_once_gives_one_item(
        self, api, dataset, rw_storage, put_file
    ) -> None:
        put_file("a.jpg")
        results: list[dict] = []
        barrier = threading.Barrier(4)

        def go() -> None:
            barrier.wait()
            results.append(_register(api, [{"name": "a.jpg", "storage_key": "a.jpg"}]))

        threads = [threading.Thread(target=go) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(len(r["items"]) for r in results) == 1
        assert sum(len(r["blocked_items"]) for r in results) == 3
        assert len(api.get("/api/v2/teams/acme/items").json()["items"]) == 1


class TestOutOfRangeNumbers:
    @pytest.mark.parametrize(
        ("field", "reason"),
        [
            ({"width": 2**40, "height": 5}, "INVALID_DIMENSIONS"),
            ({"size_bytes": 2**70}, "INVALID_FIELD"),
            ({"sections": [{"section_index": 2**40}]}, "INVALID_SECTIONS"),
        ],
    )
    def test_slot_numbers_beyond_the_columns_are_blocked(
        self, api, dataset, rw_storage, put_file, field, reason
    ) -> None:
        put_file("a.jpg")
        body = _register(
            api, [{"name": "a.jpg", "slots": [{"slot_name": "0", "storage_key": "a.jpg", **field}]}]
        )
        assert _reason(body) == reason

    def test_priority_beyond_32_bits_is_blocked(self, api, dataset, rw_storage, put_file) -> None:
        put_file("a.jpg")
        body = _register(api, [{"name": "a.jpg", "storage_key": "a.jpg", "priority": 2**40}])
        assert _reason(body) == "INVALID_FIELD"

    def test_huge_ids_in_paths_and_filters_are_4xx(self, api, dataset) -> None:
        assert api.get(f"/api/datasets/{2**40}").status_code == 422
        assert api.get(f"/api/v2/teams/acme/items?dataset_ids={2**40}").status_code == 400
