"""Syncs of a local folder: first sync, re-sync, globs, folders, grouping, unsupported files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from tests.helpers import REGISTER, jpeg_bytes

ITEMS = "/api/v2/teams/acme/items"


def items(api: TestClient, dataset: dict, **params: str) -> list[dict]:
    r = api.get(ITEMS, params={"dataset_ids": str(dataset["id"]), "page[size]": "1000", **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


class TestFirstSync:
    def test_registers_every_file_with_folders_preserved(
        self, api, dataset, put_file: Callable, sync_once: Callable
    ) -> None:
        for key in ("scans/a.jpg", "scans/deep/b.jpg", "top.jpg"):
            put_file(key)
        done = sync_once()
        assert done["state"] == "complete", done
        assert done["counts"] == {
            "listed": 3,
            "registered": 3,
            "unchanged": 0,
            "changed": 0,
            "blocked": 0,
            "missing": 0,
            "restored": 0,
        }
        got = sorted((i["path"], i["name"]) for i in items(api, dataset))
        assert got == [("/", "top.jpg"), ("/scans", "a.jpg"), ("/scans/deep", "b.jpg")]
        assert done["started_at"] and done["finished_at"] and done["error"] is None

    def test_prefix_globs_and_flat_path(self, api, dataset, put_file, sync_once) -> None:
        for key in ("in/a.jpg", "in/b.png", "in/sub/c.jpg", "in/skip/d.jpg", "out/e.jpg"):
            put_file(key)
        done = sync_once(
            prefix="in/",
            include=["*.jpg"],
            exclude=["skip/*"],
            preserve_folders=False,
            path="/flat",
        )
        assert done["counts"]["listed"] == 2 and done["counts"]["registered"] == 2, done
        got = sorted((i["path"], i["name"]) for i in items(api, dataset))
        assert got == [("/flat", "a.jpg"), ("/flat", "c.jpg")]

    def test_unsupported_files_are_blocked_not_fatal(self, api, dataset, put_file, sync_once):
        put_file("ok.jpg")
        put_file("notes.txt", b"hello")
        put_file("noext", b"\x00\x01 not any media")
        done = sync_once()
        assert done["state"] == "complete"
        assert done["counts"]["registered"] == 1 and done["counts"]["blocked"] == 2, done
        reasons = {b["storage_key"]: b["reason"] for b in done["blocked"]}
        assert reasons == {"notes.txt": "UNSUPPORTED_TYPE", "noext": "UNSUPPORTED_TYPE"}
        assert all(b["message"] for b in done["blocked"])

    def test_types_without_extension_are_sniffed(self, api, dataset, put_file, sync_once):
        put_file("photo", jpeg_bytes())
        done = sync_once()
        assert done["counts"]["registered"] == 1, done
        assert items(api, dataset)[0]["slots"][0]["type"] == "image"

    def test_dry_run_writes_nothing(self, api, dataset, put_file, sync_once) -> None:
        put_file("a.jpg")
        put_file("b.jpg")
        done = sync_once(dry_run=True)
        assert done["counts"]["listed"] == 2 and done["counts"]["registered"] == 2
        assert items(api, dataset) == []
        again = sync_once()
        assert again["counts"]["registered"] == 2, "a dry run must not record keys"


class TestGrouping:
    def test_folder_makes_one_multi_slot_item_per_folder(
        self, api, dataset, put_file, sync_once
    ) -> None:
        for key in ("cases/c1/a.jpg", "cases/c1/b.jpg", "cases/c2/a.jpg", "cases/c1/x/z.jpg"):
            put_file(key)
        done = sync_once(group="folder", prefix="cases/")
        assert done["state"] == "complete", done
        got = {
            (i["path"], i["name"]): sorted(s["slot_name"] for s in i["slots"])
            for i in items(api, dataset)
        }
        assert got == {
            ("/", "c1"): ["a.jpg", "b.jpg"],
            ("/", "c2"): ["a.jpg"],
            ("/c1", "x"): ["z.jpg"],
        }

    def test_dicom_series_one_item_per_series_from_headers(
        self, api, dataset, bucket: Path, sync_once
    ) -> None:
        from pydicom.data import get_testdata_files

        series = get_testdata_files("dicomdirtests/77654033/CT2/*")
        assert len(series) == 4
        for f in series:  # no extensions: the headers tell
            (bucket / "study").mkdir(exist_ok=True)
            (bucket / "study" / os.path.basename(f)).write_bytes(Path(f).read_bytes())
        from pydicom.data import get_testdata_file

        (bucket / "study" / "other").write_bytes(
            Path(get_testdata_file("MR_small.dcm")).read_bytes()
        )
        done = sync_once(group="dicom-series")
        assert done["state"] == "complete", done
        got = sorted(len(i["slots"][0].get("sections") or [None]) for i in items(api, dataset))
        listed = items(api, dataset)
        assert len(listed) == 2, listed
        assert done["counts"]["registered"] == 2 and done["counts"]["listed"] == 5
        assert {i["name"] for i in listed} == {
            "1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.2",
            "1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457",
        }
        assert got


class TestResync:
    def test_new_changed_missing_restored_exact(
        self, api, dataset, bucket: Path, put_file, sync_once
    ) -> None:
        for i in range(10):
            put_file(f"k{i:02d}.jpg")
        first = sync_once()
        assert first["counts"]["registered"] == 10
        put_file("k10.jpg")
        put_file("k11.jpg")
        (bucket / "k03.jpg").write_bytes(jpeg_bytes(80, 60))  # overwritten: another size
        (bucket / "k05.jpg").unlink()
        (bucket / "k07.jpg").unlink()
        second = sync_once()
        c = second["counts"]
        assert (c["listed"], c["registered"], c["changed"], c["missing"], c["unchanged"]) == (
            10,
            2,
            1,
            2,
            7,
        ), c
        missing = items(api, dataset, source_statuses="missing")
        assert sorted(i["name"] for i in missing) == ["k05.jpg", "k07.jpg"]
        assert all(i["source_status"] == "missing" for i in missing)
        assert len(items(api, dataset)) == 12, "a missing item stays, with its annotations"
        put_file("k05.jpg")
        third = sync_once()
        assert third["counts"]["restored"] == 1 and third["counts"]["registered"] == 0
        assert [i["name"] for i in items(api, dataset, source_statuses="missing")] == ["k07.jpg"]

    def test_archive_on_missing(self, api, dataset, bucket, put_file, sync_once) -> None:
        put_file("a.jpg")
        put_file("b.jpg")
        sync_once()
        (bucket / "a.jpg").unlink()
        done = sync_once(on_missing="archive")
        assert done["counts"]["missing"] == 1
        archived = items(api, dataset, statuses="archived")
        assert [i["name"] for i in archived] == ["a.jpg"]

    def test_ignore_on_missing_leaves_items(self, api, dataset, bucket, put_file, sync_once):
        put_file("a.jpg")
        sync_once()
        (bucket / "a.jpg").unlink()
        done = sync_once(on_missing="ignore")
        assert done["counts"]["missing"] == 1
        assert items(api, dataset, source_statuses="missing") == []

    def test_two_syncs_of_one_prefix_make_one_item_per_key(
        self, api, dataset, put_file, start_sync
    ) -> None:
        from tests.syncs.conftest import wait_for

        for i in range(30):
            put_file(f"c{i:02d}.jpg")
        a, b = start_sync(), start_sync()
        done = [wait_for(api, a["id"]), wait_for(api, b["id"])]
        assert all(d["state"] == "complete" for d in done), done
        assert len(items(api, dataset)) == 30
        assert sum(d["counts"]["registered"] for d in done) == 30
        assert all(d["counts"]["blocked"] == 0 for d in done), done


class TestGroupGainsFiles:
    """A folder or series registered earlier that gains a file: blocked, naming the file
    (decision 0035); the item is left as it was, and the next re-sync reports nothing new."""

    def test_folder_item_gaining_a_file_is_blocked_naming_it(
        self, api, dataset, put_file, sync_once
    ) -> None:
        put_file("cases/c1/a.jpg")
        put_file("cases/c1/b.jpg")
        first = sync_once(group="folder", prefix="cases/")
        assert first["counts"]["registered"] == 1, first
        put_file("cases/c1/c.jpg")
        put_file("cases/c2/a.jpg")  # a new folder is registered as usual
        second = sync_once(group="folder", prefix="cases/")
        c = second["counts"]
        assert (c["registered"], c["blocked"], c["unchanged"]) == (1, 1, 2), c
        [entry] = second["blocked"]
        assert entry["reason"] == "GROUP_REGISTERED"
        assert entry["storage_key"] == "cases/c1/c.jpg"
        assert (entry["name"], entry["path"]) == ("c1", "/")
        assert "'cases/c1/c.jpg' is new in the folder of item 'c1'" in entry["message"]
        assert "2 files" in entry["message"]
        got = {i["name"]: sorted(s["slot_name"] for s in i["slots"]) for i in items(api, dataset)}
        assert got == {"c1": ["a.jpg", "b.jpg"], "c2": ["a.jpg"]}
        third = sync_once(group="folder", prefix="cases/")
        assert third["counts"]["blocked"] == 0 and third["counts"]["unchanged"] == 4, third

    def test_series_gaining_a_slice_is_blocked_naming_it(
        self, api, dataset, bucket: Path, sync_once
    ) -> None:
        from pydicom.data import get_testdata_files

        series = sorted(get_testdata_files("dicomdirtests/77654033/CT2/*"))
        (bucket / "study").mkdir()
        for f in series[:3]:
            (bucket / "study" / os.path.basename(f)).write_bytes(Path(f).read_bytes())
        first = sync_once(group="dicom-series")
        assert first["counts"]["registered"] == 1, first
        late = series[3]
        (bucket / "study" / os.path.basename(late)).write_bytes(Path(late).read_bytes())
        second = sync_once(group="dicom-series")
        assert second["counts"]["blocked"] == 1 and second["counts"]["registered"] == 0, second
        [entry] = second["blocked"]
        assert entry["reason"] == "GROUP_REGISTERED"
        assert entry["storage_key"] == f"study/{os.path.basename(late)}"
        assert "new in the series of item" in entry["message"] and "3 files" in entry["message"]
        [item] = items(api, dataset)
        assert item["slots"][0]["metadata"]["series_files"] == 3, item  # as registered

    def test_a_folder_item_registered_before_is_adopted_not_blocked(
        self, api, dataset, put_file, sync_once
    ) -> None:
        for name in ("a.jpg", "b.jpg"):
            put_file(f"cases/c1/{name}")
        slots = [
            {"slot_name": n, "storage_key": f"cases/c1/{n}", "file_name": n}
            for n in ("a.jpg", "b.jpg")
        ]
        body = {
            "items": [{"name": "c1", "path": "/", "slots": slots}],
            "dataset_slug": dataset["slug"],
            "storage_slug": "media",
        }
        r = api.post(REGISTER, json=body)
        assert r.status_code == 200 and not r.json()["blocked_items"], r.text
        done = sync_once(group="folder", prefix="cases/")
        c = done["counts"]
        assert (c["registered"], c["blocked"], c["unchanged"]) == (0, 0, 1), done
        # the keys are the sync's now: a later file is told apart from the registered ones
        put_file("cases/c1/c.jpg")
        later = sync_once(group="folder", prefix="cases/")
        assert [b["storage_key"] for b in later["blocked"]] == ["cases/c1/c.jpg"], later

    def test_items_registered_before_are_adopted_among_new_ones(
        self, api, dataset, put_file, sync_once
    ) -> None:
        # the sync does not look names up before it writes (decision 0042): the write skips
        # the taken ones and they are adopted, the rest of the page registered beside them
        for name in ("a.jpg", "b.jpg", "c.jpg"):
            put_file(f"photos/{name}")
        body = {
            "items": [{"name": "b.jpg", "path": "/", "storage_key": "photos/b.jpg"}],
            "dataset_slug": dataset["slug"],
            "storage_slug": "media",
        }
        r = api.post(REGISTER, json=body)
        assert r.status_code == 200 and not r.json()["blocked_items"], r.text
        before = {i["name"]: i["id"] for i in items(api, dataset)}
        done = sync_once(prefix="photos/")
        c = done["counts"]
        assert (c["registered"], c["unchanged"], c["blocked"]) == (2, 1, 0), done
        after = {i["name"]: i["id"] for i in items(api, dataset)}
        assert sorted(after) == ["a.jpg", "b.jpg", "c.jpg"] and after["b.jpg"] == before["b.jpg"]
        put_file("photos/b.jpg", jpeg_bytes(80, 60))  # the adopted key is the sync's: a change
        again = sync_once(prefix="photos/")
        assert again["counts"]["changed"] == 1 and again["counts"]["registered"] == 0, again
