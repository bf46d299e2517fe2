"""The type rule: libmagic's answer, the declared type and the allow-list."""

from __future__ import annotations

import pytest

from ferry.config import DEFAULT_ALLOWED_TYPES
from ferry.mediatypes import matches, normalise
from scanner.sniff import decide_type, sniff

ALLOWED = DEFAULT_ALLOWED_TYPES


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("png", "image/png"),
        ("pdf", "application/pdf"),
        ("mp4", "video/mp4"),
        ("dicom", "application/dicom"),
        ("elf", "application/x-executable"),
        ("pe", "application/vnd.microsoft.portable-executable"),
    ],
)
def test_sniffs_generated_samples(samples: dict[str, bytes], name: str, expected: str) -> None:
    assert sniff(samples[name]) == expected


def test_dicom_needs_its_preamble(samples: dict[str, bytes]) -> None:
    # Without the 128-byte preamble and "DICM", libmagic does not know the bytes.
    assert sniff(samples["dicom"][132:]) == "application/octet-stream"


@pytest.mark.parametrize(
    ("sniffed", "declared", "effective"),
    [
        ("video/mp4", "video/mp4", "video/mp4"),
        ("video/quicktime", "video/mp4", "video/quicktime"),  # one family: audio/video
        ("audio/x-m4a", "video/mp4", "audio/mp4"),
        ("image/jpeg", "image/jpg", "image/jpeg"),  # alias
        ("image/jpeg", "image/png", "image/jpeg"),  # one family: image
        ("text/plain", "text/csv", "text/plain"),  # one family: text
        ("application/dicom", "application/octet-stream", "application/dicom"),  # browser did not know
        ("application/dicom", "", "application/dicom"),
        ("application/octet-stream", "application/dicom", "application/dicom"),  # DICOM without preamble
        (
            "application/zip",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("application/x-ole-storage", "application/msword", "application/msword"),
        ("application/pdf", "application/pdf; charset=binary", "application/pdf"),
    ],
)
def test_accepts(sniffed: str, declared: str, effective: str) -> None:
    decision = decide_type(sniffed, declared, ALLOWED)
    assert decision.accepted, decision.reason
    assert decision.effective == effective


@pytest.mark.parametrize(
    ("sniffed", "declared", "reason"),
    [
        ("application/x-executable", "video/mp4", "executable or active content"),
        ("application/x-sharedlib", "video/mp4", "executable or active content"),
        ("application/vnd.microsoft.portable-executable", "video/mp4", "executable or active content"),
        ("application/x-dosexec", "application/octet-stream", "executable or active content"),
        ("text/x-shellscript", "text/plain", "executable or active content"),
        ("image/svg+xml", "image/svg+xml", "executable or active content"),  # "image/*" does not let SVG in
        ("text/plain", "text/html", "executable or active declared type"),
        ("image/png", "video/mp4", "declared as video/mp4 but the content is image/png"),
        ("application/pdf", "image/png", "declared as image/png but the content is application/pdf"),
        ("application/octet-stream", "video/mp4", "could not be recognised"),
        ("application/octet-stream", "", "could not be recognised"),
        ("application/zip", "application/zip", "application/zip files are not accepted"),
        ("application/zip", "application/pdf", "application/zip files are not accepted"),
        ("application/x-empty", "text/plain", "application/x-empty files are not accepted"),
    ],
)
def test_rejects(sniffed: str, declared: str, reason: str) -> None:
    decision = decide_type(sniffed, declared, ALLOWED)
    assert not decision.accepted
    assert reason in (decision.reason or "")


def test_active_type_named_exactly_in_the_allow_list_is_accepted() -> None:
    assert decide_type("image/svg+xml", "image/svg+xml", ["image/svg+xml"]).accepted
    assert not decide_type("image/svg+xml", "image/svg+xml", ["*/*"]).accepted


def test_trust_declared_when_unknown_is_configurable() -> None:
    assert not decide_type("application/octet-stream", "video/mp4", ["video/*"]).accepted
    assert decide_type("application/octet-stream", "video/mp4", ["video/*"], ["video/*"]).accepted


def test_normalise_and_match() -> None:
    assert normalise(" Image/JPG ; q=1") == "image/jpeg"
    assert normalise(None) == ""
    assert matches("video/webm", ["video/*"])
    assert matches("application/pdf", ["*/*"])
    assert not matches("application/pdfx", ["application/pdf"])
