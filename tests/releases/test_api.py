"""The release endpoints: team isolation (another team's release, its zip and its file URLs are
404) and hostile input (a bad body is a 4xx naming the field, never a 5xx)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.conftest import TeamFixture
from tests.releases.conftest import Site


def field_of(r: requests.Response) -> str:
    body = r.json()
    return str(body["error"].get("field"))


def token_of(release: dict[str, Any]) -> str:
    return parse_qs(urlparse(release["download_url"]).query)["token"][0]


def a_file_url(site: Site, release: dict[str, Any]) -> str:
    """The first source-file URL of the release's zip (its items' URLs carry the token)."""
    import io
    import json
    import zipfile

    data = requests.get(release["download_url"], timeout=30).content
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        doc = json.loads(zf.read(sorted(zf.namelist())[0]))
    return str(doc["item"]["slots"][0]["source_files"][0]["url"])


class TestReleaseListing:
    def test_fields_as_darwin_py_reads_them(self, site: Site) -> None:
        release = site.export("v1", include_export_token=True)
        assert release["format"] == "darwin_json_2"
        assert release["version"] == 1 and release["latest"] is True
        assert release["metadata"] == {
            "num_images": 3,
            "num_items": 4,
            "annotation_classes": [],
            "annotation_types": [],
        }
        assert release["item_count"] == 4 and release["image_count"] == 3
        assert release["inserted_at"].endswith("Z") and len(release["inserted_at"]) == 20

    def test_pending_has_no_download_url(self, site: Site, runtime: Any) -> None:
        runtime.stop()  # nobody builds: the release stays pending
        r = site.post(site.exports(), {"name": "later"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "pending" and r.json()["download_url"] is None
        listed = site.get(site.exports()).json()
        assert [(x["name"], x["status"], x["download_url"]) for x in listed] == [
            ("later", "pending", None)
        ]

    def test_release_freezes_its_items(self, site: Site, put_file: Any) -> None:
        release = site.export("before")
        put_file("late.jpg")
        site.register("darwin-py", ["late.jpg"])
        after = site.export("after")
        assert (release["item_count"], after["item_count"]) == (4, 5)


class TestIsolation:
    def test_other_team_cannot_list_or_make(self, site: Site, other_team: TeamFixture) -> None:
        site.export("v1")
        headers = {**other_team.headers, "Content-Type": "application/json"}
        for path in (site.exports(), "/api/v2/teams/rival/datasets/darwin-py/exports"):
            assert site.get(path, headers=headers).status_code == 404
            r = site.post(path, {"name": "stolen"}, headers=headers)
            assert r.status_code == 404, r.text
            r = requests.delete(f"{site.url}{path}/v1", headers=headers, timeout=10)
            assert r.status_code == 404
        assert [x["name"] for x in site.get(site.exports()).json()] == ["v1"]

    def test_zip_needs_its_own_token_and_team(self, site: Site, other_team: TeamFixture) -> None:
        release = site.export("v1")
        url = release["download_url"]
        assert requests.get(url, timeout=10).status_code == 200
        bare = url.split("?")[0]
        assert requests.get(bare, timeout=10).status_code == 401
        assert requests.get(bare, headers=other_team.headers, timeout=10).status_code == 404
        assert requests.get(bare, headers=site.team.headers, timeout=10).status_code == 200
        wrong = bare + "?token=" + "A" * 43
        assert requests.get(wrong, timeout=10).status_code == 404
        # the right token under another team's path
        moved = url.replace("/teams/acme/", "/teams/rival/")
        assert requests.get(moved, timeout=10).status_code == 404
        # another release's token
        other = site.export("v2")
        swapped = bare + "?token=" + token_of(other)
        assert requests.get(swapped, timeout=10).status_code == 404

    def test_file_urls_serve_only_the_release(
        self, site: Site, other_team: TeamFixture, put_file: Any
    ) -> None:
        release = site.export("v1", include_export_token=True)
        url = a_file_url(site, release)
        assert requests.get(url, timeout=10).status_code == 200
        assert (
            requests.get(url.replace("/teams/acme/", "/teams/rival/"), timeout=10).status_code
            == 404
        )
        bare = url.split("?")[0]
        assert requests.get(bare, headers=other_team.headers, timeout=10).status_code == 404
        # an item registered after the release is not one of its items
        put_file("late.jpg")
        site.register("darwin-py", ["late.jpg"])
        late = site.get("/api/v2/teams/acme/items?item_names[]=late.jpg").json()["items"][0]
        item_id = url.split("/items/")[1].split("/")[0]
        assert requests.get(url.replace(item_id, late["id"]), timeout=10).status_code == 404

    def test_thumbnail_url(self, site: Site) -> None:
        import io
        import json
        import zipfile

        release = site.export("v1", include_export_token=True)
        data = requests.get(release["download_url"], timeout=30).content
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            docs = [json.loads(zf.read(n)) for n in zf.namelist()]
        car = next(d for d in docs if d["item"]["name"] == "red.jpg")
        served = requests.get(car["item"]["slots"][0]["thumbnail_url"], timeout=10)
        listed = site.get("/api/v2/teams/acme/items?item_names[]=red.jpg").json()["items"][0]
        own = site.get(listed["slots"][0]["thumbnail_url"].replace(site.url, ""))
        assert served.status_code == own.status_code == 200
        assert served.content == own.content and served.content[:2] == b"\xff\xd8"

    def test_deleting_a_release_revokes_its_urls(self, site: Site) -> None:
        release = site.export("v1", include_export_token=True)
        url = a_file_url(site, release)
        r = requests.delete(f"{site.url}{site.exports()}/v1", headers=site.headers, timeout=10)
        assert r.status_code == 200 and r.json() == {}
        assert requests.get(release["download_url"], timeout=10).status_code == 404
        assert requests.get(url, timeout=10).status_code == 404
        assert site.get(site.exports()).json() == []


class TestHostileInput:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "name"),
            ({"name": ""}, "name"),
            ({"name": "a/b"}, "name"),
            ({"name": ".."}, "name"),
            ({"name": "x\u0000y"}, "name"),
            ({"name": "x" * 201}, "name"),
            ({"name": "v", "format": "json"}, "format"),
            ({"name": "v", "include_authorship": [1]}, "include_authorship"),
            ({"name": "v", "bogus": 1}, "bogus"),
            ({"name": "v", "filters": {"item_ids": ["x"]}}, "filters.item_ids"),
            (
                {"name": "v", "annotation_filters": {"annotation_class_ids": ["a"]}},
                "annotation_filters.annotation_class_ids.0",
            ),
            ([1, 2], "body"),
        ],
    )
    def test_bad_export_body(self, site: Site, body: Any, field: str) -> None:
        r = site.post(site.exports(), body)
        assert 400 <= r.status_code < 500, r.text
        assert field_of(r) == field, r.text

    def test_not_json(self, site: Site) -> None:
        r = requests.post(
            f"{site.url}{site.exports()}", data=b"{nope", headers=site.headers, timeout=10
        )
        assert 400 <= r.status_code < 500, r.text
        assert field_of(r) == "body"

    def test_name_taken(self, site: Site) -> None:
        site.export("v1")
        r = site.post(site.exports(), {"name": "v1"})
        assert r.status_code == 422
        assert r.json()["errors"] == {"name": ["has already been taken"]}

    def test_unknown_dataset(self, site: Site) -> None:
        r = site.post(site.exports("nowhere"), {"name": "v1"})
        assert r.status_code == 404 and field_of(r) == "dataset_slug"
        assert site.get(site.exports("nowhere")).status_code == 404

    def test_bad_serving_urls(self, site: Site) -> None:
        release = site.export("v1", include_export_token=True)
        url = a_file_url(site, release)
        base, query = url.split("?")
        cases = {
            base.rsplit("/", 1)[0] + "/-1?" + query: (422, "index"),
            base.rsplit("/", 1)[0] + "/99?" + query: (404, "index"),
            base.rsplit("/", 1)[0] + "/x?" + query: (422, "index"),
            base.rsplit("/", 2)[0] + "/nothing/0?" + query: (422, "what"),
            base.split("?")[0] + "?token=" + "t" * 201: (422, "token"),
            base.split("?")[0] + "?token=": (422, "token"),
        }
        item_id = url.split("/items/")[1].split("/")[0]
        cases[url.replace(item_id, "not-a-uuid")] = (404, "item_id")
        release_id = url.split("/exports/")[1].split("/")[0]
        cases[url.replace(release_id, "not-a-uuid")] = (404, "release_id")
        for bad, (status, field) in cases.items():
            r = requests.get(bad, timeout=10)
            assert (r.status_code, field_of(r)) == (status, field), (bad, r.text)
