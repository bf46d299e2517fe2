"""Media types as Ferry compares them: one spelling per type, and allow-list patterns."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

UNKNOWN = "application/octet-stream"

# Spellings of one type used by browsers, operating systems and libmagic.
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-ms-bmp": "image/bmp",
    "image/x-png": "image/png",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/x-mp3": "audio/mpeg",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "video/x-m4v": "video/mp4",
    "video/avi": "video/x-msvideo",
    "video/msvideo": "video/x-msvideo",
    "application/x-pdf": "application/pdf",
    "application/x-dicom": "application/dicom",
    "text/rtf": "application/rtf",
    "application/x-rtf": "application/rtf",
    "application/x-zip-compressed": "application/zip",
    "text/x-csv": "text/csv",
    "application/csv": "text/csv",
}


def normalise(media_type: str | None) -> str:
    """Lower-case, without parameters, with aliases resolved; "" for nothing."""
    base = (media_type or "").split(";", 1)[0].strip().lower()
    return ALIASES.get(base, base)


def matches(media_type: str, patterns: Sequence[str]) -> bool:
    """Does `media_type` match one of the allow-list `patterns` ("video/*", "application/pdf", "*/*")?"""
    return any(fnmatch.fnmatchcase(media_type, normalise(pattern)) for pattern in patterns)
