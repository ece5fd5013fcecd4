"""Caps on what one slot may make: pages, frames, slices, held voxels and derivative bytes.

Each kind checks its counts up front, from the header or the container's probe, before decoding
anything, and again while it works (a header may lie). ``CappedSink`` counts the bytes written.
A slot over a cap fails with ``LimitExceeded``, a ``MediaError`` naming the cap and the count.
``None`` means no cap (``moorage prepare`` on the user's own machine).
"""

from __future__ import annotations

from dataclasses import dataclass

from moorage.media.base import DerivativeSink, MediaError, Stage

__all__ = ["NO_LIMITS", "CappedSink", "LimitExceeded", "Limits"]


class LimitExceeded(MediaError):
    """The slot would exceed a configured cap; ``limit`` names it (e.g. ``max_pages_per_slot``)."""

    def __init__(self, message: str, *, stage: Stage, limit: str, count: int, allowed: int) -> None:
        super().__init__(message, stage=stage)
        self.limit = limit
        self.count = count
        self.allowed = allowed


@dataclass(frozen=True)
class Limits:
    max_pages: int | None = None
    max_frames: int | None = None
    max_slices: int | None = None
    #: bytes of voxels a volume may hold in memory (NIfTI), or one decoded DICOM frame
    max_volume_bytes: int | None = None
    #: bytes of derivatives one slot may write
    max_bytes: int | None = None

    def pages(self, count: int, *, what: str = "the PDF has") -> None:
        _check(count, self.max_pages, f"{what} {count} pages", "max_pages_per_slot", "pages")

    def frames(self, count: int, *, what: str = "the video makes") -> None:
        _check(count, self.max_frames, f"{what} {count} frames", "max_frames_per_slot", "frames")

    def slices(self, count: int, *, what: str = "the volume makes") -> None:
        _check(count, self.max_slices, f"{what} {count} slices", "max_slices_per_slot", "slices")

    def volume_bytes(self, count: int, *, what: str) -> None:
        text = f"{what} {count} bytes of voxels"
        _check(count, self.max_volume_bytes, text, "max_volume_bytes", "slices")


NO_LIMITS = Limits()


def _check(count: int, allowed: int | None, text: str, limit: str, stage: Stage) -> None:
    if allowed is not None and count > allowed:
        message = f"{text}, over the limit of {allowed} per slot ({limit})"
        raise LimitExceeded(message, stage=stage, limit=limit, count=count, allowed=allowed)


class CappedSink:
    """Passes each derivative on and stops the slot once the bytes written pass ``max_bytes``."""

    def __init__(self, inner: DerivativeSink, max_bytes: int) -> None:
        self.inner = inner
        self.max_bytes = max_bytes
        self.written = 0

    def put(self, name: str, data: bytes, content_type: str) -> None:
        self.written += len(data)
        if self.written > self.max_bytes:
            message = (
                f"the derivatives reach {self.written} bytes, over the limit of "
                f"{self.max_bytes} per slot (max_derivative_bytes)"
            )
            raise LimitExceeded(
                message,
                stage="limits",
                limit="max_derivative_bytes",
                count=self.written,
                allowed=self.max_bytes,
            )
        self.inner.put(name, data, content_type)
