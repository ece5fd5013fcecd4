from __future__ import annotations

from pathlib import Path

import pytest

from moorage.media import MediaError, MemorySink, process_slot


class TestProcessSlot:
    @pytest.mark.parametrize("kind", ["video", "pdf", "nifti"])
    def test_one_file_kinds_refuse_several(self, tmp_path: Path, kind: str) -> None:
        files = [tmp_path / "a", tmp_path / "b"]
        for f in files:
            f.write_bytes(b"x")
        with pytest.raises(MediaError) as err:
            process_slot(kind, files, sink=MemorySink())  # type: ignore[arg-type]
        assert err.value.stage == "probe"
        assert "holds one file" in err.value.message

    def test_missing_source(self, tmp_path: Path) -> None:
        with pytest.raises(MediaError) as err:
            process_slot("dicom", [tmp_path / "gone.dcm"], sink=MemorySink())
        assert err.value.stage == "probe"

    def test_no_source(self) -> None:
        with pytest.raises(MediaError) as err:
            process_slot("image", [], sink=MemorySink())
        assert err.value.stage == "probe"
        assert str(err.value) == "probe: no file given"
