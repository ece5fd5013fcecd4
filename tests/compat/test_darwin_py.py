"""The real darwin-py client (from PyPI) against a live moorage over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.conftest import LiveServer, make_team
from tests.helpers import jpeg_bytes


@pytest.fixture
def darwin(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bucket: Path
) -> tuple:
    monkeypatch.setenv("DARWIN_BASE_URL", live_server.url)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DARWIN_RETRY_MAX_ATTEMPTS", "1")
    team = make_team(live_server.ctx, "acme")
    headers = {**team.headers, "Content-Type": "application/json"}
    requests.post(
        f"{live_server.url}/api/datasets", json={"name": "Darwin Py"}, headers=headers, timeout=10
    )
    requests.post(
        f"{live_server.url}/api/teams/acme/storage",
        headers=headers,
        timeout=10,
        json={"name": "My Bucket", "slug": "my-bucket", "provider": "local", "bucket": "media"},
    )
    from darwin.client import Client

    return Client.from_api_key(team.api_key), team, live_server


class TestDarwinPy:
    def test_register_and_fetch(self, darwin, bucket, put_file) -> None:
        client, _team, _server = darwin
        put_file("images/car.jpg", jpeg_bytes())
        put_file("videos/seals.mp4", b"\x00\x00\x00\x18ftypmp42")
        put_file("ct/slice1.dcm", dicom="CT_small.dcm")
        put_file("ct/slice2.dcm", dicom="MR_small.dcm")

        dataset = client.get_remote_dataset("darwin-py")
        assert dataset.slug == "darwin-py"
        storage = client.get_external_storage(name="My Bucket")
        assert storage.provider == "local" and storage.readonly is False

        single = dataset.register(storage, ["images/car.jpg", "videos/seals.mp4"], fps=5)
        assert len(single["registered"]) == 2, single
        assert single["blocked"] == []
        multi = dataset.register(
            storage, {"scan": ["ct/slice1.dcm", "ct/slice2.dcm"]}, multi_slotted=True
        )
        assert len(multi["registered"]) == 1, multi

        again = dataset.register(storage, ["images/car.jpg"])
        assert again["blocked"] == ["Item car.jpg was blocked for the reason: ALREADY_EXISTS"]

        files = list(dataset.fetch_remote_files())
        assert sorted(f.filename for f in files) == ["car.jpg", "scan", "seals.mp4"]
        scan = next(f for f in files if f.filename == "scan")
        assert [s["slot_name"] for s in scan.slots] == ["slice1.dcm", "slice2.dcm"]
        video = next(f for f in files if f.filename == "seals.mp4")
        assert video.slots[0]["fps"] == 5

        filtered = list(dataset.fetch_remote_files(filters={"item_names": ["car.jpg"]}))
        assert [f.filename for f in filtered] == ["car.jpg"]

    def test_missing_key_is_reported_by_the_client(self, darwin, bucket) -> None:
        client, _team, _server = darwin
        dataset = client.get_remote_dataset("darwin-py")
        storage = client.get_external_storage(name="My Bucket")
        result = dataset.register(storage, ["nowhere/gone.jpg"])
        assert result["blocked"] == [
            "Item gone.jpg was blocked for the reason: STORAGE_KEY_NOT_FOUND"
        ]

    def test_create_and_list_datasets(self, darwin) -> None:
        client, _team, _server = darwin
        created = client.create_dataset("Road Signs")
        assert created.slug == "road-signs"
        assert {d.slug for d in client.list_remote_datasets()} == {"darwin-py", "road-signs"}
        from darwin.exceptions import NameTaken

        with pytest.raises(NameTaken):
            client.create_dataset("Road Signs")


SEED_SCRIPT = """
import requests
api_key = "{key}"
team_slug = "acme"
dataset_slug = "darwin-py"
storage_name = "my-bucket"
headers = {{"Content-Type": "application/json", "Accept": "application/json",
           "Authorization": f"ApiKey {{api_key}}"}}
payload = {payload}
response = requests.post(
  f"{url}/api/v2/teams/{{team_slug}}/items/register_existing",
  headers=headers,
  json=payload
)
body = response.json()
if response.status_code != 200:
    print("request failed", response.text)
elif 'blocked_items' in body and len(body['blocked_items']) > 0:
    print("failed to register items:")
else:
    print("success")
"""


def test_seed_script_runs_unchanged(darwin, bucket, put_file, tmp_path) -> None:
    """The seed's first script, with only the key, slugs and host changed, prints success."""
    import subprocess
    import sys

    _client, team, server = darwin
    put_file("car_folder/cars.jpg")
    payload = (
        '{"items": [{"path": "/", "slots": [{"as_frames": "false", "slot_name": "1", '
        '"storage_key": "car_folder/cars.jpg", "file_name": "cars.jpg"}], "name": "cars.jpg"}], '
        '"dataset_slug": dataset_slug, "storage_slug": storage_name}'
    )
    script = tmp_path / "seed.py"
    script.write_text(SEED_SCRIPT.format(key=team.api_key, payload=payload, url=server.url))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "success", out.stdout + out.stderr
