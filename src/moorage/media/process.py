"""``process_slot``: one slot's files in, derivatives to the sink, a ``SlotResult`` out."""

from __future__ import annotations

from pathlib import Path

from moorage.media.base import DerivativeSink, MediaError, MediaKind, Progress, SlotResult
from moorage.media.limits import NO_LIMITS, CappedSink, Limits

__all__ = ["process_slot"]


def process_slot(
    kind: MediaKind,
    sources: list[Path],
    *,
    sink: DerivativeSink,
    fps: float | None = None,
    as_frames: bool = False,
    extract_views: bool = False,
    progress: Progress | None = None,
    limits: Limits = NO_LIMITS,
    streaming: bool = False,
) -> SlotResult:
    """Make every derivative of one slot.

    ``sources`` are local files; several only for a DICOM series (any order) or an image
    sequence (in order). ``fps`` None or 0
    means the native rate (video only); ``extract_views`` adds the orthogonal views (NIfTI);
    ``streaming`` adds a video's HLS renditions.
    Raises ``MediaError`` for a file that cannot be processed; ``stage`` says where, and
    ``LimitExceeded`` (a ``MediaError``) for one over a cap of ``limits``.
    """
    if not sources:
        raise MediaError("no file given", stage="probe")
    for source in sources:
        if not source.is_file():
            raise MediaError(f"{source.name}: no such file", stage="probe")
    if limits.max_bytes is not None:
        sink = CappedSink(sink, limits.max_bytes)
    # Each kind imports its library on first use: pydicom alone adds ~55 MB and 0.3 s to a
    # worker that only ever sees images or videos.
    if kind == "image":
        from moorage.media.images import process_image

        return process_image(sources, sink=sink, progress=progress, limits=limits)
    if kind in ("video", "nifti", "pdf") and len(sources) > 1:
        # Only images (a sequence) and DICOM (a series) combine several files in one slot.
        raise MediaError(f"a {kind} slot holds one file, not {len(sources)}", stage="probe")
    if kind == "video":
        from moorage.media.video import process_video

        return process_video(
            sources[0],
            sink=sink,
            fps=fps,
            as_frames=as_frames,
            progress=progress,
            limits=limits,
            streaming=streaming,
        )
    if kind == "dicom":
        from moorage.media.dicom import process_dicom

        return process_dicom(sources, sink=sink, progress=progress, limits=limits)
    if kind == "nifti":
        from moorage.media.nifti import process_nifti

        return process_nifti(
            sources, sink=sink, extract_views=extract_views, progress=progress, limits=limits
        )
    if kind == "pdf":
        from moorage.media.pdf import process_pdf

        return process_pdf(sources, sink=sink, progress=progress, limits=limits)
    raise MediaError(f"unknown media kind {kind!r}", stage="probe")
