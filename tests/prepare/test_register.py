from __future__ import annotations

import json

from moorage.prepare.register import MAX_CHUNK_BYTES, _chunks


class TestChunks:
    def test_at_most_chunk_size_items(self) -> None:
        items = [{"name": str(i)} for i in range(5)]
        assert [len(c) for c in _chunks(items, 2)] == [2, 2, 1]
        assert [c for chunk in _chunks(items, 2) for c in chunk] == items

    def test_at_most_about_eight_megabytes(self) -> None:
        big = {"name": "x" * (MAX_CHUNK_BYTES // 3)}
        chunks = list(_chunks([big] * 7, 10_000))
        assert [len(c) for c in chunks] == [2, 2, 2, 1]
        assert all(len(json.dumps(c)) < MAX_CHUNK_BYTES + 100 for c in chunks)

    def test_one_item_larger_than_the_cap_goes_alone(self) -> None:
        huge = {"name": "x" * (MAX_CHUNK_BYTES + 1)}
        assert [len(c) for c in _chunks([huge, {"name": "y"}], 10)] == [1, 1]
