"""A processing job's work as the worker reads it, for tests that run jobs without a database."""

from __future__ import annotations

import uuid

from moorage.worker.work import Source, Work


def image_work(key: str = "in/cat.jpg", *, supplied: bool = False) -> Work:
    """An image slot's job on a memory storage, its file at ``key``."""
    return Work(
        job_id=uuid.uuid4(),
        token=1,
        item_id=uuid.uuid4(),
        slot_id=uuid.uuid4(),
        kind="image",
        storage_key=key,
        fps=None,
        as_frames=False,
        extract_views=False,
        storage_id=1,
        provider="memory",
        prefix="derived",
        sources=(Source(key, "cat.jpg"),),
        supplied=supplied,
    )
