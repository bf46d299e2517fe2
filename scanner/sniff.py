"""What a file really is (libmagic on its first bytes), and whether Ferry accepts it.

The rule, in order:

1. Executables, scripts and browser-active markup (HTML, SVG, JavaScript) are rejected, whether they
   are the sniffed or the declared type, unless the allow-list names that exact type (a wildcard such
   as "image/*" never lets SVG in).
2. The effective type is what libmagic says, with two tolerated gaps in libmagic's knowledge:
   - libmagic sees only the container of some formats (application/zip for OOXML and ODF documents,
     OLE2 storage for legacy Office): when the declared type is one that container holds, the declared
     type is the effective type;
   - libmagic says application/octet-stream when it does not recognise the bytes at all (DICOM without
     its 128-byte preamble, for example): the declared type is accepted only when it matches
     `trust_declared_when_unknown` (by default only DICOM).
3. The effective type must match the allow-list.
4. When the client declared a specific type, it must agree with the content: the same type after
   aliases, or the same family (image, or audio/video together, or text). A declared
   application/octet-stream (or nothing) means "the browser did not know" and is not compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import magic

from ferry.mediatypes import UNKNOWN, matches, normalise

# libmagic reads at most this much of a file by default (its `bytes_max`); giving it more changes nothing.
SNIFF_BYTES = 1024 * 1024
DEFAULT_TRUST_DECLARED_WHEN_UNKNOWN = ("application/dicom",)

# Content that runs when opened (natively or in a browser): never accepted through a wildcard.
ACTIVE_TYPES = frozenset(
    {
        "application/x-dosexec",
        "application/x-executable",
        "application/x-pie-executable",
        "application/x-sharedlib",
        "application/x-object",
        "application/x-mach-binary",
        "application/x-elf",
        "application/vnd.microsoft.portable-executable",
        "application/x-msdownload",
        "application/x-msi",
        "application/x-ms-installer",
        "application/vnd.ms-cab-compressed",
        "application/java-archive",
        "application/x-java-applet",
        "application/java-vm",
        "application/x-shockwave-flash",
        "application/x-bat",
        "application/x-msdos-program",
        "application/hta",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "text/javascript",
        "text/ecmascript",
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/x-shellscript",
        "application/x-shellscript",
        "text/x-script.python",
        "text/x-python",
        "text/x-perl",
        "text/x-php",
        "text/x-ruby",
        "text/x-lua",
        "text/x-tcl",
        "text/x-msdos-batch",
        "text/x-powershell",
        "application/x-powershell",
    }
)

_OOXML_AND_ODF = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)
_OLE2_OFFICE = frozenset({"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"})
# Generic containers libmagic may report for a document format it cannot tell apart.
CONTAINERS: dict[str, frozenset[str]] = {
    "application/zip": _OOXML_AND_ODF,
    "application/x-ole-storage": _OLE2_OFFICE,
    "application/cdfv2": _OLE2_OFFICE,
}

_FAMILIES = {"image": "image", "video": "media", "audio": "media", "text": "text"}


@dataclass(frozen=True)
class TypeDecision:
    """The outcome of the type rule for one file."""

    accepted: bool
    sniffed: str  # what libmagic said, normalised
    effective: str  # the type Ferry will treat (and serve) the file as
    reason: str | None = None  # why it was rejected


def sniff(head: bytes) -> str:
    """libmagic's MIME type for the first bytes of a file (DICOM needs at least 132 of them)."""
    return normalise(str(magic.from_buffer(head[:SNIFF_BYTES], mime=True)))


def decide_type(
    sniffed: str,
    declared: str | None,
    allowed: Sequence[str],
    trust_declared_when_unknown: Sequence[str] = DEFAULT_TRUST_DECLARED_WHEN_UNKNOWN,
) -> TypeDecision:
    """Apply the module's type rule to a sniffed and a declared type."""
    sniffed = normalise(sniffed)
    declared = normalise(declared)
    explicit = {normalise(pattern) for pattern in allowed}

    def reject(reason: str, effective: str = sniffed) -> TypeDecision:
        return TypeDecision(False, sniffed, effective, reason)

    for kind, media_type in (("content", sniffed), ("declared type", declared)):
        if media_type in ACTIVE_TYPES and media_type not in explicit:
            return reject(f"executable or active {kind} ({media_type}) is never accepted")

    known_declared = declared if declared and declared != UNKNOWN else ""
    if sniffed == UNKNOWN:
        if not (known_declared and matches(known_declared, trust_declared_when_unknown)):
            return reject("the content type could not be recognised")
        effective = known_declared
    elif known_declared and known_declared in CONTAINERS.get(sniffed, frozenset()):
        effective = known_declared
    else:
        effective = sniffed

    if not matches(effective, allowed):
        return reject(f"{effective} files are not accepted", effective)
    if known_declared and not _compatible(known_declared, effective):
        return reject(f"declared as {known_declared} but the content is {sniffed}", effective)
    return TypeDecision(True, sniffed, effective)


def _compatible(declared: str, effective: str) -> bool:
    """The same type, or two types of one family (image, audio/video, text)."""
    if declared == effective:
        return True
    family = _FAMILIES.get(declared.split("/", 1)[0])
    return family is not None and family == _FAMILIES.get(effective.split("/", 1)[0])
