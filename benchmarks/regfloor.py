"""The hand-made floor of one register_existing request: the least work the same result needs.

orjson parse of the request body, one ``os.lstat`` per key, the item, slot and job rows built
in plain Python (values that are the same for every row converted once), raw inserts into
moorage's own tables (created by its migrations, indexes included): ``executemany`` on SQLite,
``COPY`` on PostgreSQL, commit, and an orjson dump of a response of the same shape. No
validation, no HTTP, no ORM: what moorage is measured against. It spells out its own column
lists (the same as ``registration/rows.py``'s) so that nothing of moorage's code is in it.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import psycopg

_ITEM_COLS = [
    "id",
    "team_id",
    "dataset_id",
    "storage_id",
    "name",
    "path",
    "status",
    "processing_status",
    "archived",
    "priority",
    "size_bytes",
    "primary_type",
    "layout",
    "options",
    "inserted_at",
    "updated_at",
]
_SLOT_COLS = [
    "id",
    "item_id",
    "position",
    "slot_name",
    "type",
    "kind",
    "file_name",
    "storage_key",
    "storage_thumbnail_key",
    "size_bytes",
    "fps",
    "as_frames",
    "extract_views",
    "metadata",
    "total_sections",
]
_JOB_COLS = [
    "id",
    "team_id",
    "item_id",
    "slot_id",
    "kind",
    "status",
    "attempts",
    "created_at",
    "updated_at",
]


def _new_id() -> uuid.UUID:
    return uuid.UUID(bytes=os.urandom(16), version=4)


def _rows(
    items: list[dict[str, Any]],
    *,
    root: Path,
    ids: list[tuple[int, int, int]],
    sqlite: bool,
) -> tuple[list[str], list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(item ids as text, item rows, slot rows, job rows), values in the driver's own form:
    on SQLite the ids are hex text and the timestamps text, as SQLAlchemy stores them."""
    team_id, dataset_id, storage_id = ids[0]
    now_dt = datetime.now(UTC)
    now: Any = now_dt.replace(tzinfo=None).isoformat(" ") if sqlite else now_dt
    layout = orjson.dumps({"version": 1, "type": "simple", "slots": ["0"]}).decode()
    prefix = str(root) + "/"
    texts, item_rows, slot_rows, job_rows = [], [], [], []
    for raw in items:
        slot = raw["slots"][0]
        os.lstat(prefix + slot["storage_key"])
        iid, sid, jid = _new_id(), _new_id(), _new_id()
        texts.append(str(iid))
        i, s, j = (iid.hex, sid.hex, jid.hex) if sqlite else (iid, sid, jid)
        item_rows.append(
            (i, team_id, dataset_id, storage_id, raw["name"], raw["path"], "processing",
             "processing", False, 0, None, "image", layout, "{}", now, now)
        )  # fmt: skip
        slot_rows.append(
            (s, i, 0, "0", "image", "image", slot["file_name"], slot["storage_key"], None,
             None, None, False, False, '{"position": 0}', 0)
        )  # fmt: skip
        job_rows.append((j, team_id, i, s, "process_slot", "queued", 0, now, now))
    return texts, item_rows, slot_rows, job_rows


def _response(texts: list[str], item_rows: list[tuple[Any, ...]], base: str) -> bytes:
    out = []
    for iid, row in zip(texts, item_rows, strict=True):
        url = f"{base}/items/{iid}/slots/{quote('0', safe='')}"
        out.append(
            {
                "id": iid, "name": row[4], "path": row[5], "status": "processing",
                "processing_status": "processing", "archived": False, "dataset_id": row[2],
                "priority": 0, "layout": {"version": 1, "type": "simple", "slots": ["0"]},
                "slot_types": ["image"], "tags": [], "tag_values": {},
                "inserted_at": row[14], "updated_at": row[15],
                "slots": [{"slot_name": "0", "type": "image", "file_url": f"{url}/file",
                           "thumbnail_url": f"{url}/thumbnail", "metadata": {"position": 0}}],
            }
        )  # fmt: skip
    return orjson.dumps({"items": out, "blocked_items": []})


def _sqlite_insert(path: str, tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]]) -> None:
    conn = sqlite3.connect(path)
    try:
        for table, (cols, rows) in tables.items():
            marks = ", ".join("?" * len(cols))
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                rows,
            )
        conn.commit()
    finally:
        conn.close()


def _pg_insert(url: str, tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]]) -> None:
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            for table, (cols, rows) in tables.items():
                names = ", ".join(f'"{c}"' for c in cols)
                with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        conn.commit()


def run_floor(
    body: bytes,
    *,
    database_url: str,
    root: Path,
    team_id: int,
    dataset_id: int,
    storage_id: int,
    base: str,
) -> tuple[float, int]:
    """One floor run: (seconds, bytes of the response)."""
    start = time.perf_counter()
    payload = orjson.loads(body)
    sqlite = database_url.startswith("sqlite:///")
    ids = [(team_id, dataset_id, storage_id)]
    texts, items, slots, jobs = _rows(payload["items"], root=root, ids=ids, sqlite=sqlite)
    tables = {"items": (_ITEM_COLS, items), "slots": (_SLOT_COLS, slots), "jobs": (_JOB_COLS, jobs)}
    if sqlite:
        _sqlite_insert(database_url.removeprefix("sqlite:///"), tables)
    else:
        _pg_insert(database_url, tables)
    answer = _response(texts, items, base)
    return time.perf_counter() - start, len(answer)
