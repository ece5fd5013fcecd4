"""Video (PyAV): one decode pass makes hq + lq frames, the thumbnail and the frames manifest.

Sampling (darwin-py's rule): ``step = round(max(native_fps / fps, 1), 4)`` when ``fps`` is
a positive number, else 1 (native). Every decoded frame ``n`` (0-based, presentation order) is
listed in ``frames_manifest.txt``; it is visible, and becomes the next section, when
``n == int(visible_so_far * step)``. Sampling follows frame numbers, also for variable frame
rate files, as V7 does; each manifest line carries the frame's real timestamp.

Derivatives per visible frame ``k`` (1-based): ``sections/high/{k:09d}.jpg`` (full size, MJPEG
qscale 2) and ``sections/low/{k:09d}.jpg`` (lq size rule, qscale 5); see ``frames.py``.
``thumbnail.jpg`` comes from the middle frame (``frames // 2`` from the container's frame count
or duration x fps; the last
frame when the stream is shorter than announced). With ``streaming=True`` the same pass writes
HLS renditions (``hls.py``) and each manifest line names the frame's place in the hq segments,
``{index_in_segment}:{segment}:{visibility}:{pts_seconds}``; without, every line is in segment
0: ``{n}:0:{visibility}:{pts_seconds}``.

Speed and memory: the calling thread demuxes and decodes (FFmpeg frame/slice threads,
``thread_type="AUTO"``); a thread pool (one per usable core, at most 8) converts and scales in
swscale and JPEG-encodes with libjpeg-turbo, all outside the GIL (``frames.py``). At most
``2 x workers + 2`` frames are in flight (fewer for large frames: their decoded pictures stay
under ~256 MB), and results reach the sink in order from the calling thread, so memory stays
flat whatever the length.

Rotation metadata (display matrix; multiples of 90 degrees) is applied to every derivative and
``width``/``height`` are the displayed size. Audio, subtitle and data streams are discarded;
the best video stream (FFmpeg's choice, never cover art) is used.

Slot metadata: ``width, height, native_fps, fps, total_frames, visible_frames, duration,
rotation, codec, frames_manifests: [{"name": "frames_manifest.txt", "total_frames",
"visible_frames"}]``. With ``as_frames=True`` the video is a plain sequence of images: the same
sampled sections, ``as_frames: true``, and no manifest (there is no playback timeline).
"""

from __future__ import annotations

import io
import math
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from moorage.media.base import (
    MANIFEST_NAME,
    THUMBNAIL_NAME,
    DerivativeSink,
    MediaError,
    Progress,
    SectionInfo,
    SlotResult,
    hq_name,
    lq_name,
)
from moorage.media.frames import EncodedFrame, encode_frame, frame_thumbnail
from moorage.media.hls import HlsWriter
from moorage.media.limits import NO_LIMITS, Limits

__all__ = ["VideoInfo", "probe_video", "process_video", "sampling_step"]

_ROTATIONS = (90, 180, 270)


@dataclass
class VideoInfo:
    """What the container says before decoding. ``frames`` may be 0 (unknown)."""

    width: int
    height: int
    native_fps: float
    duration: float
    frames: int
    codec: str


def sampling_step(native_fps: float, fps: float | None) -> float:
    if not fps or fps <= 0 or native_fps <= 0:
        return 1.0
    return round(max(native_fps / fps, 1.0), 4)


def _video_stream(container: Any) -> Any:
    stream = container.streams.best("video")
    if stream is None:
        raise MediaError("no video stream in the file", stage="probe")
    return stream


def _info(container: Any, stream: Any) -> VideoInfo:
    duration = 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    frames = int(stream.frames or 0)
    rate: Fraction | None = stream.average_rate or stream.guessed_rate or stream.base_rate
    native_fps = float(rate) if rate else 0.0
    if native_fps <= 0 and frames and duration > 0:
        native_fps = frames / duration
    if not frames and duration > 0 and native_fps > 0:
        frames = round(duration * native_fps)
    ctx = stream.codec_context
    return VideoInfo(
        width=int(ctx.width),
        height=int(ctx.height),
        native_fps=round(native_fps, 4),
        duration=round(duration, 6),
        frames=frames,
        codec=str(ctx.name),
    )


