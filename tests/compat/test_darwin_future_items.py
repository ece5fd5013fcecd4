"""darwin-py's ``darwin.future`` item calls (tags, folder moves, layout, priority, ids) and
the classic client's, as the real client sends them, against a live moorage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer, TeamFixture, make_team
from tests.helpers import jpeg_bytes


class Side:
    """One team with a dataset of three images on its local bucket, seen over HTTP."""

    def __init__(self, server: LiveServer, team: TeamFixture, root: Path) -> None:
        self.server, self.team = server, team
        self.headers = {**team.headers, "Content-Type": "application/json"}
        folder = root / team.slug / "media"
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("a.jpg", "b.jpg", "c.jpg"):
            (folder / name).write_bytes(jpeg_bytes())
        self.dataset = self.call("POST", "/api/datasets", {"name": "Darwin Py"}).json()
        self.call(
            "POST",
            f"/api/teams/{team.slug}/storage",
            {"name": "B", "slug": "media", "provider": "local", "bucket": "media"},
        )
        items = [{"name": n, "path": "/", "storage_key": n} for n in ("a.jpg", "b.jpg", "c.jpg")]
        body = {"items": items, "dataset_slug": "darwin-py", "storage_slug": "media"}
        registered = self.call("POST", self.v2("items/register_existing"), body).json()
        self.ids = {i["name"]: i["id"] for i in registered["items"]}

    def v2(self, path: str) -> str:
        return f"/api/v2/teams/{self.team.slug}/{path}"

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(
            method, self.server.url + path, json=body, headers=self.headers, timeout=10
        )

    def item(self, name: str) -> dict[str, Any]:
        response = self.call("GET", self.v2(f"items/{self.ids[name]}"))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def core(self) -> Any:
        from darwin.future.core.client import ClientCore, DarwinConfig

        config = DarwinConfig(
            api_key=self.team.api_key,
            api_endpoint=self.server.url + "/api/",
            base_url=self.server.url + "/",
            default_team=self.team.slug,
            teams={},
        )
        return ClientCore(config)


@pytest.fixture
def sides(live_server: LiveServer, storage_root: Path) -> tuple[Side, Side]:
    acme = Side(live_server, make_team(live_server.ctx, "acme"), storage_root)
    rival = Side(live_server, make_team(live_server.ctx, "rival"), storage_root)
    return acme, rival


class TestFutureCoreItems:
    def test_tag_and_untag(self, sides) -> None:
        from darwin.future.core.items.tag_items import tag_items
        from darwin.future.core.items.untag_items import untag_items

        acme, rival = sides
        client, did = acme.core(), acme.dataset["id"]
        tag_items(client, "acme", did, 7, {"item_ids": [acme.ids["a.jpg"], acme.ids["b.jpg"]]})
        tag_items(client, "acme", did, 7, {"item_ids": [acme.ids["a.jpg"]]})  # twice: once
        assert acme.item("a.jpg")["tags"] == ["7"]
        assert acme.item("b.jpg")["tags"] == ["7"]
        assert acme.item("c.jpg")["tags"] == []
        untag_items(client, "acme", did, 7, {"item_ids": [acme.ids["a.jpg"]]})
        assert acme.item("a.jpg")["tags"] == []
        assert acme.item("b.jpg")["tags"] == ["7"]
        # the other team's items, named by id under acme's dataset: untouched
        tag_items(client, "acme", did, 9, {"item_ids": list(rival.ids.values())})
        assert all(rival.item(n)["tags"] == [] for n in rival.ids)

    def test_tag_by_name_is_moorages_own(self, sides) -> None:
        acme, _ = sides
        body = {"filters": {"item_names": ["c.jpg"]}, "tag": "sunny"}
        assert acme.call("POST", acme.v2("items/slots/tags"), body).status_code == 200
        assert acme.item("c.jpg")["tags"] == ["sunny"]

    def test_move_to_folder(self, sides) -> None:
        from darwin.future.core.items.get import list_folders
        from darwin.future.core.items.move_items_to_folder import move_list_of_items_to_folder
        from darwin.future.core.types.common import QueryString

        acme, rival = sides
        client, did = acme.core(), acme.dataset["id"]
        filters = {"item_ids": [acme.ids["a.jpg"], acme.ids["b.jpg"]]}
        move_list_of_items_to_folder(client, "acme", did, "/cars/red/", filters)
        assert acme.item("a.jpg")["path"] == "/cars/red"
        assert acme.item("c.jpg")["path"] == "/"
        folders, errors = list_folders(client, "acme", QueryString({"dataset_ids": str(did)}))
        assert errors == []
        counts = {f.path: f.unfiltered_item_count for f in folders}
        assert counts == {"/": 1, "/cars": 0, "/cars/red": 2}
        assert rival.item("a.jpg")["path"] == "/"

    def test_move_refuses_a_name_twice_in_a_folder(self, sides) -> None:
        acme, _ = sides
        did = acme.dataset["id"]
        # "c.jpg" of another folder would land next to the "c.jpg" staying at the root
        body = {"filters": {"dataset_ids": [did], "item_names": ["c.jpg"]}, "path": "/x"}
        assert acme.call("POST", acme.v2("items/path"), body).status_code == 200
        body = {"filters": {"dataset_ids": [did], "item_paths": ["/x"]}, "path": "/"}
        assert acme.call("POST", acme.v2("items/path"), body).status_code == 200
        other = acme.call(
            "POST",
            acme.v2("items/register_existing"),
            {
                "items": [{"name": "c.jpg", "path": "/y", "storage_key": "c.jpg"}],
                "dataset_slug": "darwin-py",
                "storage_slug": "media",
            },
        ).json()["items"][0]
        body = {"filters": {"item_ids": [other["id"]]}, "path": "/"}
        refused = acme.call("POST", acme.v2("items/path"), body)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["field"] == "path"
        assert "c.jpg" in refused.json()["error"]["message"]

    def test_layout(self, sides) -> None:
        from darwin.future.core.items.get import get_item
        from darwin.future.core.items.set_item_layout import set_item_layout
        from darwin.future.data_objects.item import ItemLayout

        acme, rival = sides
        client, did = acme.core(), acme.dataset["id"]
        layout = ItemLayout(slots=["0", "1"], type="grid", version=2, layout_shape=[2, 1])
        set_item_layout(client, "acme", did, layout, {"item_names": ["a.jpg"]})
        item = get_item(client, "acme", acme.ids["a.jpg"])
        assert item.layout == layout
        default = {"slots": ["0"], "type": "simple", "version": 1}
        assert get_item(client, "acme", acme.ids["b.jpg"]).layout == ItemLayout(**default)
        assert rival.item("a.jpg")["layout"] == default

    def test_priority_and_ids(self, sides) -> None:
        from darwin.future.core.items.get import get_item_ids, list_items
        from darwin.future.core.items.set_item_priority import set_item_priority
        from darwin.future.core.types.common import QueryString

        acme, rival = sides
        client, did = acme.core(), acme.dataset["id"]
        set_item_priority(client, "acme", did, 5, {"item_names": ["b.jpg", "c.jpg"]})
        items, errors = list_items(client, "acme", did, QueryString({"sort[priority]": "desc"}))
        assert errors == []
        assert [(i.name, i.priority) for i in items] == [("c.jpg", 5), ("b.jpg", 5), ("a.jpg", 0)]
        ids = get_item_ids(client, "acme", did)
        assert [str(i) for i in ids] == list(acme.ids.values())
        assert rival.item("b.jpg")["priority"] == 0

    def test_archive_restore_delete_with_filters(self, sides) -> None:
        from darwin.future.core.items.archive_items import archive_list_of_items
        from darwin.future.core.items.delete_items import delete_list_of_items
        from darwin.future.core.items.get import get_item_ids
        from darwin.future.core.items.restore_items import restore_list_of_items

        acme, _ = sides
        client, did = acme.core(), acme.dataset["id"]
        archive_list_of_items(client, "acme", did, {"item_names": ["a.jpg"]})
        assert acme.item("a.jpg")["archived"] is True
        restore_list_of_items(client, "acme", did, {"item_names": ["a.jpg"]})
        assert acme.item("a.jpg")["archived"] is False
        delete_list_of_items(client, "acme", did, {"item_names": ["a.jpg"]})
        assert len(get_item_ids(client, "acme", did)) == 2

    def test_another_teams_dataset_and_item_are_not_found(self, sides) -> None:
        from darwin.future.core.items.get import get_item
        from darwin.future.core.items.set_item_priority import set_item_priority
        from darwin.future.core.items.tag_items import tag_items
        from darwin.future.exceptions import NotFound

        acme, rival = sides
        client, theirs = acme.core(), rival.dataset["id"]
        with pytest.raises(NotFound):
            get_item(client, "acme", rival.ids["a.jpg"])
        with pytest.raises(NotFound):
            set_item_priority(client, "acme", theirs, 9, {"item_names": ["a.jpg"]})
        with pytest.raises(NotFound):
            tag_items(client, "acme", theirs, 1, {"item_names": ["a.jpg"]})
        with pytest.raises(NotFound):  # acme's key on rival's path
            set_item_priority(client, "rival", theirs, 9, {"item_names": ["a.jpg"]})
        assert rival.item("a.jpg")["priority"] == 0
        assert rival.item("a.jpg")["tags"] == []

    def test_assign_and_stage_are_not_supported(self, sides) -> None:
        from darwin.future.core.items.assign_items import assign_items
        from darwin.future.core.items.set_stage_to_items import set_stage_to_items
        from darwin.future.exceptions import UnprocessibleEntity

        acme, _ = sides
        client, did = acme.core(), acme.dataset["id"]
        with pytest.raises(UnprocessibleEntity, match="assignee_id"):
            assign_items(client, "acme", did, 3, "wf", {"item_names": ["a.jpg"]})
        with pytest.raises(UnprocessibleEntity, match="stage_id"):
            set_stage_to_items(client, "acme", did, "s", "wf", {"item_names": ["a.jpg"]})


class TestClassicClient:
    def test_remote_dataset_v2_item_calls(
        self, sides, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        acme, rival = sides
        monkeypatch.setenv("DARWIN_BASE_URL", acme.server.url)
        monkeypatch.setenv("HOME", str(tmp_path))
        from darwin.client import Client

        dataset = Client.from_api_key(acme.team.api_key).get_remote_dataset("darwin-py")
        files = {f.filename: f for f in dataset.fetch_remote_files()}
        dataset.archive([files["a.jpg"]])
        assert acme.item("a.jpg")["archived"] is True
        dataset.restore_archived([files["a.jpg"]])
        assert acme.item("a.jpg")["archived"] is False
        dataset.delete_items([files["b.jpg"]])
        assert acme.call("GET", acme.v2(f"items/{acme.ids['b.jpg']}")).status_code == 404
        assert rival.item("b.jpg")["name"] == "b.jpg"
