"""Originals read from a storage: a local folder and moto's S3 server, written back or to --out.

``--provider/--bucket`` (a bucket moorage does not know, credentials from the environment) runs
in this process; ``--storage`` (moorage's own settings and credentials) runs as the real
command against a data dir made with ``moorage admin``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest

from moorage.prepare import MARKER_NAME
from moorage.prepare.command import Options, main
from tests.prepare.conftest import write_photo, write_tree
from tests.storage.conftest import S3_BUCKET, moto_endpoint  # noqa: F401 - a fixture
from tests.test_cli import env, run_cli  # noqa: F401 - a fixture

D = "moorage-derivatives"


def s3(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def keys_under(client, prefix: str) -> set[str]:  # type: ignore[no-untyped-def]
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET, Prefix=prefix)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


@pytest.fixture
def bucket_prefix(moto_endpoint: str) -> str:  # noqa: F811
    """A fresh prefix in moto's bucket holding a tree of originals."""
    prefix = f"raw-{uuid.uuid4().hex[:8]}"
    client = s3(moto_endpoint)
    for key, seed in (("a.jpg", 1), ("sub/b.png", 2), ("sub/deeper/c.jpg", 3)):
        body = write_photo(Path(f"/tmp/{uuid.uuid4().hex}.png"), seed)
        client.put_object(Bucket=S3_BUCKET, Key=f"{prefix}/{key}", Body=body.read_bytes())
        body.unlink()
    client.put_object(Bucket=S3_BUCKET, Key=f"{prefix}/sub/notes.txt", Body=b"not media")
    return prefix


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


def payload_of(capsys: pytest.CaptureFixture[str]) -> tuple[dict, str]:
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


