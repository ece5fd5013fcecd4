"""A slice's original values (``.../slices/{n}/values``) and the server-windowed PNG, served by
the real app from processed items: pydicom's CT slice, a three-file series made from it
(registered out of order), nibabel's anatomical volume; on local storage and on S3 (moto)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import numpy as np
import pydicom
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pydicom.pixels.processing import apply_modality_lut

from moorage.context import AppContext
from moorage.errors import Conflict
from moorage.items.slices import locate
from moorage.media.windowing import nifti_values, windowed
from moorage.models import Slot
from tests.conftest import make_team
from tests.helpers import REGISTER, jpeg_bytes, make_storage
from tests.items.test_hls_serving import ITEMS, run_jobs
from tests.media.conftest import NIBABEL_DATA, PYDICOM_FILES
from tests.storage.conftest import moto_client, moto_endpoint  # noqa: F401 (the fixture)

CT = PYDICOM_FILES / "CT_small.dcm"


def _hu() -> np.ndarray:
    ds = pydicom.dcmread(CT)
    return apply_modality_lut(ds.pixel_array, ds)


def _values(r) -> np.ndarray:
    assert r.status_code == 200, r.text
    dtype = {"int16": "<i2", "float32": "<f4"}[r.headers["x-slice-dtype"]]
    shape = int(r.headers["x-slice-height"]), int(r.headers["x-slice-width"])
    return np.frombuffer(r.content, dtype).reshape(shape).astype(np.float64)


def _series_file(path: Path, z: float, offset: int) -> None:
    """CT_small moved to ``z`` mm along its normal, its stored values raised by ``offset``."""
    ds = pydicom.dcmread(CT)
    ds.ImagePositionPatient = [ds.ImagePositionPatient[0], ds.ImagePositionPatient[1], z]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.InstanceNumber = int(z)
    ds.PixelData = (ds.pixel_array + offset).astype(ds.pixel_array.dtype).tobytes()
    ds.save_as(path)


def _register(api: TestClient, items: list[dict], storage: str = "media") -> list[dict]:
    body = {"dataset_slug": "darwin-py", "storage_slug": storage, "items": items}
    r = api.post(REGISTER, json=body)
    assert r.status_code == 200 and r.json()["blocked_items"] == [], r.text
    return r.json()["items"]


@pytest.fixture
def scans(api: TestClient, ctx: AppContext, dataset, bucket: Path, put_file) -> dict[str, dict]:
    make_storage(api)
    put_file("ct.dcm", dicom="CT_small.dcm")
    put_file("brain.nii", (NIBABEL_DATA / "anatomical.nii").read_bytes())
    put_file("photo.jpg", jpeg_bytes(64, 48))
    (bucket / "series").mkdir()
    for z, offset in ((30.0, 300), (10.0, 100), (20.0, 200)):
        _series_file(bucket / f"series/{int(z)}.dcm", z, offset)
    series = [  # sent in z order 30, 10, 20: the slices follow z
        {"slot_name": "0", "storage_key": f"series/{z}.dcm", "file_name": f"{z}.dcm"}
        for z in (30, 10, 20)
    ]
    items = _register(
        api,
        [
            {"name": "ct.dcm", "storage_key": "ct.dcm"},
            {"name": "brain.nii", "storage_key": "brain.nii"},
            {"name": "photo.jpg", "storage_key": "photo.jpg"},
            {"name": "series", "slots": series},
        ],
    )
    assert set(run_jobs(ctx)) == {"done"}
    return {i["name"]: api.get(f"{ITEMS}/{i['id']}").json() for i in items}


def _slice_url(item: dict, number: int, what: str = "values", slot: str = "0") -> str:
    return f"{ITEMS}/{item['id']}/slots/{slot}/slices/{number}/{what}"


class TestValues:
    def test_ct_values_are_hounsfield_units(self, api: TestClient, scans) -> None:
        r = api.get(_slice_url(scans["ct.dcm"], 1))
        assert r.headers["x-slice-dtype"] == "int16"
        assert r.headers["content-encoding"] == "gzip"  # httpx asks for it and undoes it
        assert r.headers["x-value-unit"] == "HU"
        assert float(r.headers["x-value-min"]) == -896.0
        assert "x-window-center" not in r.headers  # CT_small carries no window
        np.testing.assert_array_equal(_values(r), _hu())

    def test_uncompressed_when_not_asked_for_gzip(self, api: TestClient, scans) -> None:
        r = api.get(_slice_url(scans["ct.dcm"], 1), headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in r.headers
        assert len(r.content) == 128 * 128 * 2

    def test_a_series_slice_is_read_from_its_own_file(self, api: TestClient, scans) -> None:
        for number, offset in ((1, 100), (2, 200), (3, 300)):
            values = _values(api.get(_slice_url(scans["series"], number)))
            np.testing.assert_array_equal(values, _hu() + offset)

    def test_nifti_slice_as_the_media_layer_reads_it(
        self, api: TestClient, scans, bucket: Path
    ) -> None:
        slot = scans["brain.nii"]["slots"][0]
        view = slot["metadata"]["views"][0]
        values = _values(api.get(_slice_url(scans["brain.nii"], 3)))
        expected = nifti_values(bucket / "brain.nii", "RAS".index(view["axis"]), 2).values
        np.testing.assert_array_equal(values, expected)
        assert values.shape == (view["height"], view["width"])

    def test_windowed_png(self, api: TestClient, scans) -> None:
        r = api.get(
            _slice_url(scans["ct.dcm"], 1, "windowed.png"), params={"center": -600, "width": 1500}
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/png"
        png = np.asarray(Image.open(io.BytesIO(r.content)))
        np.testing.assert_array_equal(png, windowed(_hu(), -600, 1500))


class TestAccess:
    def test_no_key_is_401_and_another_team_404(
        self, api: TestClient, client: TestClient, ctx: AppContext, scans
    ) -> None:
        url = _slice_url(scans["ct.dcm"], 1)
        other = make_team(ctx, "rivals")
        assert client.get(url, headers={"Authorization": ""}).status_code == 401
        assert client.get(url, headers=other.headers).status_code == 404
        theirs = url.replace("/teams/acme/", "/teams/rivals/")
        assert client.get(theirs, headers=other.headers).status_code == 404
        png = _slice_url(scans["ct.dcm"], 1, "windowed.png") + "?center=40&width=400"
        assert client.get(png, headers={"Authorization": ""}).status_code == 401
        assert client.get(png, headers=other.headers).status_code == 404


class TestHostileInput:
    @pytest.mark.parametrize(
        ("number", "query", "status", "field"),
        [
            ("0", "", 422, "slice"),
            ("-1", "", 422, "slice"),
            ("abc", "", 422, "slice"),
            ("99999999999", "", 422, "slice"),
            ("2", "", 404, "slice"),
            ("1", "?center=nan&width=400", 422, "center"),
            ("1", "?center=40&width=inf", 422, "width"),
            ("1", "?center=40&width=0.5", 422, "width"),
            ("1", "?center=1e300&width=400", 422, "center"),
            ("1", "?center=abc&width=400", 422, "center"),
            ("1", "?width=400", 422, "center"),
        ],
    )
    def test_bad_slice_center_and_width_are_named(
        self, api: TestClient, scans, number: str, query: str, status: int, field: str
    ) -> None:
        what = "windowed.png" if query else "values"
        r = api.get(
            _slice_url(scans["ct.dcm"], 1, what).replace("/slices/1/", f"/slices/{number}/") + query
        )
        assert r.status_code == status, r.text
        assert r.json()["error"]["field"] == field

    def test_non_medical_and_unknown_slots(self, api: TestClient, scans) -> None:
        r = api.get(_slice_url(scans["photo.jpg"], 1))
        assert r.status_code == 422 and r.json()["error"]["field"] == "slot_name", r.text
        r = api.get(_slice_url(scans["ct.dcm"], 1, slot="nope"))
        assert r.status_code == 404 and r.json()["error"]["field"] == "slot_name"
        r = api.get(_slice_url({"id": str(uuid.uuid4())}, 1))
        assert r.status_code == 404 and r.json()["error"]["field"] == "item_id"
        r = api.get(_slice_url({"id": "../../etc"}, 1))
        assert r.status_code == 404

    def test_a_file_replaced_by_garbage_is_422_naming_the_slot(
        self, api: TestClient, scans, bucket: Path
    ) -> None:
        (bucket / "ct.dcm").write_bytes(b"\x00" * 1000)
        r = api.get(_slice_url(scans["ct.dcm"], 1))
        assert r.status_code == 422 and r.json()["error"]["field"] == "slot_name", r.text
        (bucket / "ct.dcm").unlink()
        assert api.get(_slice_url(scans["ct.dcm"], 1)).status_code == 404


class TestS3OnMoto:
    def test_values_of_a_file_in_s3(
        self,
        api: TestClient,
        ctx: AppContext,
        dataset,
        moto_endpoint: str,  # noqa: F811
    ) -> None:
        name = f"slices-{uuid.uuid4().hex[:10]}"
        s3 = moto_client(moto_endpoint)
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="scans/ct.dcm", Body=CT.read_bytes())
        r = api.post(
            "/api/teams/acme/storage",
            json={
                "name": "s3",
                "slug": "s3",
                "provider": "minio",
                "bucket": name,
                "endpoint_url": moto_endpoint,
                "credentials": {"access_key_id": "test", "secret_access_key": "test"},
                "options": {"timeout": 5, "connect_timeout": 2, "max_retries": 1},
            },
        )
        assert r.status_code == 200, r.text
        (item,) = _register(api, [{"name": "ct.dcm", "storage_key": "scans/ct.dcm"}], "s3")
        assert run_jobs(ctx) == ["done"]
        np.testing.assert_array_equal(_values(api.get(_slice_url(item, 1))), _hu())


class TestLocate:
    """Which file holds a slice, from the slot alone (no storage, no database)."""

    def _slot(self, kind: str, total: int, meta: dict, files: list | None = None) -> Slot:
        return Slot(
            slot_name="0", kind=kind, type="dicom", file_name="a.dcm", storage_key="k/a.dcm",
            meta=meta, total_sections=total, source_files=files,
        )  # fmt: skip

    def test_a_series_follows_the_workers_file_names(self) -> None:
        files = [{"storage_key": f"s/{n}.dcm", "file_name": f"{n}.dcm"} for n in "abc"]
        series = [
            {"file": "00002-c.dcm", "frames": 1, "first_section": 1},
            {"file": "00000-a.dcm", "frames": 2, "first_section": 2},
        ]
        slot = self._slot("dicom", 3, {"series": series}, files)
        assert (locate(slot, 1).storage_key, locate(slot, 1).frame) == ("s/c.dcm", 0)
        assert (locate(slot, 3).storage_key, locate(slot, 3).frame) == ("s/a.dcm", 1)

    def test_an_order_not_known_is_409_naming_the_slice(self) -> None:
        files = [{"storage_key": f"s/{n}.dcm", "file_name": f"{n}.dcm"} for n in "ab"]
        for meta in ({}, {"series": [{"file": "b.dcm", "frames": 2, "first_section": 1}]},
                     {"series": [{"file": "00007-x.dcm", "frames": 2, "first_section": 1}]},
                     {"series": "nonsense"}):  # fmt: skip
            with pytest.raises(Conflict) as caught:
                locate(self._slot("dicom", 2, meta, files), 1)
            assert caught.value.field == "slice"
        with pytest.raises(Conflict):
            locate(
                self._slot("nifti", 2, {"views": [{"axis": "Q", "first_section": 1, "count": 2}]}),
                1,
            )

    def test_nifti_views_give_axis_and_index(self) -> None:
        views = [
            {"axis": "S", "first_section": 1, "count": 10},
            {"axis": "A", "first_section": 11, "count": 5},
        ]
        source = locate(self._slot("nifti", 15, {"views": views}), 13)
        assert (source.axis, source.index) == (1, 2)
