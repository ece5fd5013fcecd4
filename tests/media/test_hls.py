"""HLS renditions made in the video's decode pass: every segment decodes on its own, and the
frames manifest's segment column says which segment (and where in it) each frame is."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import av
import pytest

from moorage.media import MemorySink, process_slot
from moorage.media.hls import SEGMENT_SECONDS, segment_name

from .conftest import write_video


def manifest(sink: MemorySink) -> list[tuple[int, int]]:
    """(index in segment, segment) of every frame."""
    lines = sink["frames_manifest.txt"].decode().split("\n")
    return [(int(a), int(b)) for a, b, *_ in (line.split(":") for line in lines)]


def playlist_segments(sink: MemorySink, quality: str) -> list[str]:
    """The sink names of the playlist's segments, resolved from its folder."""
    text = sink[f"segments/{quality}/index.m3u8"].decode()
    names = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = f"segments/{quality}/{line}".split("/")
            while ".." in parts:
                at = parts.index("..")
                del parts[at - 1 : at + 1]
            names.append("/".join(parts))
    return names


def keyframe_indices(clip: Path) -> list[int]:
    """Frame numbers (presentation order) of the source's keyframes."""
    with av.open(str(clip)) as container:
        packets = [(p.pts, p.is_keyframe) for p in container.demux(video=0) if p.pts is not None]
    ordered = sorted(packets)
    return [n for n, (_, key) in enumerate(ordered) if key]


def decoded(data: bytes) -> tuple[int, tuple[int, int]]:
    """Frames in one segment decoded alone, and their size."""
    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(video=0))
    return len(frames), (frames[0].width, frames[0].height)


def check_renditions(sink: MemorySink, hls: dict, size: tuple[int, int], lq: tuple[int, int]):
    per_segment = Counter(segment for _, segment in manifest(sink))
    for quality, want in (("high", size), ("low", lq)):
        names = playlist_segments(sink, quality)
        assert len(names) == hls[quality]["segments"] == len(per_segment)
        for n, name in enumerate(names):
            count, got = decoded(sink[name])
            assert (count, got) == (per_segment[n], want), (quality, n)


class TestStreamCopy:
    def test_h264_segments_are_the_source_packets_cut_at_keyframes(
        self, tmp_path: Path, sink: MemorySink
    ) -> None:
        clip = write_video(tmp_path / "a.mp4", seconds=5, fps=25, gop=25)
        result = process_slot("video", [clip], sink=sink, streaming=True)
        hls = result.metadata["hls"]
        assert hls["stream_copy"] is True
        placed = manifest(sink)
        assert len(placed) == 125
        # each segment starts at the first keyframe 2 s (50 frames) or more after the last one
        keyframes = keyframe_indices(clip)
        starts = [0]
        for k in keyframes:
            if k - starts[-1] >= 50:
                starts.append(k)
        assert [i for i, (at, _) in enumerate(placed) if at == 0] == starts
        assert hls["high"]["segments"] == len(starts) == 3
        assert placed[starts[1] - 1] == (starts[1] - 1, 0) and placed[starts[1]] == (0, 1)
        # lq is the source's size: the lq playlist names the hq segments, nothing re-encoded
        assert playlist_segments(sink, "low") == playlist_segments(sink, "high")
        assert not sink.names("segments/low/0")
        check_renditions(sink, hls, (320, 240), (320, 240))

    def test_playlist_durations_add_up_to_the_clip(self, tmp_path: Path, sink: MemorySink) -> None:
        clip = write_video(tmp_path / "a.mp4", seconds=5, fps=25, gop=25)
        process_slot("video", [clip], sink=sink, streaming=True)
        text = sink["segments/high/index.m3u8"].decode()
        durations = [float(x.split(":")[1].rstrip(",")) for x in text.split() if "EXTINF" in x]
        assert sum(durations) == pytest.approx(5.0, abs=0.05)
        assert max(durations) <= SEGMENT_SECONDS + 0.05
        assert text.startswith("#EXTM3U") and text.rstrip().endswith("#EXT-X-ENDLIST")

    def test_tall_source_gets_an_lq_rendition_encoded_at_the_same_cuts(
        self, tmp_path: Path, sink: MemorySink
    ) -> None:
        clip = write_video(tmp_path / "tall.mp4", seconds=3, fps=10, size=(96, 800), gop=10)
        result = process_slot("video", [clip], sink=sink, streaming=True)
        hls = result.metadata["hls"]
        assert hls["low"]["segments"] == hls["high"]["segments"] == 2
        assert sink.names("segments/low/0") == [segment_name("low", 0), segment_name("low", 1)]
        check_renditions(sink, hls, (96, 800), (86, 720))
        assert hls["low"]["bitrate"] > 0


class TestEncoded:
    def test_other_codecs_are_encoded_to_h264(self, tmp_path: Path, sink: MemorySink) -> None:
        clip = write_video(tmp_path / "m.avi", seconds=5, fps=10, codec="mpeg4")
        result = process_slot("video", [clip], sink=sink, streaming=True)
        hls = result.metadata["hls"]
        assert hls["stream_copy"] is False
        assert hls["high"]["segments"] == 3  # a keyframe forced every 2 s
        with av.open(io.BytesIO(sink[segment_name("high", 0)])) as container:
            assert container.streams.video[0].codec_context.name == "h264"
        check_renditions(sink, hls, (320, 240), (320, 240))


class TestWithout:
    def test_no_streaming_no_segments_and_segment_zero(
        self, tmp_path: Path, sink: MemorySink
    ) -> None:
        clip = write_video(tmp_path / "a.mp4", seconds=2, fps=10, gop=5)
        result = process_slot("video", [clip], sink=sink)
        assert "hls" not in result.metadata
        assert not sink.names("segments/")
        assert manifest(sink) == [(n, 0) for n in range(20)]

    def test_as_frames_has_no_stream(self, tmp_path: Path, sink: MemorySink) -> None:
        clip = write_video(tmp_path / "a.mp4", seconds=2, fps=10, gop=5)
        result = process_slot("video", [clip], sink=sink, as_frames=True, streaming=True)
        assert "hls" not in result.metadata and not sink.names("segments/")
