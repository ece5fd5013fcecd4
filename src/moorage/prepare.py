"""``moorage prepare``: make the derivatives of local files for **read-only** storage.

On read-only storage moorage cannot write thumbnails and frames, so the caller supplies them
(``storage_thumbnail_key``, ``width``, ``height``, ``sections``). ``prepare`` runs the same
media processing as the worker, locally, and writes the results into ``out_dir`` laid out like
the bucket, so one ``aws s3 sync out_dir s3://bucket`` (or ``gsutil rsync``, ``azcopy``) uploads
them where the payload says:

    out_dir/{key_prefix}/{stem}/thumbnail.jpg
    out_dir/{key_prefix}/{stem}/sections/high/000000001.jpg|png
    out_dir/{key_prefix}/{stem}/sections/low/000000001.jpg
    out_dir/{key_prefix}/{stem}/frames_manifest.txt          (videos)

``stem`` is the file name without its extension (``{stem}_{ext}`` when two files share a stem).
The originals are not copied: each item's ``storage_key`` is ``{key_prefix}/{file name}``, so
upload the originals there too (or edit the keys).

The return value is a ``register_existing`` payload fragment, ``{"items": [...]}``, one
single-slot item per file (slot ``"0"``), with the read-only fields the seed document shows.
Files that cannot be processed are listed under ``"errors"`` (``{file, stage, message}``);
that key is absent when every file succeeded, and must be removed before sending.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from moorage.media import DirectorySink, MediaError, SlotResult, process_slot, sniff_kind
from moorage.media.base import MANIFEST_NAME, MediaKind

__all__ = ["prepare"]

SNIFF_BYTES = 4096


def _slot_type(kind: MediaKind) -> str:
    # The contract knows image, video, pdf and dicom; NIfTI volumes register as DICOM-like.
    return "dicom" if kind == "nifti" else kind


def _folders(files: list[Path]) -> list[str]:
    """A distinct folder name per file: the stem, or ``stem_ext`` on a clash."""
    names: list[str] = []
    taken: set[str] = set()
    for path in files:
        name = path.name
        stem = name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else path.stem
        candidate = stem or name
        if candidate in taken:
            candidate = name.replace(".", "_")
        suffix = 2
        base = candidate
        while candidate in taken:
            candidate = f"{base}_{suffix}"
            suffix += 1
        taken.add(candidate)
        names.append(candidate)
    return names


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def _item(
    path: Path,
    kind: MediaKind,
    result: SlotResult,
    folder_key: str,
    key_prefix: str,
    fps: float | None,
) -> dict[str, Any]:
    slot: dict[str, Any] = {
        "slot_name": "0",
        "type": _slot_type(kind),
        "storage_key": _join(key_prefix, path.name),
        "file_name": path.name,
        "size_bytes": path.stat().st_size,
        "width": result.width,
        "height": result.height,
    }
    if result.thumbnail_name:
        slot["storage_thumbnail_key"] = _join(folder_key, result.thumbnail_name)
    if result.sections:
        slot["sections"] = [
            {
                "section_index": s.index,
                "width": s.width,
                "height": s.height,
                "storage_hq_key": _join(folder_key, s.hq_name),
                "storage_lq_key": _join(folder_key, s.lq_name) if s.lq_name else None,
            }
            for s in result.sections
        ]
    metadata = dict(result.metadata)
    if kind == "video":
        slot["fps"] = fps if fps and fps > 0 else 0
        slot["as_frames"] = False
        manifests = metadata.get("frames_manifests") or []
        metadata["frames_manifests"] = [
            {**m, "storage_key": _join(folder_key, m.get("name", MANIFEST_NAME))} for m in manifests
        ]
    slot["metadata"] = metadata
    return {"name": path.name, "path": "/", "slots": [slot]}


def _process_one(
    path: Path, folder: str, out_dir: Path, key_prefix: str, fps: float | None
) -> dict[str, Any]:
    """One file: ``{"item": ...}`` or ``{"error": ...}``."""
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        return {"error": {"file": str(path), "stage": "probe", "message": str(exc)}}
    kind = sniff_kind(head, path.name)
    if kind is None:
        message = "not an image, video, PDF, DICOM or NIfTI file"
        return {"error": {"file": str(path), "stage": "probe", "message": message}}
    folder_key = _join(key_prefix, folder)
    sink = DirectorySink(out_dir / folder_key) if folder_key else DirectorySink(out_dir)
    try:
        result = process_slot(kind, [path], sink=sink, fps=fps)
    except MediaError as exc:
        return {"error": {"file": str(path), "stage": exc.stage, "message": exc.message}}
    return {"item": _item(path, kind, result, folder_key, key_prefix, fps)}


def prepare(
    files: list[Path], out_dir: Path, *, key_prefix: str, fps: float | None = None
) -> dict[str, Any]:
    """Process ``files`` into ``out_dir`` and return ``{"items": [...]}`` (see the module doc).

    Files run a few at a time (videos already use every core on their own); items come back in
    the order of ``files``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    folders = _folders(files)
    workers = max(1, min(len(files), os.cpu_count() or 2))
    with ThreadPoolExecutor(workers, thread_name_prefix="moorage-prepare") as pool:
        outcomes = list(
            pool.map(
                lambda pair: _process_one(pair[0], pair[1], out_dir, key_prefix, fps),
                zip(files, folders, strict=True),
            )
        )
    payload: dict[str, Any] = {"items": [o["item"] for o in outcomes if "item" in o]}
    errors = [o["error"] for o in outcomes if "error" in o]
    if errors:
        payload["errors"] = errors
    return payload
