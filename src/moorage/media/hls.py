"""HLS renditions, made in the video's one decode pass: MPEG-TS segments and a playlist each.

Layout (V7's): ``segments/high/{n:09d}.ts`` and ``segments/low/{n:09d}.ts`` (``n`` from 0), and
``segments/{high,low}/index.m3u8`` whose segment lines are relative names.

hq: an 8-bit 4:2:0 H.264 source is stream-copied (its packets remuxed into MPEG-TS, FFmpeg's
muxer adding the Annex B start codes), cut at the first keyframe ``SEGMENT_SECONDS`` or more
after the segment began; any other source is encoded with libx264, a keyframe forced where each
segment begins. lq: when the lq size (``render.lq_size``) is the source's and hq was copied, the
lq playlist names the hq segments (``../high/...``) and nothing is encoded; otherwise libx264
encodes the scaled frames in a thread of its own, keyframes forced at the hq segments' starts,
so both renditions cut at the same instants.

Every decoded frame is placed in the hq segment its timestamp falls in: that is the frames
manifest's segment column (``place``). Rotation metadata is not applied to the segments.
"""

from __future__ import annotations

import io
import math
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
from av.video.frame import PictureType
from av.video.reformatter import VideoReformatter

from moorage.media.base import DerivativeSink, MediaError
from moorage.media.render import lq_size

__all__ = ["SEGMENT_SECONDS", "HlsWriter", "playlist_name", "segment_name"]

SEGMENT_SECONDS = 2.0
_HQ_X264 = {"preset": "veryfast", "crf": "23"}
_LQ_X264 = {"preset": "veryfast", "crf": "30"}
#: keyframes only where forced (each segment's first frame), never at scene cuts
_X264_PARAMS = "scenecut=0:keyint=infinite"
_MAX_PENDING = 16


def segment_name(quality: str, n: int) -> str:
    return f"segments/{quality}/{n:09d}.ts"


def playlist_name(quality: str) -> str:
    return f"segments/{quality}/index.m3u8"


@dataclass
class _Segment:
    start: float
    size: int = 0


@dataclass
class _Rendition:
    """MPEG-TS segments of one rendition; each is handed back as ``(name, bytes)`` when cut."""

    quality: str
    template: Any
    segments: list[_Segment] = field(default_factory=list)
    _out: Any = None
    _buffer: io.BytesIO | None = None
    _stream: Any = None

    def cut(self, start: float) -> list[tuple[str, bytes]]:
        done = self._close()
        self._buffer = io.BytesIO()
        self._out = av.open(self._buffer, "w", format="mpegts")
        self._stream = self._out.add_stream_from_template(self.template)
        self.segments.append(_Segment(start))
        return done

    def mux(self, packet: Any) -> None:
        packet.stream = self._stream
        self._out.mux(packet)

    def _close(self) -> list[tuple[str, bytes]]:
        if self._out is None or self._buffer is None:
            return []
        self._out.close()
        data = self._buffer.getvalue()
        self.segments[-1].size = len(data)
        self._out = self._buffer = None
        return [(segment_name(self.quality, len(self.segments) - 1), data)]

    def finish(self) -> list[tuple[str, bytes]]:
        return self._close()


