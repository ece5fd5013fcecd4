"""The same behaviour matrix on every provider, over the real wire protocols."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from moorage.storage.base import InvalidKey, ObjectNotFound
from tests.storage.conftest import Backend

ODD_NAMES = [
    "with space.jpg",
    "unicodé/漢字 ü.png",
    "plus+sign.jpg",
    "percent%20literal.jpg",
    "percent%.jpg",
    "hash#frag.jpg",
    "question?x=1.jpg",
    "MiXeD.Case.JPG",
    "semi;colon,comma&amp=eq.jpg",
    "tilde~[brackets]{braces}.jpg",
]


class TestReadWrite:
    def test_put_then_head_reports_size_etag_and_type(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        store.put(base + "a.jpg", b"\xff\xd8hello", content_type="image/jpeg")
        info = store.head(base + "a.jpg")
        assert info.key == base + "a.jpg"
        assert info.size == 7
        assert info.etag
        if backend.name != "local":  # a folder keeps no content type
            assert info.content_type == "image/jpeg"

    def test_read_range_returns_the_slice_and_stops_at_the_end(
        self, backend: Backend, base: str
    ) -> None:
        store = backend.adapter()
        store.put(base + "r.bin", b"0123456789")
        assert store.read_range(base + "r.bin", 2, 5) == b"234"
        assert store.read_range(base + "r.bin", 7, 100) == b"789"
        assert store.read_range(base + "r.bin", 10, 20) == b""
        assert store.read_range(base + "r.bin", 3, 3) == b""

    def test_open_read_streams_the_whole_object(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        payload = bytes(range(256)) * 8192  # 2 MiB: more than one chunk
        store.put(base + "big.bin", payload)
        with store.open_read(base + "big.bin") as stream:
            head = stream.read(10)
            rest = stream.read()
        assert head + rest == payload
        assert store.read_bytes(base + "big.bin") == payload

    def test_put_overwrites(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        store.put(base + "o.txt", b"one")
        store.put(base + "o.txt", b"second")
        assert store.read_bytes(base + "o.txt") == b"second"

    def test_delete_removes_and_deleting_missing_is_fine(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        store.put(base + "d.txt", b"x")
        store.delete(base + "d.txt")
        assert not store.exists(base + "d.txt")
        store.delete(base + "d.txt")


class TestMissingKey:
    def test_head_read_and_stream_raise_object_not_found(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        missing = base + "nothing-here.jpg"
        with pytest.raises(ObjectNotFound):
            store.head(missing)
        with pytest.raises(ObjectNotFound):
            store.read_range(missing, 0, 10)
        with pytest.raises(ObjectNotFound):
            store.open_read(missing)
        assert store.exists(missing) is False

    def test_keys_are_case_sensitive(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        store.put(base + "Case.jpg", b"x")
        assert store.exists(base + "Case.jpg")
        if backend.name != "local":  # a case-insensitive disk would differ; clouds never do
            assert not store.exists(base + "case.jpg")

    @pytest.mark.parametrize("bad", ["", "/abs.jpg", "a/../b.jpg", "nul\x00.jpg"])
    def test_unusable_keys_raise_invalid_key(self, backend: Backend, bad: str) -> None:
        with pytest.raises(InvalidKey):
            backend.adapter().head(bad if bad in ("", "/abs.jpg") else backend.key(bad))


class TestListing:
    def test_pages_follow_the_cursor_in_key_order(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        keys = [f"{base}p/{i:02d}.txt" for i in range(7)]
        for key in keys:
            store.put(key, b"x")
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            page = store.list_page(base + "p/", cursor=cursor, limit=3)
            assert len(page.objects) <= 3
            seen.extend(o.key for o in page.objects)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == keys
        assert all(o.size == 1 for o in store.list_page(base + "p/").objects)

    def test_prefix_is_a_string_prefix_not_a_folder(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        for rel in ("img1.jpg", "img10/a.jpg", "img2.jpg", "im.jpg", "img0/deep/b.jpg"):
            store.put(base + rel, b"x")
        listed = [o.key for o in store.list_page(base + "img1").objects]
        assert listed == [base + "img1.jpg", base + "img10/a.jpg"]

    def test_prefixes_ending_in_any_character(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        ends = "0a!-~.+%#?é漢 A_"
        keys = sorted({base + f"x{c}{tail}" for c in ends for tail in (".jpg", "z", "/f")})
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda k: store.put(k, b"x"), keys))
        for c in ends:
            prefix = base + f"x{c}"
            listed = [o.key for o in store.list_page(prefix).objects]
            assert listed == [k for k in keys if k.startswith(prefix)], prefix

    def test_empty_prefix_lists_nothing_under_it(self, backend: Backend, base: str) -> None:
        page = backend.adapter().list_page(base + "nothing/")
        assert page.objects == []
        assert page.next_cursor is None


class TestOddKeys:
    @pytest.mark.parametrize("name", ODD_NAMES)
    def test_round_trip_byte_for_byte(self, backend: Backend, base: str, name: str) -> None:
        store = backend.adapter()
        key = base + name
        body = f"body of {name}".encode()
        store.put(key, body, content_type="image/jpeg")
        assert store.head(key).size == len(body)
        assert store.read_bytes(key) == body
        assert store.read_range(key, 0, 4) == body[:4]
        assert [o.key for o in store.list_page(key).objects] == [key]
        assert store.check_many([key]) == {key: None}
        url = store.sign_url(key, expires_in=60)
        if backend.name == "local":
            assert url is None  # the server streams local files itself
        else:
            assert url is not None
            response = httpx.get(url, timeout=10)
            assert response.status_code == 200, response.text[:300]
            assert response.content == body


class TestSignedUrls:
    @pytest.mark.providers("aws", "azure", "gcp")
    def test_signed_url_is_fetchable_with_plain_http(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        store.put(base + "s.jpg", b"signed body", content_type="image/jpeg")
        url = store.sign_url(base + "s.jpg", expires_in=300)
        assert url is not None
        response = httpx.get(url, timeout=10)
        assert response.status_code == 200
        assert response.content == b"signed body"
        assert backend.secret is None or backend.secret not in url

    @pytest.mark.providers("azure")
    def test_expired_signed_url_is_refused(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        store.put(base + "e.jpg", b"x")
        url = store.sign_url(base + "e.jpg", expires_in=1)
        assert url is not None
        deadline = time.monotonic() + 10
        status = 200
        while status == 200 and time.monotonic() < deadline:
            time.sleep(0.1)  # poll until the expiry time has passed
            status = httpx.get(url, timeout=10).status_code
        assert status == 403

    @pytest.mark.providers("azure")
    def test_tampered_signed_url_is_refused(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        store.put(base + "t.jpg", b"x")
        url = store.sign_url(base + "t.jpg", expires_in=60)
        assert url is not None
        tampered = url.replace("sp=r", "sp=rw")
        assert httpx.get(tampered, timeout=10).status_code == 403


class TestSignedPuts:
    @pytest.mark.providers("aws", "gcp")
    @pytest.mark.parametrize("name", ["a.jpg", "with space/漢字 ü+%.png"])
    def test_a_signed_put_stores_the_bytes_without_headers(
        self, backend: Backend, base: str, name: str
    ) -> None:
        store = backend.adapter()
        url = store.sign_put(base + name, expires_in=60)
        assert url is not None
        secret = [ln for ln in (backend.secret or "").splitlines() if ln and "-----" not in ln]
        assert not any(line in url for line in secret)
        # as darwin-py sends it: no Content-Type, no signed headers but the host
        response = httpx.put(url, content=b"put body", timeout=10)
        assert response.status_code == 200, response.text[:300]
        assert store.read_bytes(base + name) == b"put body"

    @pytest.mark.providers("local", "azure")
    def test_the_others_sign_no_put(self, backend: Backend, base: str) -> None:
        assert backend.adapter().sign_put(base + "a.jpg", expires_in=60) is None

    @pytest.mark.providers("gcp")
    def test_gcs_without_a_signing_key_signs_no_put(self, backend: Backend, base: str) -> None:
        store = backend.adapter(credentials={})
        assert store.sign_put(base + "a.jpg", expires_in=60) is None
        assert store.sign_url(base + "a.jpg", expires_in=60) is None
