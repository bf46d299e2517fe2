"""Signature freshness: what may vouch for a clean file, and what /readyz reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ferry.antivirus import EngineVersion
from ferry.signatures import assess_signatures, freshness_problem

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TEST_ONLY = EngineVersion.parse("ClamAV 1.4.6")
FRESH = EngineVersion.parse("ClamAV 1.4.6/27471/Tue Nov 24 06:00:00 2026")
STALE = EngineVersion.parse("ClamAV 1.4.6/27466/Wed Nov 18 06:00:00 2026")


def test_freshness() -> None:
    assert freshness_problem(FRESH, timedelta(days=3), NOW) is None
    assert "stale signatures" in (freshness_problem(STALE, timedelta(days=3), NOW) or "")
    assert "test signatures" in (freshness_problem(TEST_ONLY, timedelta(days=3), NOW) or "")


def test_production_needs_fresh_official_signatures() -> None:
    assert assess_signatures(FRESH, production=True, now=NOW).usable
    assert not assess_signatures(STALE, production=True, now=NOW).usable
    assert not assess_signatures(TEST_ONLY, production=True, now=NOW).usable


def test_development_runs_on_test_signatures_with_a_warning() -> None:
    assessment = assess_signatures(TEST_ONLY, production=False, now=NOW)
    assert assessment.usable
    assert assessment.warning and "test signatures" in assessment.warning
    report = assessment.as_dict()
    assert report["test_signatures_only"] is True
    assert report["signature_version"] is None and report["signature_age_days"] is None


def test_report_of_official_signatures() -> None:
    report = assess_signatures(FRESH, production=True, now=NOW).as_dict()
    assert report == {
        "engine": "1.4.6",
        "signature_version": 27471,
        "signature_date": "2026-11-24T06:00:00+00:00",
        "signature_age_days": 0.25,
        "test_signatures_only": False,
        "warning": None,
    }
