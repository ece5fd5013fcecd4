"""Slot types: the contract's four, and the media kind behind each (NIfTI is a volume)."""

from __future__ import annotations

__all__ = ["SLOT_TYPES", "SNIFF_BYTES", "has_extension", "kind_to_type"]

SLOT_TYPES = ("image", "video", "pdf", "dicom")

#: how many leading bytes are read to tell the type of a file without a known extension
SNIFF_BYTES = 4096


def has_extension(name: str) -> bool:
    return "." in name.rsplit("/", 1)[-1]


def kind_to_type(kind: str) -> str:
    """The contract's slot type for a media kind (NIfTI volumes are shown as DICOM-like)."""
    return "dicom" if kind == "nifti" else kind
