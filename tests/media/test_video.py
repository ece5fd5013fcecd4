from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moorage.media import MediaError, MemorySink, process_slot
from moorage.media.render import lq_size
from moorage.media.video import probe_video, sampling_step

from .conftest import decode_jpeg, frame_colour, write_video


def manifest_lines(sink: MemorySink) -> list[list[str]]:
    return [line.split(":") for line in sink["frames_manifest.txt"].decode().split("\n")]


def mean_red(data: bytes) -> float:
    return float(np.asarray(decode_jpeg(data))[-10:, -10:, 0].mean())


class TestProbe:
    def test_reads_native_fps_frames_duration_and_size(self, clip: Path) -> None:
        info = probe_video(clip)
        assert (info.width, info.height) == (320, 240)
        assert info.native_fps == 25.0
        assert info.frames == 100
        assert info.duration == pytest.approx(4.0, abs=0.05)
        assert info.codec == "h264"

    @pytest.mark.parametrize(
        ("native", "fps", "step"),
        [(25.0, None, 1.0), (25.0, 0, 1.0), (25.0, 5, 5.0), (25.0, 50, 1.0), (30.0, 7, 4.2857)],
    )
    def test_sampling_step(self, native: float, fps: float | None, step: float) -> None:
        assert sampling_step(native, fps) == step


class TestNativeRate:
    def test_every_frame_is_a_section(self, clip: Path, sink: MemorySink) -> None:
        result = process_slot("video", [clip], sink=sink)
        assert result.total_sections == 100
        assert len(result.sections) == 100
        assert [s.index for s in result.sections] == list(range(1, 101))
        assert result.sections[0].hq_name == "sections/high/000000001.jpg"
        assert result.sections[99].lq_name == "sections/low/000000100.jpg"
        assert len(sink.names("sections/high/")) == 100
        assert len(sink.names("sections/low/")) == 100
        assert (result.width, result.height) == (320, 240)

    def test_metadata(self, clip: Path, sink: MemorySink) -> None:
        meta = process_slot("video", [clip], sink=sink, fps=0).metadata
        assert meta["native_fps"] == 25.0
        assert meta["fps"] == 25.0
        assert meta["total_frames"] == 100
        assert meta["visible_frames"] == 100
        assert meta["duration"] == pytest.approx(4.0, abs=0.05)
        assert meta["frames_manifests"] == [
            {"name": "frames_manifest.txt", "total_frames": 100, "visible_frames": 100}
        ]

    def test_frames_are_in_presentation_order_and_full_size(
        self, clip: Path, sink: MemorySink
    ) -> None:
        process_slot("video", [clip], sink=sink)
        for section in (1, 50, 100):
            hq = decode_jpeg(sink[f"sections/high/{section:09d}.jpg"])
            assert hq.size == (320, 240)
            expected = frame_colour(section - 1)[0]
            assert mean_red(sink[f"sections/high/{section:09d}.jpg"]) == pytest.approx(
                expected, abs=6
            )

    def test_manifest_lists_every_frame_with_its_time(self, clip: Path, sink: MemorySink) -> None:
        process_slot("video", [clip], sink=sink)
        lines = manifest_lines(sink)
        assert len(lines) == 100
        assert lines[0] == ["0", "0", "1", "0"]
        assert lines[99][:3] == ["99", "0", "1"]
        assert float(lines[99][3]) == pytest.approx(3.96)

    def test_thumbnail_is_the_middle_frame(self, clip: Path, sink: MemorySink) -> None:
        result = process_slot("video", [clip], sink=sink)
        assert result.thumbnail_name == "thumbnail.jpg"
        thumb = decode_jpeg(sink["thumbnail.jpg"])
        assert thumb.size == (267, 200)
        assert mean_red(sink["thumbnail.jpg"]) == pytest.approx(frame_colour(50)[0], abs=6)

    def test_progress_reaches_the_total(self, clip: Path, sink: MemorySink) -> None:
        calls: list[tuple[int, int]] = []
        process_slot("video", [clip], sink=sink, progress=lambda d, t: calls.append((d, t)))
        assert calls[-1] == (100, 100)
        assert [d for d, _ in calls] == sorted(d for d, _ in calls)

    def test_progress_counts_the_sections_the_slot_gets(self, clip: Path, sink: MemorySink) -> None:
        """At fps 5 of 25, 100 frames make 20 sections: the total is 20 all along, not 100."""
        calls: list[tuple[int, int]] = []
        result = process_slot(
            "video", [clip], sink=sink, fps=5, progress=lambda d, t: calls.append((d, t))
        )
        assert result.total_sections == 20
        assert len(calls) > 2
        assert {t for _, t in calls} == {20}
        assert calls[-1] == (20, 20)


