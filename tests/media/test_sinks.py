from __future__ import annotations

import threading
from pathlib import Path

import pytest

from moorage.media import ConcurrentSink, DirectorySink, MemorySink, process_slot


class TestDirectorySink:
    def test_writes_under_the_root_creating_folders(self, tmp_path: Path) -> None:
        sink = DirectorySink(tmp_path / "slot")
        sink.put("sections/high/000000001.jpg", b"jpeg", "image/jpeg")
        sink.put("thumbnail.jpg", b"thumb", "image/jpeg")
        assert (tmp_path / "slot/sections/high/000000001.jpg").read_bytes() == b"jpeg"
        assert (tmp_path / "slot/thumbnail.jpg").read_bytes() == b"thumb"


class TestConcurrentSink:
    def test_every_put_reaches_the_inner_sink(self, clip: Path) -> None:
        inner = MemorySink()
        threads: set[str] = set()

        class Recording:
            def put(self, name: str, data: bytes, content_type: str) -> None:
                threads.add(threading.current_thread().name)
                inner.put(name, data, content_type)

        with ConcurrentSink(Recording(), workers=4, max_pending=8) as sink:
            result = process_slot("video", [clip], sink=sink, fps=5)
        assert len(inner.names("sections/high/")) == result.total_sections == 20
        assert len(inner.names("sections/low/")) == 20
        assert "thumbnail.jpg" in inner
        assert "frames_manifest.txt" in inner
        assert all(name.startswith("moorage-sink") for name in threads)

    def test_a_failed_upload_is_raised_on_exit(self) -> None:
        class Failing:
            def put(self, name: str, data: bytes, content_type: str) -> None:
                raise OSError(f"cannot store {name}")

        sink = ConcurrentSink(Failing())
        sink.put("thumbnail.jpg", b"x", "image/jpeg")
        with pytest.raises(OSError, match=r"cannot store thumbnail\.jpg"):
            sink.__exit__(None, None, None)

    def test_an_error_in_the_body_wins(self) -> None:
        sink = ConcurrentSink(MemorySink())
        sink.put("a", b"x", "text/plain")
        error = ValueError("boom")
        # Pending uploads are dropped and the body's error propagates unchanged.
        assert sink.__exit__(ValueError, error, None) is None