def _open(path: Path) -> Any:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError(f"cannot open video: {exc}", stage="probe") from exc


def probe_video(path: Path) -> VideoInfo:
    with _open(path) as container:
        return _info(container, _video_stream(container))


def _pts_text(seconds: float) -> str:
    text = f"{seconds:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


_QUEUE_BYTES = 256 * 1024 * 1024
_MAX_WORKERS = 8


def _workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))  # honours CPU pinning and container limits
    except AttributeError:
        cores = os.cpu_count() or 2
    return max(2, min(cores, _MAX_WORKERS))


class _Pipeline:
    """Decode in the caller's thread, encode in a pool, deliver in order to the sink."""

    def __init__(
        self, sink: DerivativeSink, progress: Progress | None, expected: int, frame_bytes: int
    ) -> None:
        """``expected``: the sections (visible frames) the video should make."""
        self.sink = sink
        self.progress = progress
        self.expected = max(expected, 1)
        self.workers = _workers()
        self.in_flight = max(
            self.workers + 1, min(2 * self.workers + 2, _QUEUE_BYTES // frame_bytes)
        )
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="moorage-video")
        self.pending: deque[Future[EncodedFrame]] = deque()
        self.sections: list[SectionInfo] = []
        self.thumb: tuple[bytes, int, int] | None = None
        self.submitted = 0
        self._report_every = max(1, self.expected // 100)

    def submit(self, frame: Any, section: int, rotation: int, want_thumb: bool) -> None:
        self.pending.append(self.pool.submit(encode_frame, frame, section, rotation, want_thumb))
        while len(self.pending) > self.in_flight:
            self._deliver(self.pending.popleft())
        # progress counts sections, the slot's own count, not the frames decoded to make them
        self.submitted += 1
        if self.progress and self.submitted % self._report_every == 0:
            self.progress(self.submitted, max(self.expected, self.submitted))

    def _deliver(self, future: Future[EncodedFrame]) -> None:
        try:
            done = future.result()
        except (OSError, ValueError, av.FFmpegError) as exc:
            raise MediaError(f"cannot encode a frame: {exc}", stage="frames") from exc
        self.sink.put(hq_name(done.section), done.hq, "image/jpeg")
        self.sink.put(lq_name(done.section), done.lq, "image/jpeg")
        self.sections.append(
            SectionInfo(
                done.section, done.width, done.height, hq_name(done.section), lq_name(done.section)
            )
        )
        if done.thumb is not None:
            self.thumb = done.thumb

    def finish(self) -> None:
        while self.pending:
            self._deliver(self.pending.popleft())

    def close(self) -> None:
        for future in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True)


