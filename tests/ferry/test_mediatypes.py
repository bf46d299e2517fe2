"""ferry.mediatypes: one spelling per type, and the allow-list patterns uploads and previews are held to."""

from __future__ import annotations

from ferry.mediatypes import matches, normalise


def test_type_patterns() -> None:
    patterns = ("video/*", "application/pdf")
    assert matches("video/quicktime", patterns)
    assert matches("application/pdf", patterns)
    assert not matches("application/pdfx", patterns)
    assert not matches("videox/mp4", patterns)
    assert matches("application/x-anything", ("*/*",))


def test_spellings_are_normalised() -> None:
    assert normalise("Image/JPG; q=0.9") == "image/jpeg"
    assert normalise(None) == normalise("") == ""
