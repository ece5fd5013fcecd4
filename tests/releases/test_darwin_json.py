"""An item's tags in its Darwin JSON 2.0 file, as darwin-py's ``parse_darwin_json`` reads them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from moorage.releases.darwin_json import ReleaseLinks, item_document

LINKS = ReleaseLinks(
    base_url="http://moorage.test",
    team_slug="acme",
    team_name="Acme",
    dataset_name="Cars",
    dataset_slug="cars",
    release_id=uuid.uuid4(),
    token=None,
)


def _item(item_id: uuid.UUID) -> tuple[dict[str, object], list[dict[str, object]]]:
    item = {"id": item_id, "name": "red.jpg", "path": "/cars"}
    slot = {
        "item_id": item_id,
        "slot_name": "front",
        "type": "image",
        "metadata": {"width": 64, "height": 48},
        "source_files": None,
        "storage_key": "cars/red.jpg",
        "file_name": "red.jpg",
    }
    return item, [slot]


class TestTags:
    def test_tags_are_tag_annotations_darwin_py_parses(self, tmp_path: Path) -> None:
        from darwin.utils import parse_darwin_json

        item_id = uuid.uuid4()
        item, slots = _item(item_id)
        tags = [("car", None), ('wéird "name", /x', None), ("weather", "sunny, 21 °C")]
        doc = item_document(item, slots, LINKS, tags)
        path = tmp_path / "a.json"
        path.write_text(json.dumps(doc))
        parsed = parse_darwin_json(path)
        assert parsed is not None
        got = {a.annotation_class.name: a for a in parsed.annotations}
        assert set(got) == {name for name, _ in tags}
        assert {a.annotation_class.annotation_type for a in got.values()} == {"tag"}
        assert all(a.slot_names == ["front"] for a in got.values())
        (text,) = got["weather"].subs
        assert (text.annotation_type, text.data) == ("text", "sunny, 21 °C")
        assert got["car"].subs == []

    def test_ids_are_stable_across_releases_and_distinct(self) -> None:
        item_id = uuid.uuid4()
        item, slots = _item(item_id)
        first = item_document(item, slots, LINKS, [("a", None), ("b", None)])["annotations"]
        again = item_document(item, slots, LINKS, [("a", None), ("b", None)])["annotations"]
        assert [a["id"] for a in first] == [a["id"] for a in again]
        assert len({a["id"] for a in first}) == 2
        other, other_slots = _item(uuid.uuid4())
        theirs = item_document(other, other_slots, LINKS, [("a", None)])["annotations"]
        assert theirs[0]["id"] != first[0]["id"]

    def test_no_tags_no_annotations(self) -> None:
        item, slots = _item(uuid.uuid4())
        assert item_document(item, slots, LINKS)["annotations"] == []