def _encoder(width: int, height: int, rate: Fraction, options: dict[str, str]) -> tuple[Any, Any]:
    """A libx264 stream in a container never written: packets go to the segments' muxers."""
    holder = av.open(io.BytesIO(), "w", format="mpegts")
    stream = holder.add_stream("libx264", rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = {**options, "x264-params": _X264_PARAMS, "forced-idr": "1"}
    return holder, stream


class _Encoded:
    """A rendition encoded from decoded frames; segments cut at the forced keyframes."""

    def __init__(self, quality: str, size: tuple[int, int], rate: Fraction, opts: dict[str, str]):
        self.size = size
        self.holder, self.stream = _encoder(size[0], size[1], rate, opts)
        self.rendition = _Rendition(quality, self.stream)
        self._started = False
        self._scaler = VideoReformatter()

    def encode(self, frame: Any, key: bool, time_base: Any) -> list[tuple[str, bytes]]:
        # its own reformatter: the JPEG threads reformat the same frame through the frame's own
        scaled = self._scaler.reformat(
            frame, self.size[0], self.size[1], "yuv420p", interpolation="BILINEAR"
        )
        scaled.pts, scaled.time_base = frame.pts, time_base
        scaled.pict_type = PictureType.I if key else PictureType.NONE
        return self._mux(self.stream.encode(scaled))

    def flush(self) -> list[tuple[str, bytes]]:
        out = self._mux(self.stream.encode(None))
        out += self.rendition.finish()
        self.holder.close()
        return out

    def _mux(self, packets: list[Any]) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        for packet in packets:
            if packet.is_keyframe or not self._started:
                seconds = float(packet.pts * packet.time_base) if packet.pts is not None else 0.0
                out += self.rendition.cut(seconds)
                self._started = True
            self.rendition.mux(packet)
        return out


def _copyable(stream: Any) -> bool:
    ctx = stream.codec_context
    return str(ctx.name) == "h264" and ctx.format is not None and ctx.format.name == "yuv420p"


class HlsWriter:
    """Feeds the renditions from the demux/decode loop and places frames in hq segments.

    Call ``packet(p)`` for each demuxed packet before it is decoded and ``muxed(p)`` after,
    ``frame(f)`` for each decoded frame in order, then ``finish()``; ``close()`` always.
    """

    def __init__(self, sink: DerivativeSink, stream: Any) -> None:
        self.sink = sink
        self.stream = stream
        self.time_base = stream.time_base
        ctx = stream.codec_context
        self.size = (int(ctx.width), int(ctx.height))
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        self.copy = _copyable(stream)
        self.hq_copy = _Rendition("high", stream) if self.copy else None
        self.hq_encoded = None if self.copy else _Encoded("high", self.size, rate, _HQ_X264)
        small = lq_size(*self.size)
        self.lq = (
            None if self.copy and small == self.size else _Encoded("low", small, rate, _LQ_X264)
        )
        self._lq_pool = ThreadPoolExecutor(1, thread_name_prefix="moorage-hls")
        self._pending: deque[Future[list[tuple[str, bytes]]]] = deque()
        #: pts (stream time base) where each hq segment begins
        self.starts: list[int] = []
        self._start_seconds = -math.inf
        self._placed_segment = -1
        self._in_segment = 0
        self._last_end = 0.0
        self._frame_seconds = 1 / float(rate)

    # -- demux side (stream copy) --
    def packet(self, packet: Any) -> None:
        if self.hq_copy is None or packet.pts is None or packet.size == 0:
            return
        if packet.is_keyframe and self._due(packet.pts):
            self._begin(packet.pts)
            self._put(self.hq_copy.cut(self._seconds(packet.pts)))

    def muxed(self, packet: Any) -> None:
        if self.hq_copy is None or packet.size == 0 or not self.starts:
            return
        self.hq_copy.mux(packet)

    # -- decode side --
    def frame(self, frame: Any, seconds: float) -> tuple[int, int]:
        """Encode the frame where needed; its (index in segment, segment number)."""
        pts = frame.pts if frame.pts is not None else round(seconds / self.time_base)
        if self.hq_copy is None and self._due(pts):
            self._begin(pts)
        index, segment = self._place(pts)
        key = index == 0
        if self.hq_encoded is not None:
            self._put(self.hq_encoded.encode(frame, key, self.time_base))
        if self.lq is not None:
            self._submit(self.lq.encode, frame, key, self.time_base)
        self._last_end = max(self._last_end, seconds + self._frame_seconds)
        return index, segment

    def _place(self, pts: int) -> tuple[int, int]:
        segment = self._placed_segment
        while segment + 1 < len(self.starts) and pts >= self.starts[segment + 1]:
            segment += 1
        segment = max(segment, 0)
        if segment != self._placed_segment:
            self._placed_segment, self._in_segment = segment, 0
        index = self._in_segment
        self._in_segment += 1
        return index, segment

    def _due(self, pts: int) -> bool:
        return self._seconds(pts) - self._start_seconds >= SEGMENT_SECONDS - 1e-6

    def _begin(self, pts: int) -> None:
        self.starts.append(pts)
        self._start_seconds = self._seconds(pts)

    def _seconds(self, pts: int) -> float:
        return float(pts * self.time_base)

    # -- output --
    def _submit(self, fn: Any, *args: Any) -> None:
        self._pending.append(self._lq_pool.submit(fn, *args))
        while self._pending and (len(self._pending) > _MAX_PENDING or self._pending[0].done()):
            try:
                done = self._pending.popleft().result()
            except (av.FFmpegError, ValueError) as exc:
                raise MediaError(f"cannot encode the lq stream: {exc}", stage="frames") from exc
            self._put(done)

    def _put(self, files: list[tuple[str, bytes]]) -> None:
        for name, data in files:
            self.sink.put(name, data, "video/mp2t")

    def finish(self) -> dict[str, Any]:
        """Write the last segments and both playlists; the slot's ``hls`` metadata."""
        try:
            while self._pending:
                self._put(self._pending.popleft().result())
            if self.hq_copy is not None:
                high = self.hq_copy
                self._put(high.finish())
            else:
                assert self.hq_encoded is not None
                high = self.hq_encoded.rendition
                self._put(self.hq_encoded.flush())
            if self.lq is not None:
                self._put(self._lq_pool.submit(self.lq.flush).result())
        except (av.FFmpegError, ValueError) as exc:
            raise MediaError(f"cannot write the HLS segments: {exc}", stage="frames") from exc
        if not high.segments:
            raise MediaError("the video has no keyframe to start a segment", stage="frames")
        low, prefix = (self.lq.rendition, "") if self.lq else (high, "../high/")
        out: dict[str, Any] = {"segment_seconds": SEGMENT_SECONDS, "stream_copy": self.copy}
        for quality, rendition, lead in (("high", high, ""), ("low", low, prefix)):
            text, bitrate = _playlist(rendition.segments, self._last_end, lead, rendition.quality)
            self.sink.put(playlist_name(quality), text.encode(), "application/vnd.apple.mpegurl")
            out[quality] = {
                "playlist": playlist_name(quality),
                "bitrate": bitrate,
                "segments": len(rendition.segments),
            }
        return out

    def close(self) -> None:
        for future in self._pending:
            future.cancel()
        self._lq_pool.shutdown(wait=True)


def _playlist(
    segments: list[_Segment], end: float, prefix: str, quality: str
) -> tuple[str, float | None]:
    """The VOD playlist text and the average bitrate (bits per second)."""
    durations = [
        max((segments[i + 1].start if i + 1 < len(segments) else end) - s.start, 0.001)
        for i, s in enumerate(segments)
    ]
    target = max((math.ceil(d) for d in durations), default=1)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    for n, duration in enumerate(durations):
        lines.append(f"#EXTINF:{duration:.6f},")
        lines.append(prefix + segment_name(quality, n).rsplit("/", 1)[-1])
    lines.append("#EXT-X-ENDLIST")
    total = sum(durations)
    size = sum(s.size for s in segments)
    return "\n".join(lines) + "\n", (round(size * 8 / total, 1) if total > 0 else None)
