"""The six payloads of the seed document, sent as written (only slugs and keys changed)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import REGISTER, make_storage


def _post(api: TestClient, items: list, **extra) -> dict:
    payload = {"items": items, "dataset_slug": "darwin-py", "storage_slug": "media", **extra}
    r = api.post(REGISTER, json=payload)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"items", "blocked_items"}
    return body


class TestSeedPayloads:
    def test_image_read_write_with_string_as_frames(
        self, api, dataset, rw_storage, put_file
    ) -> None:
        put_file("car_folder/cars.jpg")
        body = _post(
            api,
            [
                {
                    "path": "/",
                    "slots": [
                        {
                            "as_frames": "false",
                            "slot_name": "1",
                            "storage_key": "car_folder/cars.jpg",
                            "file_name": "cars.jpg",
                        }
                    ],
                    "name": "cars.jpg",
                }
            ],
        )
        assert body["blocked_items"] == []
        (item,) = body["items"]
        assert item["name"] == "cars.jpg"
        assert item["processing_status"] == "processing"
        assert item["slots"][0]["slot_name"] == "1"
        assert item["slots"][0]["type"] == "image"

    def test_image_read_only_without_slot_name(self, api, dataset, ro_storage, put_file) -> None:
        put_file("darwin/cars/2008_000074.jpg")
        put_file("darwin/2008_000074_thumbnail.jpg")
        body = _post(
            api,
            [
                {
                    "path": "/",
                    "slots": [
                        {
                            "type": "image",
                            "storage_key": "darwin/cars/2008_000074.jpg",
                            "storage_thumbnail_key": "darwin/2008_000074_thumbnail.jpg",
                            "width": 1920,
                            "height": 1080,
                            "file_name": "2008_000074.jpg",
                        }
                    ],
                    "name": "cars.jpg",
                }
            ],
        )
        assert body["blocked_items"] == []
        (item,) = body["items"]
        slot = item["slots"][0]
        assert slot["slot_name"] == "0"
        assert item["processing_status"] == "complete"
        assert item["status"] == "new"
        assert (slot["metadata"]["width"], slot["metadata"]["height"]) == (1920, 1080)
        assert slot["total_sections"] == 1

    def test_video_read_write_with_fps(self, api, dataset, rw_storage, put_file) -> None:
        put_file("seals_folder/seals.mp4", b"\x00\x00\x00\x18ftypmp42")
        body = _post(
            api,
            [
                {
                    "path": "/",
                    "slots": [
                        {
                            "as_frames": False,
                            "slot_name": "1",
                            "fps": 10,
                            "file_name": "seals.mp4",
                            "storage_key": "seals_folder/seals.mp4",
                            "type": "video",
                        }
                    ],
                    "name": "Seals",
                }
            ],
        )
        assert body["blocked_items"] == []
        slot = body["items"][0]["slots"][0]
        assert (slot["type"], slot["fps"]) == ("video", 10)

    def test_video_read_only_with_sections_and_tag_object(
        self, api, dataset, ro_storage, put_file
    ) -> None:
        for key in (
            "path/to/satellite-video.mp4",
            "path/to/hq_key_1.jpg",
            "path/to/lq_key_1.jpg",
            "path/to/hq_key_2.jpg",
            "path/to/lq_key_2.jpg",
            "path/to/thumbnail_key.jpg",
        ):
            put_file(key)
        body = _post(
            api,
            [
                {
                    "path": "/",
                    "slots": [
                        {
                            "as_frames": "false",
                            "slot_name": "0",
                            "storage_key": "path/to/satellite-video.mp4",
                            "file_name": "satellite-video.mp4",
                            "fps": 2,
                            "sections": [
                                {
                                    "height": 1200,
                                    "section_index": 1,
                                    "width": 1400,
                                    "storage_hq_key": "path/to/hq_key_1.jpg",
                                    "storage_lq_key": "path/to/lq_key_1.jpg",
                                },
                                {
                                    "height": 1200,
                                    "width": 1400,
                                    "section_index": 2,
                                    "storage_hq_key": "path/to/hq_key_2.jpg",
                                    "storage_lq_key": "path/to/lq_key_2.jpg",
                                },
                            ],
                            "type": "video",
                            "storage_thumbnail_key": "path/to/thumbnail_key.jpg",
                        }
                    ],
                    "tags": {"Example_Tag_1": "Example 1", "Example_Tag_2": "Example 2"},
                    "name": "satellite-video.mp4",
                }
            ],
        )
        assert body["blocked_items"] == []
        (item,) = body["items"]
        assert item["slots"][0]["total_sections"] == 2
        assert item["tags"] == ["Example_Tag_1", "Example_Tag_2"]
        assert item["tag_values"]["Example_Tag_1"] == "Example 1"
        assert item["processing_status"] == "complete"

    def test_dicom_files_as_separate_items(self, api, dataset, rw_storage, put_file) -> None:
        put_file("001.dcm", dicom="CT_small.dcm")
        put_file("002.dcm", dicom="MR_small.dcm")
        body = _post(
            api,
            [
                {
                    "path": "/",
                    "slots": [
                        {
                            "as_frames": "false",
                            "slot_name": "1",
                            "storage_key": "001.dcm",
                            "file_name": "001.dcm",
                        }
                    ],
                    "name": "001.dcm",
                },
                {
                    "path": "/",
                    "slots": [
                        {
                            "as_frames": "false",
                            "slot_name": "1",
                            "storage_key": "002.dcm",
                            "file_name": "002.dcm",
                        }
                    ],
                    "name": "002.dcm",
                },
            ],
        )
        assert [i["name"] for i in body["items"]] == ["001.dcm", "002.dcm"]
        assert all(i["slots"][0]["type"] == "dicom" for i in body["items"])

    def test_dicom_series_in_one_slot(self, api, dataset, rw_storage, put_file) -> None:
        put_file("001/slice1.dcm", dicom="CT_small.dcm")
        put_file("001/slice2.dcm", dicom="CT_small.dcm")
        body = _post(
            api,
            [
                {
                    "path": "/",
                    "slots": [
                        {
                            "as_frames": "false",
                            "slot_name": "1",
                            "storage_key": "001/slice1.dcm",
                            "file_name": "slice1.dcm",
                        },
                        {
                            "as_frames": "false",
                            "slot_name": "1",
                            "storage_key": "001/slice2.dcm",
                            "file_name": "slice2.dcm",
                        },
                    ],
                    "name": "001.dcm",
                }
            ],
            options={"ignore_dicom_layout": True},
        )
        assert body["blocked_items"] == []
        (item,) = body["items"]
        assert len(item["slots"]) == 1
        detail = api.get(f"/api/v2/teams/acme/items/{item['id']}").json()
        sections = detail["slots"][0]["sections"]
        assert [s["storage_key"] for s in sections] == ["001/slice1.dcm", "001/slice2.dcm"]
        assert [s["section_index"] for s in sections] == [1, 2]


def test_storage_slug_may_be_the_storage_name(api, dataset, bucket, put_file) -> None:
    """darwin-py sends ObjectStore.name as storage_slug."""
    make_storage(api, slug="media", name="My Bucket")
    put_file("a.jpg")
    r = api.post(
        REGISTER,
        json={
            "items": [{"name": "a.jpg", "path": "/", "type": "image", "storage_key": "a.jpg"}],
            "dataset_slug": "darwin-py",
            "storage_slug": "My Bucket",
        },
    )
    assert r.status_code == 200
    assert len(r.json()["items"]) == 1