class TestSampledRate:
    def test_fps_5_keeps_every_fifth_frame(self, clip: Path, sink: MemorySink) -> None:
        result = process_slot("video", [clip], sink=sink, fps=5)
        assert result.total_sections == 20
        assert result.metadata["visible_frames"] == 20
        assert result.metadata["total_frames"] == 100
        assert result.metadata["fps"] == 5
        lines = manifest_lines(sink)
        assert len(lines) == 100
        visible = [int(n) for n, _, v, _ in lines if v == "1"]
        assert visible == list(range(0, 100, 5))
        # Section 3 is frame 10.
        assert mean_red(sink["sections/high/000000003.jpg"]) == pytest.approx(
            frame_colour(10)[0], abs=6
        )

    def test_fractional_step_follows_darwin_py(self, clip: Path, sink: MemorySink) -> None:
        result = process_slot("video", [clip], sink=sink, fps=7)
        step = round(25 / 7, 4)
        expected = sorted({int(k * step) for k in range(100) if int(k * step) < 100})
        visible = [int(n) for n, _, v, _ in manifest_lines(sink) if v == "1"]
        assert visible == expected
        assert result.total_sections == len(expected) == 29

    def test_higher_fps_than_native_is_native(self, clip: Path, sink: MemorySink) -> None:
        assert process_slot("video", [clip], sink=sink, fps=60).total_sections == 100


class TestAsFrames:
    def test_frames_without_manifest(self, clip: Path, sink: MemorySink) -> None:
        result = process_slot("video", [clip], sink=sink, fps=5, as_frames=True)
        assert result.total_sections == 20
        assert result.metadata["as_frames"] is True
        assert "frames_manifests" not in result.metadata
        assert "frames_manifest.txt" not in sink
        assert "thumbnail.jpg" in sink


class TestLowQuality:
    def test_lq_at_most_720_high(self, tmp_path: Path, sink: MemorySink) -> None:
        path = write_video(tmp_path / "tall.mp4", seconds=0.2, size=(640, 1080))
        result = process_slot("video", [path], sink=sink)
        assert (result.width, result.height) == (640, 1080)
        assert decode_jpeg(sink["sections/high/000000001.jpg"]).size == (640, 1080)
        assert decode_jpeg(sink["sections/low/000000001.jpg"]).size == (426, 720)

    @pytest.mark.parametrize(
        ("size", "lq"),
        [
            ((320, 240), (320, 240)),
            ((1280, 720), (1280, 720)),
            ((1920, 1080), (1280, 720)),
            ((1280, 800), (1152, 720)),
            ((3840, 2160), (1280, 720)),
            ((1080, 1920), (404, 720)),
        ],
    )
    def test_lq_size_rule(self, size: tuple[int, int], lq: tuple[int, int]) -> None:
        assert lq_size(*size) == lq


