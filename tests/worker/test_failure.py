"""One payload for every way a job fails."""

from __future__ import annotations

from moorage.media import LimitExceeded, MediaError
from moorage.storage.base import AccessDenied, ObjectNotFound
from moorage.worker.failure import WorkRemoved, error_payload


class TestErrorPayload:
    def test_media_error_names_its_stage_and_the_file(self) -> None:
        payload = error_payload(MediaError("not a JPEG", stage="decode"), key="a.jpg")
        assert payload == {"message": "not a JPEG", "stage": "decode", "storage_key": "a.jpg"}

    def test_limit_names_the_limit(self) -> None:
        exc = LimitExceeded(
            "too many", stage="pages", limit="max_pages_per_slot", count=9, allowed=1
        )
        assert error_payload(exc, key="a.pdf") == {
            "message": "too many",
            "stage": "pages",
            "storage_key": "a.pdf",
            "reason": "limit_exceeded",
            "limit": "max_pages_per_slot",
        }

    def test_storage_error_prefers_its_own_key(self) -> None:
        exc = ObjectNotFound("gone", key="series/2.dcm")
        payload = error_payload(exc, key="series/1.dcm")
        assert payload == {
            "message": "gone",
            "stage": "read",
            "storage_key": "series/2.dcm",
            "reason": "STORAGE_KEY_NOT_FOUND",
        }
        assert error_payload(AccessDenied("no"), key="k")["storage_key"] == "k"

    def test_unforeseen_error_says_only_its_type(self) -> None:
        payload = error_payload(ZeroDivisionError("/tmp/secret"), key="a.jpg")
        assert payload == {
            "message": "Unexpected ZeroDivisionError while processing.",
            "stage": "internal",
            "storage_key": "a.jpg",
        }

    def test_removed_work_has_no_key(self) -> None:
        assert error_payload(WorkRemoved(), key=None) == {
            "message": "item removed",
            "stage": "load",
        }

    def test_temporary_paths_are_scrubbed(self) -> None:
        exc = MediaError("cannot read /tmp/moorage-job-x1y2/00000-a b.mp4", stage="probe")
        assert error_payload(exc, key="a b.mp4")["message"] == "cannot read a b.mp4"
