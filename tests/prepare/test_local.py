"""Local files and folders into a local ``out`` folder: payload, layout, resuming, the pool."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from moorage.prepare import MARKER_NAME, Report, prepare
from moorage.prepare.payload import DARWIN_VIDEO_FIELDS
from moorage.prepare.sources import local_tasks
from moorage.prepare.work import Plan
from moorage.registration.checks import check_readonly_fields
from moorage.registration.normalize import normalize_item
from tests.prepare.conftest import (
    MEDIA_NAMES,
    referenced_keys,
    slot_of,
    write_photo,
    write_tree,
)

D = "moorage-derivatives/darwin/batch1"


@pytest.fixture(scope="module")
def prepared(
    originals: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Report, Path]:
    out = tmp_path_factory.mktemp("out")
    return prepare(originals, out, key_prefix="darwin/batch1/", fps=5), out


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


class TestPayload:
    def test_one_item_per_media_file_in_order(self, prepared: tuple[Report, Path]) -> None:
        report, _ = prepared
        assert [i["name"] for i in report.items] == MEDIA_NAMES
        assert all(i["path"] == "/" and len(i["slots"]) == 1 for i in report.items)
        assert (report.made, report.present) == (7, 0)
        json.dumps(report.items)

    def test_a_named_file_that_is_not_media_is_an_error(
        self, prepared: tuple[Report, Path]
    ) -> None:
        report, _ = prepared
        (error,) = report.errors
        assert error["file"].endswith("notes.txt")
        assert error["stage"] == "probe"
        assert report.unsupported == []

    def test_image_fields(self, prepared: tuple[Report, Path]) -> None:
        slot = slot_of(prepared[0].items, "cars.jpg")
        assert slot["type"] == "image"
        assert slot["slot_name"] == "0"
        assert slot["storage_key"] == "darwin/batch1/cars.jpg"
        assert slot["storage_thumbnail_key"] == f"{D}/cars.jpg/thumbnail.jpg"
        assert (slot["width"], slot["height"]) == (400, 300)
        assert "sections" not in slot

    def test_same_stem_gets_its_own_folder(self, prepared: tuple[Report, Path]) -> None:
        slot = slot_of(prepared[0].items, "cars.png")
        assert slot["storage_thumbnail_key"] == f"{D}/cars.png/thumbnail.jpg"

    def test_rendered_image_has_a_section(self, prepared: tuple[Report, Path]) -> None:
        slot = slot_of(prepared[0].items, "deep.tif")
        assert slot["sections"] == [
            {
                "section_index": 1,
                "width": 120,
                "height": 80,
                "storage_hq_key": f"{D}/deep.tif/sections/high/000000001.png",
                "storage_lq_key": f"{D}/deep.tif/sections/low/000000001.jpg",
            }
        ]

    def test_video_fields(self, prepared: tuple[Report, Path]) -> None:
        slot = slot_of(prepared[0].items, "clip.mp4")
        assert slot["type"] == "video"
        assert slot["fps"] == 5
        assert slot["as_frames"] is False
        assert len(slot["sections"]) == 5  # 1 s at 25 fps sampled at 5 fps
        assert slot["sections"][4]["storage_hq_key"] == (
            f"{D}/clip.mp4/sections/high/000000005.jpg"
        )
        assert slot["metadata"]["native_fps"] == 25
        manifest = f"{D}/clip.mp4/frames_manifest.txt"
        assert slot["metadata"]["frames_manifests"][0]["storage_key"] == manifest

    def test_darwin_readonly_video_fields(self, prepared: tuple[Report, Path]) -> None:
        slot = slot_of(prepared[0].items, "clip.mp4")
        assert set(DARWIN_VIDEO_FIELDS) <= set(slot)
        assert (slot["native_fps"], slot["total_frames"], slot["visible_frames"]) == (25, 25, 5)
        assert slot["storage_frames_manifest_key"] == f"{D}/clip.mp4/frames_manifest.txt"
        # moorage makes no HLS segments, and numbers frames from 1, not darwin-py's 0
        assert "hls_segments" not in slot
        assert "storage_sections_key_prefix" not in slot
        images = [s for s in prepared[0].items if s["slots"][0]["type"] != "video"]
        assert all("native_fps" not in i["slots"][0] for i in images)

    def test_pdf_dicom_and_nifti(self, prepared: tuple[Report, Path]) -> None:
        items = prepared[0].items
        assert len(slot_of(items, "doc.pdf")["sections"]) == 2
        dicom = slot_of(items, "scan.dcm")
        assert dicom["type"] == "dicom"
        assert dicom["metadata"]["medical"]["modality"] == "CT"
        nifti = slot_of(items, "brain.nii")
        assert nifti["type"] == "dicom"  # the contract's types: NIfTI registers as a volume
        assert len(nifti["sections"]) == 25


class TestFiles:
    def test_every_referenced_key_exists_under_out(self, prepared: tuple[Report, Path]) -> None:
        report, out = prepared
        for item in report.items:
            for key in referenced_keys(item["slots"][0]):
                assert (out / key).is_file(), key

    def test_only_derivatives_and_markers_are_written(self, prepared: tuple[Report, Path]) -> None:
        report, out = prepared
        referenced = {k for i in report.items for k in referenced_keys(i["slots"][0])}
        markers = {f"{D}/{name}/{MARKER_NAME}" for name in MEDIA_NAMES}
        assert files_under(out) == referenced | markers

    def test_the_marker_holds_the_item(self, prepared: tuple[Report, Path]) -> None:
        report, out = prepared
        marker = json.loads((out / D / "cars.jpg" / MARKER_NAME).read_text())
        assert marker["item"] == report.items[0]
        assert marker["source"]["key"] == "darwin/batch1/cars.jpg"


class TestRegistrationAcceptsIt:
    def test_readonly_checks_pass(self, prepared: tuple[Report, Path]) -> None:
        for index, raw in enumerate(prepared[0].items):
            item = normalize_item(index, raw)
            assert not item.blocked, (raw["name"], item.error, [s.error for s in item.slots])
            for slot in item.slots:
                check_readonly_fields(slot)


class TestFolders:
    def test_a_folder_is_walked_recursively_keeping_paths(self, tmp_path: Path) -> None:
        root = write_tree(tmp_path / "photos")
        report = prepare([root], tmp_path / "out", key_prefix="p")
        assert [(i["path"], i["name"]) for i in report.items] == [
            ("/", "a.jpg"),
            ("/sub", "c.jpg"),
            ("/sub/deeper", "b.png"),
        ]
        assert report.items[2]["slots"][0]["storage_key"] == "p/sub/deeper/b.png"
        # a file in a folder that is not media is counted, not an error
        assert report.errors == []
        assert [u["file"] for u in report.unsupported] == [str(root / "sub" / "readme.txt")]

    def test_out_inside_the_folder_is_not_walked(self, tmp_path: Path) -> None:
        root = write_tree(tmp_path / "photos")
        prepare([root], root / "out")
        again = prepare([root], root / "out")
        assert (again.made, again.present) == (0, 3)

    def test_a_missing_path_and_a_duplicate_key_are_errors(self, tmp_path: Path) -> None:
        write_photo(tmp_path / "x.jpg")
        (tmp_path / "two").mkdir()
        write_photo(tmp_path / "two" / "x.jpg")
        tasks = list(
            local_tasks(
                [tmp_path / "x.jpg", tmp_path / "two", tmp_path / "nope"],
                key_prefix="",
                derivatives_prefix="d",
            )
        )
        assert [t if isinstance(t, tuple) else t.key for t in tasks] == [
            "x.jpg",
            (str(tmp_path / "two" / "x.jpg"), f"same storage key 'x.jpg' as {tmp_path / 'x.jpg'}"),
            (str(tmp_path / "nope"), "no such file or folder"),
        ]


class TestResume:
    def test_a_second_run_reads_the_markers_and_rewrites_nothing(self, tmp_path: Path) -> None:
        root = write_tree(tmp_path / "photos")
        first = prepare([root], tmp_path / "out")
        stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*") if p.is_file()}
        second = prepare([root], tmp_path / "out")
        assert (second.made, second.present) == (0, 3)
        assert second.items == first.items
        assert {p: p.stat().st_mtime_ns for p in stamps} == stamps

    def test_a_folder_without_its_marker_is_made_again(self, tmp_path: Path) -> None:
        root = write_tree(tmp_path / "photos")
        out = tmp_path / "out"
        prepare([root], out)
        (out / "moorage-derivatives" / "a.jpg" / MARKER_NAME).unlink()
        (out / "moorage-derivatives" / "a.jpg" / "thumbnail.jpg").write_bytes(b"half")
        again = prepare([root], out)
        assert (again.made, again.present) == (1, 2)
        assert (out / "moorage-derivatives" / "a.jpg" / "thumbnail.jpg").read_bytes()[:2] == (
            b"\xff\xd8"
        )

    def test_a_changed_original_or_fps_is_made_again(self, tmp_path: Path) -> None:
        root = write_tree(tmp_path / "photos")
        out = tmp_path / "out"
        prepare([root], out)
        write_photo(root / "a.jpg", 9, size=(200, 100))
        again = prepare([root], out)
        assert (again.made, again.present) == (1, 2)
        assert (again.items[0]["slots"][0]["width"], again.items[0]["slots"][0]["height"]) == (
            200,
            100,
        )
        assert prepare([root], out, fps=2).made == 3


class TestPool:
    def test_two_processes_give_the_same_payload_as_one(self, tmp_path: Path) -> None:
        root = write_tree(tmp_path / "photos")
        one = prepare([root], tmp_path / "one", jobs=1)
        two = prepare([root], tmp_path / "two", jobs=2)
        assert two.items == one.items
        assert files_under(tmp_path / "one") == files_under(tmp_path / "two")


class TestOriginals:
    @pytest.mark.parametrize("mode", ["link", "copy"])
    def test_originals_are_placed_at_their_keys(self, tmp_path: Path, mode: str) -> None:
        from moorage.prepare.run import run

        root = write_tree(tmp_path / "photos")
        out = tmp_path / "storage"
        tasks = local_tasks([root], key_prefix="p", derivatives_prefix="d")
        report = run(tasks, Plan(out_dir=str(out), originals=mode), jobs=1, quiet=True)  # type: ignore[arg-type]
        for item in report.items:
            key = item["slots"][0]["storage_key"]
            original = root / key.removeprefix("p/")
            assert (out / key).read_bytes() == original.read_bytes()
            linked = os.path.samefile(out / key, original)
            assert linked is (mode == "link")
        shutil.rmtree(root)  # the copies stay (links are files of their own)
        assert (out / "p" / "a.jpg").is_file()