class TestLocalFolderStorage:
    def test_derivatives_go_back_into_the_folder(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = write_tree(tmp_path / "bucket")
        options = Options(provider="local", bucket=str(root), prefix="sub", quiet=True, jobs=1)
        assert main(options) == 0
        payload, err = payload_of(capsys)
        keys = [i["slots"][0]["storage_key"] for i in payload["items"]]
        assert keys == ["sub/c.jpg", "sub/deeper/b.png"]
        assert [i["path"] for i in payload["items"]] == ["/", "/deeper"]
        assert (root / D / "sub" / "deeper" / "b.png" / "thumbnail.jpg").is_file()
        assert "2 made, 0 already present), 1 not media" in err
        # the derivatives are never taken for originals
        assert main(Options(provider="local", bucket=str(root), quiet=True, jobs=1)) == 0
        payload, err = payload_of(capsys)
        assert len(payload["items"]) == 3
        assert "1 made, 2 already present" in err


class TestS3FromTheEnvironment:
    def test_written_back_under_the_derivatives_prefix(
        self,
        moto_endpoint: str,  # noqa: F811
        bucket_prefix: str,
        aws_env: None,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        options = Options(
            provider="aws",
            bucket=S3_BUCKET,
            endpoint_url=moto_endpoint,
            prefix=bucket_prefix,
            dataset="cars",
            storage="raw",
            quiet=True,
            jobs=1,
        )
        assert main(options) == 0
        payload, err = payload_of(capsys)
        assert (payload["dataset_slug"], payload["storage_slug"]) == ("cars", "raw")
        slot = payload["items"][2]["slots"][0]
        assert slot["storage_key"] == f"{bucket_prefix}/sub/deeper/c.jpg"
        assert payload["items"][2]["path"] == "/sub/deeper"
        written = keys_under(s3(moto_endpoint), f"{D}/{bucket_prefix}/")
        assert slot["storage_thumbnail_key"] in written
        assert f"{D}/{bucket_prefix}/sub/b.png/{MARKER_NAME}" in written
        assert "3 made" in err and "1 not media" in err
        # resumable: a second run reads the markers, makes nothing
        assert main(options) == 0
        again, err = payload_of(capsys)
        assert again["items"] == payload["items"]
        assert "0 made, 3 already present" in err

    def test_to_out_with_upload_lines(
        self,
        moto_endpoint: str,  # noqa: F811
        bucket_prefix: str,
        aws_env: None,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        out = tmp_path / "out"
        options = Options(
            provider="aws",
            bucket=S3_BUCKET,
            endpoint_url=moto_endpoint,
            prefix=bucket_prefix,
            out=out,
            quiet=True,
            jobs=1,
        )
        assert main(options) == 0
        payload, err = payload_of(capsys)
        thumb = payload["items"][0]["slots"][0]["storage_thumbnail_key"]
        assert (out / thumb).is_file()
        assert keys_under(s3(moto_endpoint), f"{D}/{bucket_prefix}/") == set()
        line = (
            f"aws s3 sync {out}/moorage-derivatives/ s3://{S3_BUCKET}/moorage-derivatives/ "
            f"--endpoint-url {moto_endpoint}"
        )
        assert line in err


class TestS3AsMoorageKnowsIt:
    def test_storage_from_the_data_dir_with_its_credentials_on_every_core(
        self,
        moto_endpoint: str,  # noqa: F811
        bucket_prefix: str,
        env: dict[str, str],  # noqa: F811
        tmp_path: Path,
    ) -> None:
        env = {**env, "MOORAGE_ALLOWED_ENDPOINTS": "127.0.0.1", "MOORAGE_DATA_DIR": str(tmp_path)}
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env.pop(k, None)  # the credentials moorage holds, not the environment's
        assert run_cli("admin", "create-team", "acme", env=env, cwd=tmp_path).returncode == 0
        made = run_cli(
            *("admin", "create-storage", "--team", "acme", "--name", "raw", "--provider", "aws"),
            *("--bucket", S3_BUCKET, "--endpoint-url", moto_endpoint, "--region", "us-east-1"),
            *("--credential", "access_key_id=test", "--credential", "secret_access_key=test"),
            "--readonly",
            env=env,
            cwd=tmp_path,
        )
        assert made.returncode == 0, made.stderr
        args = ["prepare", "--storage", "raw", "--team", "acme", "--prefix", bucket_prefix]
        done = run_cli(*args, "--jobs", "2", "--dataset", "cars", env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        payload = json.loads(done.stdout)
        assert payload["storage_slug"] == "raw"
        assert len(payload["items"]) == 3
        written = keys_under(s3(moto_endpoint), f"{D}/{bucket_prefix}/")
        assert {k for k in written if k.endswith(MARKER_NAME)} == {
            f"{D}/{bucket_prefix}/{k}/{MARKER_NAME}"
            for k in ("a.jpg", "sub/b.png", "sub/deeper/c.jpg")
        }
        # the summary line is there although stderr is not a terminal (and no bar is)
        assert "moorage prepare: 3 file(s) ready (3 made" in done.stderr
        assert "━" not in done.stderr

    def test_an_unknown_storage_or_team_exits_2_naming_the_option(
        self,
        env: dict[str, str],  # noqa: F811
        tmp_path: Path,
    ) -> None:
        env = {**env, "MOORAGE_DATA_DIR": str(tmp_path)}
        assert run_cli("admin", "create-team", "acme", env=env, cwd=tmp_path).returncode == 0
        out = run_cli("prepare", "--storage", "nope", "--team", "acme", env=env, cwd=tmp_path)
        assert out.returncode == 2
        assert "error: --storage: team 'acme' has no storage 'nope'" in out.stderr
        out = run_cli("prepare", "--storage", "nope", "--team", "zzz", env=env, cwd=tmp_path)
        assert out.returncode == 2
        assert "error: --team:" in out.stderr
        out = run_cli("prepare", "--storage", "nope", env=env, cwd=tmp_path)
        assert (out.returncode, out.stderr.split(":")[:2]) == (2, ["error", " --team"])


class TestStorageFaults:
    def test_a_bucket_that_does_not_exist_exits_1_with_the_reason(
        self,
        moto_endpoint: str,  # noqa: F811
        aws_env: None,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        options = Options(
            provider="aws", bucket="no-such-bucket", endpoint_url=moto_endpoint, quiet=True, jobs=1
        )
        assert main(options) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: storage: STORAGE_BUCKET_NOT_FOUND: "), err

    def test_a_local_folder_that_does_not_exist(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        options = Options(provider="local", bucket=str(tmp_path / "nope"), quiet=True, jobs=1)
        assert main(options) == 1
        assert "error: storage: STORAGE_BUCKET_NOT_FOUND: " in capsys.readouterr().err
