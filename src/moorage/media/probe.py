"""Which kind of media a file is, from its name and its first bytes.

A known extension decides (darwin-py's map, except that ``.nii``/``.nii.gz`` are NIfTI
rather than darwin-py's ``video``); a missing or unknown extension falls back to the content:
``DICM`` at offset 128, NIfTI-1/2 magic (also inside gzip), PDF, image and video container
signatures. Give ``head`` at least the first 4 KiB; 132 bytes are enough for DICOM.
"""

from __future__ import annotations

import zlib

from moorage.media.base import MediaKind

__all__ = ["EXTENSION_KINDS", "kind_from_content", "kind_from_extension", "sniff_kind"]

EXTENSION_KINDS: dict[str, MediaKind] = {
    **{
        ext: "image"
        for ext in ("png", "jpeg", "jpg", "jfif", "tif", "tiff", "qtiff", "bmp", "svs", "webp")
    },
    "pdf": "pdf",
    "dcm": "dicom",
    **{ext: "video" for ext in ("avi", "bpm", "mov", "mp4", "mkv", "hevc", "ndpi", "rvg")},
    "nii": "nifti",
    "nii.gz": "nifti",
}

_IMAGE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
    b"II+\x00",
    b"MM\x00+",
)
_VIDEO_MAGIC = (b"\x1a\x45\xdf\xa3", b"FLV\x01", b"\x00\x00\x01\xba")
_IMAGE_BRANDS = {b"avif", b"avis"}
_UNSUPPORTED_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


def kind_from_extension(file_name: str) -> MediaKind | None:
    name = file_name.rsplit("/", 1)[-1].lower()
    if name.endswith(".nii.gz"):
        return "nifti"
    if "." not in name:
        return None
    return EXTENSION_KINDS.get(name.rsplit(".", 1)[-1])


def _is_nifti(head: bytes) -> bool:
    if len(head) >= 348 and head[344:348] in (b"n+1\x00", b"ni1\x00"):
        return True
    return len(head) >= 12 and head[4:12] in (b"n+2\x00\r\n\x1a\n", b"ni2\x00\r\n\x1a\n")


def _gunzip_head(head: bytes) -> bytes:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 1024)
    except zlib.error:
        return b""


def kind_from_content(head: bytes) -> MediaKind | None:
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(b"\x1f\x8b"):
        return "nifti" if _is_nifti(_gunzip_head(head)) else None
    if _is_nifti(head):
        return "nifti"
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(_IMAGE_MAGIC):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[:2] == b"BM" and len(head) >= 26 and head[6:10] == b"\x00\x00\x00\x00":
        return "image"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            return "image"
        return None if brand in _UNSUPPORTED_BRANDS else "video"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "video"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video"
    if head.startswith(_VIDEO_MAGIC):
        return "video"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "video"  # MPEG transport stream
    return None


def sniff_kind(head: bytes, file_name: str) -> MediaKind | None:
    """The kind by extension when the extension is known, else by content; None if neither."""
    return kind_from_extension(file_name) or kind_from_content(head)