def process_video(
    path: Path,
    *,
    sink: DerivativeSink,
    fps: float | None = None,
    as_frames: bool = False,
    progress: Progress | None = None,
    limits: Limits = NO_LIMITS,
    streaming: bool = False,
) -> SlotResult:
    """``streaming``: also write the HLS renditions (not for ``as_frames``)."""
    with _open(path) as container:
        stream = _video_stream(container)
        for other in container.streams:
            if other.index != stream.index:
                other.discard = av.stream.Discard.all
        stream.thread_type = "AUTO"
        info = _info(container, stream)
        step = sampling_step(info.native_fps, fps)
        if info.frames:  # the container's count, before decoding; checked again as frames come
            limits.frames(math.ceil(info.frames / step))
        middle = info.frames // 2
        expected = math.ceil(info.frames / step) if info.frames else 0
        pipe = _Pipeline(sink, progress, expected, max(1, info.width * info.height * 3 // 2))
        # One short line per frame: ~30 MB for ten hours at 30 fps, so kept in memory.
        manifest = io.StringIO()
        total = 0
        rotation = 0
        last_frame: Any = None
        errors: list[str] = []
        hls = HlsWriter(sink, stream) if streaming and not as_frames else None
        streams: dict[str, Any] | None = None
        try:
            visible = 0
            for n, frame in enumerate(_frames(container, stream, errors, hls)):
                if n == 0:
                    rotation = round(frame.rotation or 0) % 360
                    rotation = rotation if rotation in _ROTATIONS else 0
                is_visible = n == int(visible * step)
                want_thumb = n == middle
                if is_visible:
                    visible += 1
                    limits.frames(visible, what="the video makes at least")
                    pipe.submit(frame, visible, rotation, want_thumb)
                elif want_thumb:
                    pipe.thumb = frame_thumbnail(frame, rotation)
                seconds = frame.time if frame.time is not None else n / (info.native_fps or 1.0)
                at, segment = hls.frame(frame, seconds) if hls is not None else (n, 0)
                if n:
                    manifest.write("\n")
                manifest.write(f"{at}:{segment}:{int(is_visible)}:{_pts_text(seconds)}")
                total = n + 1
                last_frame = frame
            pipe.finish()
            if pipe.thumb is None and last_frame is not None:
                pipe.thumb = frame_thumbnail(last_frame, rotation)
            streams = hls.finish() if hls is not None and total else None
        finally:
            pipe.close()
            if hls is not None:
                hls.close()
    result = _result(info, fps, as_frames, rotation, pipe, total, manifest, sink, progress)
    if streams is not None:
        result.metadata["hls"] = streams
    if errors:
        result.metadata["decode_errors"] = len(errors)
    return result


MAX_DECODE_ERRORS = 50


def _frames(container: Any, stream: Any, errors: list[str], hls: HlsWriter | None) -> Any:
    """Decoded frames in presentation order, skipping damaged packets (up to a limit).
    ``hls`` sees each packet before it is decoded and gets it to remux after."""
    try:
        for packet in container.demux(stream):
            if hls is not None:
                hls.packet(packet)
            try:
                yield from stream.decode(packet)
            except av.InvalidDataError as exc:
                errors.append(str(exc))
                if len(errors) > MAX_DECODE_ERRORS:
                    raise MediaError(f"too many damaged packets: {exc}", stage="frames") from exc
            if hls is not None:
                hls.muxed(packet)
    except av.FFmpegError as exc:
        raise MediaError(f"cannot decode the video: {exc}", stage="frames") from exc


def _result(
    info: VideoInfo,
    fps: float | None,
    as_frames: bool,
    rotation: int,
    pipe: _Pipeline,
    total: int,
    manifest: io.StringIO,
    sink: DerivativeSink,
    progress: Progress | None,
) -> SlotResult:
    if total == 0 or not pipe.sections:
        raise MediaError("the video has no decodable frames", stage="frames")
    if pipe.thumb is None:
        raise MediaError("no frame for the thumbnail", stage="thumbnail")
    sink.put(THUMBNAIL_NAME, pipe.thumb[0], "image/jpeg")
    first = pipe.sections[0]
    visible = len(pipe.sections)
    native_fps = info.native_fps or (total / info.duration if info.duration > 0 else 0.0)
    metadata: dict[str, Any] = {
        "width": first.width,
        "height": first.height,
        "native_fps": native_fps,
        "fps": float(fps) if fps and fps > 0 else native_fps,
        "total_frames": total,
        "visible_frames": visible,
        "duration": info.duration if info.duration > 0 else round(total / (native_fps or 1.0), 6),
        "codec": info.codec,
        "rotation": rotation,
    }
    if as_frames:
        metadata["as_frames"] = True
    else:
        sink.put(MANIFEST_NAME, manifest.getvalue().encode(), "text/plain")
        metadata["frames_manifests"] = [
            {"name": MANIFEST_NAME, "total_frames": total, "visible_frames": visible}
        ]
    if progress:
        progress(visible, visible)
    return SlotResult(first.width, first.height, visible, metadata, pipe.sections, THUMBNAIL_NAME)
