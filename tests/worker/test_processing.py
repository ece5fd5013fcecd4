"""Read-write storage: registration -> job -> derivatives written back -> complete | error."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image

from moorage.context import AppContext
from moorage.models import Job, Slot
from moorage.models.base import utcnow
from moorage.worker.runtime import Runtime
from tests.helpers import REGISTER, jpeg_bytes, make_storage, make_video

ITEMS = "/api/v2/teams/acme/items"


def _register(api: TestClient, items: list, **extra) -> list[dict]:
    r = api.post(
        REGISTER,
        json={"items": items, "dataset_slug": "darwin-py", "storage_slug": "media", **extra},
    )
    assert r.status_code == 200, r.text
    assert r.json()["blocked_items"] == []
    return r.json()["items"]


def _get(api: TestClient, item_id: str) -> dict:
    return api.get(f"{ITEMS}/{item_id}").json()


def _process_image(api: TestClient, put_file, runtime: Runtime, *, prefix: str | None) -> dict:
    """One 1600x900 JPEG at ``cars/big.jpg`` registered on read-write storage and processed."""
    make_storage(api)
    if prefix is not None:
        assert (
            api.patch("/api/teams/acme/storage/media", json={"prefix": prefix}).status_code == 200
        )
    put_file("cars/big.jpg", jpeg_bytes(1600, 900))
    (item,) = _register(api, [{"name": "big.jpg", "storage_key": "cars/big.jpg"}])
    assert item["status"] == "processing"
    runtime.join()
    return _get(api, item["id"])


class TestImages:
    def test_thumbnail_written_under_the_prefix(
        self, api, dataset, bucket, put_file, runtime: Runtime
    ) -> None:
        done = _process_image(api, put_file, runtime, prefix="derived")
        assert (done["processing_status"], done["status"]) == ("complete", "new")
        slot = done["slots"][0]
        assert (slot["metadata"]["width"], slot["metadata"]["height"]) == (1600, 900)
        thumb_key = f"derived/{done['id']}/files/{slot['id']}/thumbnail.jpg"
        with Image.open(bucket / thumb_key) as thumb:
            assert thumb.size == (356, 200)
        assert api.get(slot["thumbnail_url"]).content == (bucket / thumb_key).read_bytes()
        assert slot["size_bytes"] == (bucket / "cars/big.jpg").stat().st_size

    def test_without_a_prefix_derivatives_go_under_moorage_not_the_root(
        self, api, dataset, bucket, put_file, runtime: Runtime
    ) -> None:
        done = _process_image(api, put_file, runtime, prefix=None)
        slot = done["slots"][0]
        assert sorted(p.name for p in bucket.iterdir()) == ["cars", "moorage"]
        thumb = bucket / f"moorage/{done['id']}/files/{slot['id']}/thumbnail.jpg"
        assert api.get(slot["thumbnail_url"]).content == thumb.read_bytes()

    def test_processed_items_keep_serving_their_stored_keys_after_a_prefix_change(
        self, api, dataset, bucket, put_file, runtime: Runtime
    ) -> None:
        done = _process_image(api, put_file, runtime, prefix="derived")
        assert api.patch("/api/teams/acme/storage/media", json={"prefix": ""}).status_code == 200
        slot = _get(api, done["id"])["slots"][0]
        thumb = bucket / f"derived/{done['id']}/files/{slot['id']}/thumbnail.jpg"
        assert api.get(slot["thumbnail_url"]).content == thumb.read_bytes()

    def test_undecodable_file_fails_once_into_error(
        self, api, dataset, bucket, put_file, runtime: Runtime, ctx
    ) -> None:
        make_storage(api)
        put_file("broken.jpg", b"\xff\xd8\xff\xe0 this is not really a jpeg")
        (item,) = _register(api, [{"name": "broken.jpg", "storage_key": "broken.jpg"}])
        runtime.join()
        failed = _get(api, item["id"])
        assert (failed["status"], failed["processing_status"]) == ("error", "error")
        err = failed["processing_error"]
        assert err["storage_key"] == "broken.jpg" and err["stage"] and err["message"]
        with ctx.db.session() as session:
            (job,) = session.query(Job).all()
            assert (job.status, job.attempts) == ("error", 1)

    def test_supplied_derivatives_are_used_not_regenerated(
        self, api, dataset, bucket, put_file, runtime
    ) -> None:
        make_storage(api)
        put_file("a.jpg", jpeg_bytes(64, 48))
        put_file("mine/thumb.jpg", jpeg_bytes(8, 6))
        (item,) = _register(
            api,
            [
                {
                    "name": "a.jpg",
                    "storage_key": "a.jpg",
                    "storage_thumbnail_key": "mine/thumb.jpg",
                    "width": 64,
                    "height": 48,
                }
            ],
        )
        runtime.join()
        done = _get(api, item["id"])
        assert done["processing_status"] == "complete"
        assert not (bucket / item["id"]).exists()
        assert (
            api.get(done["slots"][0]["thumbnail_url"]).content
            == (bucket / "mine/thumb.jpg").read_bytes()
        )


class TestVideo:
    def test_fps_sampling_and_frames(self, api, dataset, bucket, put_file, runtime) -> None:
        make_storage(api)
        put_file("clip.mp4", make_video(seconds=4, fps=25))
        native, five = _register(
            api,
            [
                {"name": "native.mp4", "storage_key": "clip.mp4", "fps": "native"},
                {"name": "five.mp4", "storage_key": "clip.mp4", "fps": 5},
            ],
        )
        runtime.join()
        a, b = _get(api, native["id"]), _get(api, five["id"])
        assert a["processing_status"] == b["processing_status"] == "complete"
        assert a["slots"][0]["total_sections"] == 100
        assert b["slots"][0]["total_sections"] == 20
        meta = b["slots"][0]["metadata"]
        assert round(meta["native_fps"]) == 25
        section = b["slots"][0]["sections"][0]
        assert api.get(section["hq_url"]).headers["content-type"].startswith("image/")
        assert api.get(section["lq_url"]).status_code == 200


class TestDicom:
    def test_series_in_one_slot(self, api, dataset, bucket, put_file, runtime) -> None:
        make_storage(api)
        put_file("s/b.dcm", dicom="CT_small.dcm")
        (item,) = _register(
            api,
            [
                {
                    "name": "ct",
                    "slots": [{"slot_name": "0", "storage_key": "s/b.dcm", "file_name": "b.dcm"}],
                }
            ],
        )
        runtime.join()
        done = _get(api, item["id"])
        assert done["processing_status"] == "complete", done.get("processing_error")
        slot = done["slots"][0]
        assert slot["metadata"]["width"] == 128
        assert "medical" in slot["metadata"]

    def test_series_files_are_read_from_the_slot(
        self, api, ctx: AppContext, dataset, bucket, put_file, runtime
    ) -> None:
        """A two-file series: the worker reads both from slots.source_files, which processing
        leaves as registration wrote it; the sections are the slices made."""
        make_storage(api)
        put_file("s/1.dcm", dicom="CT_small.dcm")
        put_file("s/2.dcm", dicom="CT_small.dcm")
        files = [{"storage_key": f"s/{i}.dcm", "file_name": f"{i}.dcm"} for i in (1, 2)]
        (item,) = _register(
            api, [{"name": "ct", "slots": [{"slot_name": "0", **f} for f in files]}]
        )
        runtime.join()
        done = _get(api, item["id"])
        assert done["processing_status"] == "complete", done.get("processing_error")
        slot = done["slots"][0]
        assert slot["total_sections"] == 2 and "source_files" not in slot["metadata"]
        assert [s["section_index"] for s in slot["sections"]] == [1, 2]
        assert all("hq_url" in s and "storage_key" not in s for s in slot["sections"])
        with ctx.db.session() as session:
            stored = session.get(Slot, uuid.UUID(slot["id"]))
            assert stored is not None and stored.source_files == files


class TestRecovery:
    def test_lost_messages_are_resent_by_the_reconciler(
        self, api, ctx: AppContext, dataset, bucket, put_file
    ) -> None:
        """Jobs committed while no broker took them (a crash) are found and run after a restart."""
        make_storage(api)
        put_file("a.jpg", jpeg_bytes(300, 200))
        (item,) = _register(
            api, [{"name": "a.jpg", "storage_key": "a.jpg"}]
        )  # no runtime: nothing sent
        assert _get(api, item["id"])["processing_status"] == "processing"
        rt = Runtime(ctx, broker_url=None, threads=1)
        rt.install()
        try:
            rt.start_workers(reconcile_every=3600)  # a fresh start re-sends what was queued
            rt.join()
        finally:
            rt.stop()
        assert _get(api, item["id"])["processing_status"] == "complete"

    def test_a_job_running_on_a_dead_worker_is_taken_over(
        self, api, ctx, dataset, bucket, put_file, runtime
    ) -> None:
        make_storage(api)
        put_file("a.jpg", jpeg_bytes(300, 200))
        from moorage.worker.dispatch import set_dispatcher

        set_dispatcher(None)
        (item,) = _register(api, [{"name": "a.jpg", "storage_key": "a.jpg"}])
        with ctx.db.session() as session:
            job = session.query(Job).one()
            job.status, job.updated_at = "running", utcnow() - timedelta(hours=1)
        runtime.install()
        assert runtime.reconcile() == 1
        runtime.join()
        assert _get(api, item["id"])["processing_status"] == "complete"

    def test_rerun_rewrites_the_same_keys(
        self, api, ctx, dataset, bucket: Path, put_file, runtime
    ) -> None:
        make_storage(api)
        put_file("a.jpg", jpeg_bytes(300, 200))
        (item,) = _register(api, [{"name": "a.jpg", "storage_key": "a.jpg"}])
        runtime.join()
        before = sorted(p.relative_to(bucket) for p in bucket.rglob("*") if p.is_file())
        with ctx.db.session() as session:
            job = session.query(Job).one()
            job.status = "queued"
            job_id = job.id
        runtime.send([job_id])
        runtime.join()
        after = sorted(p.relative_to(bucket) for p in bucket.rglob("*") if p.is_file())
        assert before == after
        assert _get(api, item["id"])["processing_status"] == "complete"


class TestProgress:
    def test_item_shows_job_progress_while_processing(
        self, api, ctx, dataset, bucket, put_file
    ) -> None:
        from moorage.worker.repository import job_repository

        make_storage(api)
        put_file("clip.mp4", make_video(seconds=1, fps=10))
        (item,) = _register(api, [{"name": "clip.mp4", "storage_key": "clip.mp4"}])
        with ctx.db.session() as session:
            job = session.query(Job).one()
            job_repository.set_progress(session, job.id, {"done": 40, "total": 250})
        progress = _get(api, item["id"])["processing_progress"]
        assert progress == {
            "jobs_total": 1,
            "jobs_done": 0,
            "sections_done": 40,
            "sections_total": 250,
        }


def _dicom_with(bucket: Path, key: str, *, series: int, laterality: str) -> None:
    import pydicom
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.SeriesNumber, ds.ImageLaterality = series, laterality
    (bucket / key).parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(bucket / key)


class TestDicomLayout:
    def _register_pair(self, api, bucket, **extra) -> dict:
        make_storage(api)
        _dicom_with(bucket, "m/late.dcm", series=10, laterality="R")
        _dicom_with(bucket, "m/early.dcm", series=2, laterality="L")
        (item,) = _register(
            api,
            [
                {
                    "name": "mammo",
                    "slots": [
                        {"slot_name": "late", "storage_key": "m/late.dcm", "file_name": "late.dcm"},
                        {
                            "slot_name": "early",
                            "storage_key": "m/early.dcm",
                            "file_name": "early.dcm",
                        },
                    ],
                }
            ],
            **extra,
        )
        return item

    def test_layout_follows_the_files_metadata(self, api, dataset, bucket, runtime) -> None:
        item = self._register_pair(api, bucket)
        assert item["layout"]["slots"] == ["late", "early"]
        runtime.join()
        assert _get(api, item["id"])["layout"]["slots"] == ["early", "late"]

    def test_ignore_dicom_layout_keeps_the_payload_order(
        self, api, dataset, bucket, runtime
    ) -> None:
        item = self._register_pair(api, bucket, options={"ignore_dicom_layout": True})
        runtime.join()
        assert _get(api, item["id"])["layout"]["slots"] == ["late", "early"]


class TestOtherKinds:
    """PDF pages, a NIfTI volume with orthogonal views and a video as frames, through the API."""

    def test_pdf_nifti_and_as_frames(self, api, dataset, bucket, put_file, runtime) -> None:
        import shutil

        import nibabel

        make_storage(api)
        pages = [Image.new("RGB", (600, 800), (i * 80, 40, 200)) for i in range(3)]
        (bucket / "doc.pdf").parent.mkdir(parents=True, exist_ok=True)
        pages[0].save(
            bucket / "doc.pdf", "PDF", resolution=72, save_all=True, append_images=pages[1:]
        )
        nifti = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
        shutil.copyfile(nifti, bucket / "brain.nii")
        put_file("clip.mp4", make_video(seconds=1, fps=10))
        items = _register(
            api,
            [
                {"name": "doc.pdf", "storage_key": "doc.pdf"},
                {
                    "name": "brain.nii",
                    "storage_key": "brain.nii",
                    "type": "video",
                    "extract_views": "true",
                },
                {
                    "name": "frames",
                    "slots": [
                        {
                            "slot_name": "0",
                            "storage_key": "clip.mp4",
                            "type": "video",
                            "as_frames": True,
                        }
                    ],
                },
            ],
        )
        runtime.join()
        pdf, brain, frames = (_get(api, i["id"]) for i in items)
        assert pdf["processing_status"] == "complete", pdf.get("processing_error")
        assert pdf["slots"][0]["total_sections"] == 3
        assert brain["processing_status"] == "complete", brain.get("processing_error")
        meta = brain["slots"][0]["metadata"]
        shape = nibabel.load(nifti).shape
        assert brain["slots"][0]["total_sections"] == sum(
            shape[:3]
        )  # every slice of all three planes
        assert len(meta["medical"]["affine"]) == 4
        assert frames["processing_status"] == "complete", frames.get("processing_error")
        assert frames["slots"][0]["total_sections"] == 10
