"""The raw register_upload items rewritten with the keys moorage chooses (pure functions)."""

from __future__ import annotations

from moorage.uploads.payload import key_name, prepare_item


class TestKeyName:
    def test_the_base_name_is_kept(self) -> None:
        assert key_name("a/b/car.jpg") == "car.jpg"
        assert key_name("..\\..\\evil.png") == "evil.png"

    def test_nothing_usable_is_file(self) -> None:
        for bad in ("", "..", ".", "a/", None, 7):
            assert key_name(bad) == "file"

    def test_a_long_name_is_shortened_keeping_its_extension(self) -> None:
        name = key_name("é" * 400 + ".jpeg")
        assert name.endswith(".jpeg") and len(name.encode()) <= 180
        name.encode("utf-8")  # no half character left


class TestPrepareItem:
    def test_each_slot_gets_its_own_key_and_upload(self) -> None:
        raw = {
            "name": "pair",
            "slots": [
                {"slot_name": "0", "file_name": "a.jpg"},
                {"slot_name": "1", "file_name": "b.jpg"},
            ],
        }
        out = prepare_item(raw, "pre")
        keys = [s["storage_key"] for s in out.raw["slots"]]
        assert [k.rsplit("/", 1)[1] for k in keys] == ["a.jpg", "b.jpg"]
        assert all(k.startswith("pre/uploads/") for k in keys)
        assert {str(out.uploads[k]) for k in keys} == {k.split("/")[2] for k in keys}

    def test_slot_tags_become_the_items(self) -> None:
        out = prepare_item({"name": "a.jpg", "slots": [{"file_name": "a.jpg", "tags": ["x"]}]}, "")
        assert out.raw["tags"] == ["x"] and "tags" not in out.raw["slots"][0]

    def test_a_flat_item_is_one_slot_named_0(self) -> None:
        out = prepare_item({"name": "a.mp4", "fps": 5, "size_bytes": 9}, "")
        (slot,) = out.raw["slots"]
        assert slot["slot_name"] == "0" and slot["file_name"] == "a.mp4" and slot["fps"] == 5
        assert out.announced == {slot["storage_key"]: 9}

    def test_what_is_not_the_clients_to_choose_is_dropped(self) -> None:
        raw = {
            "name": "a.jpg",
            "slots": [{"file_name": "a.jpg", "storage_key": "x", "sections": []}],
        }
        (slot,) = prepare_item(raw, "").raw["slots"]
        assert slot["storage_key"] != "x" and "sections" not in slot

    def test_malformed_input_is_left_for_the_checks(self) -> None:
        assert prepare_item("nope", "").raw == "nope"
        assert prepare_item({"name": "a", "slots": "x"}, "").raw["slots"] == "x"
        assert prepare_item({"name": "a", "slots": [3]}, "").raw["slots"] == [3]
