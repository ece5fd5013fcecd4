"""Media processing: files in, derivatives (thumbnail, sections, manifest) out.

Pure functions: no database, no HTTP, no storage adapters. The caller downloads the originals,
passes local paths and a ``DerivativeSink``, and stores what the sink receives under the slot's
folder. See each module's docstring for the layout it produces (images, video, dicom, nifti,
pdf).
"""

from pathlib import Path

from moorage.media.base import (
    ConcurrentSink,
    DerivativeSink,
    DirectorySink,
    MediaError,
    MediaKind,
    MemorySink,
    SectionInfo,
    SlotResult,
)
from moorage.media.images import make_thumbnail
from moorage.media.limits import NO_LIMITS, LimitExceeded, Limits
from moorage.media.probe import sniff_kind
from moorage.media.process import process_slot

__all__ = [
    "NO_LIMITS",
    "ConcurrentSink",
    "DerivativeSink",
    "DirectorySink",
    "LimitExceeded",
    "Limits",
    "MediaError",
    "MediaKind",
    "MemorySink",
    "SectionInfo",
    "SlotResult",
    "dicom_layout_key",
    "make_thumbnail",
    "process_slot",
    "sniff_kind",
]


def dicom_layout_key(path: Path) -> tuple[int, str, str]:
    """``(series number, laterality, view position)`` of a DICOM file, read from its header only;
    the sort key for arranging a multi-slot DICOM item. Missing values sort first (0, "")."""
    from moorage.media.dicom_geometry import dicom_layout_key as key

    return key(path)
