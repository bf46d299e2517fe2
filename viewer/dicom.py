"""Key metadata of a DICOM file from its first bytes (the header), never the whole study."""

from __future__ import annotations

import io
import warnings

import pydicom
from pydicom.errors import InvalidDicomError

HEADER_BYTES = 64 * 1024

# (label, keyword) in the order the page shows them.
FIELDS = (
    ("Patient name", "PatientName"),
    ("Patient ID", "PatientID"),
    ("Study date", "StudyDate"),
    ("Study", "StudyDescription"),
    ("Series", "SeriesDescription"),
    ("Modality", "Modality"),
    ("Body part", "BodyPartExamined"),
    ("Institution", "InstitutionName"),
    ("Manufacturer", "Manufacturer"),
    ("Rows", "Rows"),
    ("Columns", "Columns"),
    ("Frames", "NumberOfFrames"),
)


def header_metadata(head: bytes) -> list[tuple[str, str]] | None:
    """Label/value pairs read from the first bytes of a DICOM file, or None when they are not readable."""
    with warnings.catch_warnings():
        # A header cut at 64 KB and vendors' small deviations make pydicom warn; neither is our business.
        warnings.simplefilter("ignore")
        try:
            dataset = pydicom.dcmread(io.BytesIO(head), stop_before_pixels=True, force=True)
            pairs = [(label, _text(dataset.get(keyword))) for label, keyword in FIELDS]
            transfer = dataset.file_meta.get("TransferSyntaxUID") if hasattr(dataset, "file_meta") else None
        except (InvalidDicomError, EOFError, ValueError, TypeError, KeyError, AttributeError, OSError):
            return None
    shown = [(label, value) for label, value in pairs if value]
    if transfer is not None:
        shown.append(("Transfer syntax", str(getattr(transfer, "name", transfer))))
    return shown or None


def _text(element: object) -> str:
    value = getattr(element, "value", element)
    return "" if value is None else str(value).strip()[:200]
