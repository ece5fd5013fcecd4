"""The one renderer: every error to its status, body and headers."""

from __future__ import annotations

import pytest
from starlette.exceptions import HTTPException

from moorage.errors import Failure, NotFound, RateLimited
from moorage.kit.error_render import STATUS_OF, render_error
from moorage.media import MediaError
from moorage.registration.model import Blocked
from moorage.storage.base import (
    AccessDenied,
    BucketNotFound,
    InvalidCredentials,
    InvalidKey,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
)
from moorage.storage.local import FolderNotAllowed
from moorage.worker.failure import TransientJobError


class TestRenderError:
    def test_an_api_error_names_its_field_both_ways(self) -> None:
        rendered = render_error(NotFound("Item 'x' does not exist.", field="item_id"))
        assert rendered.status == 404
        assert rendered.body == {
            "error": {
                "code": "NOT_FOUND",
                "message": "Item 'x' does not exist.",
                "field": "item_id",
            },
            "errors": {"item_id": ["Item 'x' does not exist."]},
        }

    def test_extra_fields_and_headers_come_along(self) -> None:
        rendered = render_error(RateLimited(7, limit=10))
        assert (rendered.status, rendered.headers) == (429, {"Retry-After": "7"})
        assert rendered.body["error"]["retry_after"] == 7
        assert "errors" not in rendered.body

    @pytest.mark.parametrize(
        ("error", "status"),
        [
            (ObjectNotFound("gone"), 404),
            (InvalidKey("bad"), 400),
            (AccessDenied("no"), 409),
            (FolderNotAllowed("outside"), 409),
            (InvalidCredentials("wrong key"), 409),
            (BucketNotFound("no bucket"), 409),
            (StorageUnavailable("timeout"), 503),
            (StorageError("other"), 502),
        ],
    )
    def test_storage_errors_get_their_status_from_the_table(self, error, status) -> None:
        rendered = render_error(error)
        assert rendered.status == status
        assert rendered.body == {"error": {"code": error.reason, "message": error.message}}

    def test_media_error_is_unprocessable(self) -> None:
        rendered = render_error(MediaError("not a JPEG", stage="decode"))
        assert rendered.status == STATUS_OF[MediaError] == 422
        assert rendered.body["error"]["code"] == "MEDIA_UNREADABLE"

    def test_http_and_unforeseen_errors(self) -> None:
        assert render_error(HTTPException(405, "Method Not Allowed")).body == {
            "error": {"code": "HTTP_ERROR", "message": "Method Not Allowed"}
        }
        unforeseen = render_error(KeyError("secret"))
        assert unforeseen.status == 500 and "secret" not in str(unforeseen.body)


class TestOneRoot:
    @pytest.mark.parametrize(
        "error",
        [
            NotFound("x"),
            StorageError("x"),
            MediaError("x", stage="probe"),
            Blocked("R", "x"),
            TransientJobError("x", attempt=1),
        ],
    )
    def test_every_error_derives_from_failure_and_keeps_its_message(self, error) -> None:
        assert isinstance(error, Failure)
        assert error.message == "x"
