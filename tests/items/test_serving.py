"""Files of a local storage are streamed by the API itself, with Range support."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import REGISTER, jpeg_bytes, make_storage


def _register_readonly(api: TestClient, put_file) -> dict:
    original = jpeg_bytes(400, 300)
    put_file("img/a.jpg", original)
    put_file("img/a_thumb.jpg", jpeg_bytes(40, 30))
    put_file("v/clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    put_file("v/hq1.jpg", jpeg_bytes(8, 8))
    put_file("v/lq1.jpg", jpeg_bytes(4, 4))
    body = api.post(
        REGISTER,
        json={
            "dataset_slug": "darwin-py",
            "storage_slug": "media",
            "items": [
                {
                    "name": "a.jpg",
                    "storage_key": "img/a.jpg",
                    "storage_thumbnail_key": "img/a_thumb.jpg",
                    "width": 400,
                    "height": 300,
                },
                {
                    "name": "clip",
                    "slots": [
                        {
                            "slot_name": "cam 1/left",
                            "storage_key": "v/clip.mp4",
                            "type": "video",
                            "storage_thumbnail_key": "img/a_thumb.jpg",
                            "sections": [
                                {
                                    "section_index": 1,
                                    "width": 8,
                                    "height": 8,
                                    "storage_hq_key": "v/hq1.jpg",
                                    "storage_lq_key": "v/lq1.jpg",
                                }
                            ],
                        }
                    ],
                },
            ],
        },
    ).json()
    assert body["blocked_items"] == []
    return {"image": body["items"][0], "video": body["items"][1], "original": original}


def _register_one(api: TestClient, put_file) -> dict:
    make_storage(api)
    put_file("a.jpg")
    body = {
        "dataset_slug": "darwin-py",
        "storage_slug": "media",
        "items": [{"name": "a.jpg", "storage_key": "a.jpg"}],
    }
    return api.post(REGISTER, json=body).json()["items"][0]


class TestServing:
    def test_original_thumbnail_and_sections(self, api, dataset, bucket, put_file) -> None:
        make_storage(api, readonly=True)
        reg = _register_readonly(api, put_file)
        slot = reg["image"]["slots"][0]
        r = api.get(slot["file_url"])
        assert r.status_code == 200 and r.content == reg["original"]
        assert r.headers["content-type"] == "image/jpeg"
        assert api.get(slot["thumbnail_url"]).content == (bucket / "img/a_thumb.jpg").read_bytes()
        detail = api.get(f"/api/v2/teams/acme/items/{reg['video']['id']}").json()
        section = detail["slots"][0]["sections"][0]
        assert api.get(section["hq_url"]).content == (bucket / "v/hq1.jpg").read_bytes()
        assert api.get(section["lq_url"]).content == (bucket / "v/lq1.jpg").read_bytes()

    def test_an_image_shown_as_is_serves_its_one_section(
        self, api, dataset, bucket, put_file
    ) -> None:
        """``total_sections: 1`` and sections count from 1: ``sections/1/hq`` is the original."""
        make_storage(api, readonly=True)
        reg = _register_readonly(api, put_file)
        detail = api.get(f"/api/v2/teams/acme/items/{reg['image']['id']}").json()
        slot = detail["slots"][0]
        assert slot["total_sections"] == 1
        assert [s["section_index"] for s in slot["sections"]] == [1]
        section = slot["sections"][0]
        assert (section["width"], section["height"]) == (400, 300)
        assert "lq_url" not in section
        r = api.get(section["hq_url"])
        assert r.status_code == 200 and r.content == reg["original"]
        assert api.get(section["hq_url"].replace("/hq", "/lq")).status_code == 404
        assert api.get(section["hq_url"].replace("/1/hq", "/2/hq")).status_code == 404

    def test_range_requests(self, api, dataset, bucket, put_file) -> None:
        make_storage(api, readonly=True)
        reg = _register_readonly(api, put_file)
        r = api.get(reg["image"]["slots"][0]["file_url"], headers={"Range": "bytes=10-19"})
        assert r.status_code == 206
        assert r.content == reg["original"][10:20]

    def test_needs_auth_and_team_scope(self, api, client, ctx, dataset, bucket, put_file) -> None:
        from tests.conftest import make_team

        make_storage(api, readonly=True)
        reg = _register_readonly(api, put_file)
        url = reg["image"]["slots"][0]["file_url"]
        other = make_team(ctx, "other")
        assert client.get(url, headers={"Authorization": ""}).status_code == 401
        assert (
            client.get(
                url.replace("/teams/acme/", "/teams/other/"), headers=other.headers
            ).status_code
            == 404
        )

    def test_missing_thumbnail_and_section_are_404(self, api, dataset, bucket, put_file) -> None:
        item = _register_one(api, put_file)
        slot = item["slots"][0]
        assert api.get(slot["thumbnail_url"]).status_code == 404
        assert api.get(slot["file_url"].replace("/file", "/sections/3/hq")).status_code == 404

    def test_file_deleted_from_storage_is_404(self, api, dataset, bucket, put_file) -> None:
        item = _register_one(api, put_file)
        (bucket / "a.jpg").unlink()
        r = api.get(item["slots"][0]["file_url"])
        assert r.status_code == 404 and r.json()["error"]["code"] == "STORAGE_KEY_NOT_FOUND"
