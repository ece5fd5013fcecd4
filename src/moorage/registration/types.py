"""Slot types, inferred from the file name as darwin-py does, or from the first bytes."""

from __future__ import annotations

SLOT_TYPES = ("image", "video", "pdf", "dicom")

# darwin-py's extension map; NIfTI comes as "video" from darwin-py but is a volume here
_EXTENSIONS: dict[str, str] = {
    **dict.fromkeys(
        ("png", "jpeg", "jpg", "jfif", "tif", "tiff", "qtiff", "bmp", "svs", "webp"), "image"
    ),
    "pdf": "pdf",
    "dcm": "dicom",
    **dict.fromkeys(("avi", "bpm", "mov", "mp4", "mkv", "hevc", "ndpi", "rvg"), "video"),
    "nii": "nifti",
    "nii.gz": "nifti",
}

#: how many leading bytes ``sniff`` needs
SNIFF_BYTES = 352


def extension_kind(name: str) -> str | None:
    """The media kind an extension names (image, video, pdf, dicom, nifti), or ``None``."""
    lower = name.lower()
    if lower.endswith(".nii.gz"):
        return "nifti"
    base = lower.rsplit("/", 1)[-1]
    if "." not in base:
        return None
    return _EXTENSIONS.get(base.rsplit(".", 1)[-1])


def has_extension(name: str) -> bool:
    return "." in name.rsplit("/", 1)[-1]


def kind_to_type(kind: str) -> str:
    """The contract's slot type for a media kind (NIfTI volumes are shown as DICOM-like)."""
    return "dicom" if kind == "nifti" else kind