class TestStreams:
    def test_rotation_is_applied(self, tmp_path: Path, sink: MemorySink) -> None:
        path = write_video(tmp_path / "rot.mp4", seconds=0.4, size=(320, 160), rotation=90)
        result = process_slot("video", [path], sink=sink)
        assert (result.width, result.height) == (160, 320)
        assert result.metadata["rotation"] == 90
        hq = np.asarray(decode_jpeg(sink["sections/high/000000001.jpg"]))
        assert hq.shape[:2] == (320, 160)
        # The top-left marker of the stored frame ends bottom-left after a 90 degree CCW turn.
        assert hq[-20:, :20].mean() > 240
        assert hq[:20, :20].mean() < 200

    @pytest.mark.parametrize(("rotation", "corner"), [(180, (-1, -1)), (270, (0, -1))])
    def test_other_rotations(
        self, tmp_path: Path, sink: MemorySink, rotation: int, corner: tuple[int, int]
    ) -> None:
        path = write_video(tmp_path / "rot.mp4", seconds=0.2, size=(320, 160), rotation=rotation)
        result = process_slot("video", [path], sink=sink)
        expected = (160, 320) if rotation == 270 else (320, 160)
        assert (result.width, result.height) == expected
        hq = np.asarray(decode_jpeg(sink["sections/high/000000001.jpg"]))
        rows = slice(-20, None) if corner[0] == -1 else slice(0, 20)
        cols = slice(-20, None) if corner[1] == -1 else slice(0, 20)
        assert hq[rows, cols].mean() > 240
        lq = decode_jpeg(sink["sections/low/000000001.jpg"])
        assert lq.size == expected

    def test_two_video_streams_use_one(self, tmp_path: Path, sink: MemorySink) -> None:
        import av

        path = tmp_path / "two.mkv"
        with av.open(str(path), "w") as out:
            small = out.add_stream("libx264", rate=25)
            small.width, small.height, small.pix_fmt = 160, 120, "yuv420p"
            big = out.add_stream("libx264", rate=25)
            big.width, big.height, big.pix_fmt = 320, 240, "yuv420p"
            for i in range(10):
                for stream in (small, big):
                    arr = np.full((stream.height, stream.width, 3), i * 20, dtype=np.uint8)
                    frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
                    frame.pts = i
                    for packet in stream.encode(frame):
                        out.mux(packet)
            for stream in (small, big):
                for packet in stream.encode():
                    out.mux(packet)
        result = process_slot("video", [path], sink=sink)
        assert result.metadata["total_frames"] == 10
        assert (result.width, result.height) in {(160, 120), (320, 240)}
        assert {s.width for s in result.sections} == {result.width}

    def test_audio_stream_is_ignored(self, tmp_path: Path, sink: MemorySink) -> None:
        path = write_video(tmp_path / "av.mkv", seconds=1.0, audio=True)
        result = process_slot("video", [path], sink=sink)
        assert result.metadata["total_frames"] == 25
        assert result.total_sections == 25

    def test_variable_frame_rate_keeps_real_timestamps(
        self, tmp_path: Path, sink: MemorySink
    ) -> None:
        # 30 frames: the first 10 at 10 fps, then 20 at 40 fps (ms time base).
        def pts(i: int) -> int:
            return i * 100 if i < 10 else 1000 + (i - 10) * 25

        path = write_video(
            tmp_path / "vfr.mkv", seconds=1.2, fps=25, pts_of=pts, time_base="1/1000"
        )
        result = process_slot("video", [path], sink=sink)
        assert result.metadata["total_frames"] == 30
        times = [float(t) for *_, t in manifest_lines(sink)]
        assert times[:3] == pytest.approx([0.0, 0.1, 0.2])
        assert times[10:13] == pytest.approx([1.0, 1.025, 1.05])
        assert result.metadata["native_fps"] > 0


class TestColour:
    @pytest.mark.parametrize("bt709", [False, True])
    def test_colours_match_the_source(self, tmp_path: Path, sink: MemorySink, bt709: bool) -> None:
        # JPEG means full-range BT.601: a BT.709 clip must be converted, not copied.
        colour = (200, 60, 40)
        path = write_video(tmp_path / "c.mp4", seconds=0.2, colour=colour, bt709=bt709)
        process_slot("video", [path], sink=sink)
        for name in ("sections/high/000000001.jpg", "sections/low/000000001.jpg"):
            mean = np.asarray(decode_jpeg(sink[name])).reshape(-1, 3).mean(axis=0)
            assert mean == pytest.approx(colour, abs=4)


class TestErrors:
    def test_not_a_video(self, tmp_path: Path, sink: MemorySink) -> None:
        path = tmp_path / "junk.mp4"
        path.write_bytes(b"\x00" * 1000)
        with pytest.raises(MediaError) as err:
            process_slot("video", [path], sink=sink)
        assert err.value.stage == "probe"

    @staticmethod
    def damage(clip: Path, tmp_path: Path, start: int, end: int) -> Path:
        data = bytearray(clip.read_bytes())
        noise = np.random.default_rng(1).integers(0, 256, end - start, dtype=np.uint8)
        data[start:end] = noise.tobytes()
        path = tmp_path / "damaged.mp4"
        path.write_bytes(bytes(data))
        return path

    def test_a_few_damaged_packets_are_skipped(
        self, clip: Path, tmp_path: Path, sink: MemorySink
    ) -> None:
        path = self.damage(clip, tmp_path, 1000, 3000)
        result = process_slot("video", [path], sink=sink)
        assert result.metadata["decode_errors"] > 0
        assert 0 < result.total_sections < 100
        assert result.total_sections == result.metadata["visible_frames"]

    def test_a_mostly_damaged_stream_fails_in_frames(
        self, clip: Path, tmp_path: Path, sink: MemorySink
    ) -> None:
        path = self.damage(clip, tmp_path, 64, clip.stat().st_size // 2)
        with pytest.raises(MediaError) as err:
            process_slot("video", [path], sink=sink)
        assert err.value.stage == "frames"

    def test_no_video_stream(self, tmp_path: Path, sink: MemorySink) -> None:
        import av

        path = tmp_path / "audio.m4a"
        with av.open(str(path), "w") as out:
            stream = out.add_stream("aac", rate=44100)
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate = 44100
            frame.pts = 0
            for packet in stream.encode(frame):
                out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        with pytest.raises(MediaError) as err:
            process_slot("video", [path], sink=sink)
        assert err.value.stage == "probe"
