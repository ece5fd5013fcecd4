"""check_permissions (per-permission connection check) and check_many (existence at scale)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from moorage.storage.base import (
    AccessDenied,
    BucketNotFound,
    InvalidKey,
    ListPage,
    ObjectInfo,
    ObjectNotFound,
    StorageAdapter,
)
from moorage.storage.check import ExistencePlan, check_existence, check_permissions
from moorage.storage.delegate import DelegatingAdapter
from moorage.storage.factory import build_adapter
from tests.storage.conftest import AZURITE_ACCOUNT, AuthS3, Backend, free_port


def by_permission(checks: list[Any]) -> dict[str, Any]:
    return {c.permission: c for c in checks}


class Counting(DelegatingAdapter):
    """Delegates to a real adapter and counts the requests the existence check makes."""

    def __init__(self, inner: StorageAdapter) -> None:
        super().__init__(inner)
        self.heads = 0
        self.lists = 0

    def head(self, key: str) -> ObjectInfo:
        self.heads += 1
        return self.inner.head(key)

    def list_page(self, prefix: str, *, cursor: str | None = None, limit: int = 1000) -> ListPage:
        self.lists += 1
        return self.inner.list_page(prefix, cursor=cursor, limit=limit)


def put_many(store: StorageAdapter, keys: list[str]) -> None:
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: store.put(k, b"x"), keys))


class TestCheckStorage:
    def test_read_write_storage_passes_every_check_and_leaves_nothing(
        self, backend: Backend, base: str
    ) -> None:
        store = backend.adapter()
        checks = check_permissions(store, prefix=base, readonly=False)
        assert [c.permission for c in checks] == ["list", "read", "write", "delete"]
        assert all(c.ok for c in checks), checks
        assert store.list_page(base).objects == []

    def test_read_only_storage_lists_and_reads(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        empty = by_permission(check_permissions(store, prefix=base, readonly=True))
        assert set(empty) == {"list", "read"}
        assert empty["list"].ok
        assert empty["read"].ok
        assert empty["read"].message
        assert "not found" in empty["read"].message
        store.put(base + "one.jpg", b"x")
        full = check_permissions(store, prefix=base, readonly=True)
        assert all(c.ok and c.message is None for c in full)

    @pytest.mark.providers("aws", "azure", "gcp")
    def test_missing_bucket_fails_every_check_with_its_reason(self, backend: Backend) -> None:
        if backend.name == "azure":
            store, prefix = backend.adapter(), "no-such-container/moorage/"
        else:
            store, prefix = backend.adapter(bucket="no-such-bucket-42"), "moorage/"
        checks = check_permissions(store, prefix=prefix, readonly=False)
        assert [c.ok for c in checks] == [False] * 4
        assert {c.reason for c in checks} == {BucketNotFound.reason}
        assert all(
            "bucket" in (c.message or "") or "container" in (c.message or "") for c in checks
        )

    def test_bad_credentials_are_named(self, moto_auth: AuthS3, azurite_endpoint: str) -> None:
        s3 = build_adapter(
            moto_auth.spec({"access_key_id": "AKIANOPE", "secret_access_key": "nope-nope"})
        )
        azure = build_adapter(
            replace(
                moto_auth.spec({}),
                provider="azure",
                bucket=AZURITE_ACCOUNT,
                endpoint_url=azurite_endpoint,
                credentials={"account_key": "QUJD" + "A" * 84},
            )
        )
        for store, prefix in ((s3, "m/"), (azure, "moorage-test/m/")):
            checks = check_permissions(store, prefix=prefix, readonly=False)
            assert {c.reason for c in checks} == {"STORAGE_INVALID_CREDENTIALS"}
            assert all("credentials" in (c.message or "") for c in checks)

    def test_read_only_credentials_on_read_write_storage(self, moto_auth: AuthS3) -> None:
        rw = build_adapter(moto_auth.spec(moto_auth.rw))
        rw.put("ro-check/existing.jpg", b"x")
        store = build_adapter(moto_auth.spec(moto_auth.ro))
        checks = by_permission(check_permissions(store, prefix="ro-check/", readonly=False))
        assert checks["list"].ok
        assert not checks["write"].ok
        assert checks["write"].reason == AccessDenied.reason
        assert "grant" in (checks["write"].message or "")
        assert checks["read"].reason == checks["delete"].reason == "NOT_CHECKED"
        assert all(c.ok for c in check_permissions(store, prefix="ro-check/", readonly=True))

    @pytest.mark.providers("aws", "azure", "gcp")
    def test_unreachable_storage_is_reported_once_per_permission(self, backend: Backend) -> None:
        endpoint = f"http://127.0.0.1:{free_port()}"
        if backend.name == "azure":
            endpoint += f"/{AZURITE_ACCOUNT}"
        options = {**backend.spec.options, "retry_timeout": 1, "connect_timeout": 0.5}
        store = backend.adapter(endpoint_url=endpoint, options=options)
        checks = check_permissions(store, prefix=backend.key("m/"), readonly=False)
        assert {c.reason for c in checks} == {"STORAGE_UNAVAILABLE"}
        host = endpoint.split("//")[1].split("/")[0]
        for check in checks:  # what happened and where, not a bare HTTP status
            assert f"cannot connect to {host}: connection refused" in (check.message or "")
            assert "HTTP" not in (check.message or "") and "denied" not in (check.message or "")

    @pytest.mark.providers("aws", "gcp")
    def test_a_host_that_does_not_resolve_is_named(self, backend: Backend) -> None:
        options = {**backend.spec.options, "retry_timeout": 1, "connect_timeout": 0.5}
        store = backend.adapter(endpoint_url="http://no-such-host.invalid:9000", options=options)
        checks = check_permissions(store, prefix=backend.key("m/"), readonly=False)
        assert {c.reason for c in checks} == {"STORAGE_UNAVAILABLE"}
        for check in checks:
            assert "the host no-such-host.invalid does not resolve" in (check.message or "")
            assert "Access denied" not in (check.message or "")


class TestCheckMany:
    def test_mixed_present_missing_and_invalid_keys(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        dense = [f"{base}dense/{i:03d}.jpg" for i in range(80)]
        put_many(store, [*dense[::2], base + "single.jpg", base + "odd key+%#?.jpg"])
        invalid = ["", "/absolute.jpg", base + "a/../b.jpg"]
        if backend.name in ("aws", "azure"):
            invalid.append(base + "empty//segment.jpg")
        keys = [*dense, base + "single.jpg", base + "odd key+%#?.jpg", base + "gone.jpg"]
        keys += [*invalid, dense[0]]  # a duplicate too
        results = store.check_many(keys)
        assert list(results) == list(dict.fromkeys(keys))
        for i, key in enumerate(dense):
            assert (results[key] is None) == (i % 2 == 0), key
            if i % 2:
                assert isinstance(results[key], ObjectNotFound)
        assert results[base + "single.jpg"] is None
        assert results[base + "odd key+%#?.jpg"] is None
        assert isinstance(results[base + "gone.jpg"], ObjectNotFound)
        for key in invalid:
            assert isinstance(results[key], InvalidKey), key

    @pytest.mark.providers("aws", "azure", "gcp")
    def test_a_crowded_folder_is_listed_not_headed(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        present = [f"{base}crowd/{i:04d}.jpg" for i in range(0, 400, 2)]
        put_many(store, present)
        wanted = [f"{base}crowd/{i:04d}.jpg" for i in range(400)]
        counting = Counting(store)
        plan = ExistencePlan(page_size=100, list_min_keys=16)
        results = check_existence(counting, wanted, plan=plan)
        assert [k for k, r in results.items() if r is None] == present
        assert counting.heads == 0
        assert counting.lists <= 4  # 200 objects in pages of 100

    @pytest.mark.providers("aws", "azure", "gcp")
    def test_a_sparse_folder_falls_back_to_heads(self, backend: Backend, base: str) -> None:
        store = backend.adapter()
        noise = [f"{base}big/{i:04d}.bin" for i in range(300)]
        put_many(store, [*noise, base + "big/zzz-wanted.jpg"])
        wanted = [base + "big/zzz-wanted.jpg", base + "big/zzz-missing.jpg"] + [
            f"{base}big/{i:04d}.bin" for i in (5, 6)
        ]
        counting = Counting(store)
        plan = ExistencePlan(page_size=50, list_min_keys=2)
        results = check_existence(counting, wanted, plan=plan)
        assert results[base + "big/zzz-wanted.jpg"] is None
        assert isinstance(results[base + "big/zzz-missing.jpg"], ObjectNotFound)
        assert results[noise[5]] is None
        assert results[noise[6]] is None
        assert counting.lists == 2  # the page budget, then heads for what the pages missed
        assert counting.heads == 2

    def test_without_list_rights_heads_answer(self, moto_auth: AuthS3) -> None:
        build_adapter(moto_auth.spec(moto_auth.rw)).put("nolist/a.jpg", b"x")
        store = Counting(build_adapter(moto_auth.spec(moto_auth.get)))
        keys = ["nolist/a.jpg"] + [f"nolist/{i}.jpg" for i in range(70)]
        results = check_existence(store, keys, plan=ExistencePlan(list_min_keys=8))
        assert results["nolist/a.jpg"] is None
        assert store.lists == 1
        # S3 answers 403, not 404, for a missing key to whom may not list the bucket
        assert all(isinstance(results[k], AccessDenied | ObjectNotFound) for k in keys[1:])

    def test_missing_bucket_blocks_every_key(self, backend: Backend) -> None:
        if backend.name in ("local", "azure"):
            store = backend.adapter()
            keys = [backend.key("x.jpg")] if backend.name == "local" else []
            keys += ["no-such-container/x.jpg"] if backend.name == "azure" else []
            expected: type = ObjectNotFound if backend.name == "local" else BucketNotFound
        else:
            store = backend.adapter(bucket="no-such-bucket-42")
            keys = [f"f/{i}.jpg" for i in range(100)] + ["single.jpg"]
            expected = BucketNotFound
        results = store.check_many(keys)
        assert all(isinstance(r, expected) for r in results.values()), results
