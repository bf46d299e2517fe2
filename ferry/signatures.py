"""Are the engine's signatures good enough to call a file clean? Shared by the scan core and `/readyz`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ferry.antivirus import EngineVersion

# ClamAV publishes daily updates several times a day; three days of silence means freshclam is broken,
# not that the world stopped writing malware (a weekend outage still fits).
DEFAULT_MAX_SIGNATURE_AGE = timedelta(days=3)

TEST_SIGNATURES_WARNING = (
    "clamd has only Ferry's test signatures loaded (no official ClamAV database): "
    "it detects the EICAR test file and nothing else"
)


def freshness_problem(version: EngineVersion, max_age: timedelta, now: datetime | None = None) -> str | None:
    """Why these signatures may not vouch for a clean file, or None when they may."""
    if version.test_signatures_only or version.signature_date is None:
        return TEST_SIGNATURES_WARNING
    age = (now or datetime.now(UTC)) - version.signature_date
    if age > max_age:
        days, limit = age / timedelta(days=1), max_age / timedelta(days=1)
        return f"stale signatures: version {version.signature_version} is {days:.1f} days old (max {limit:g})"
    return None


@dataclass(frozen=True)
class SignatureAssessment:
    """The signature state for readiness: usable or not, and what an operator should know."""

    usable: bool
    warning: str | None
    version: EngineVersion
    age: timedelta | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields for `/readyz`."""
        date = self.version.signature_date
        return {
            "engine": self.version.engine,
            "signature_version": self.version.signature_version,
            "signature_date": date.isoformat() if date else None,
            "signature_age_days": round(self.age.total_seconds() / 86400, 2)
            if self.age is not None
            else None,
            "test_signatures_only": self.version.test_signatures_only,
            "warning": self.warning,
        }


def assess_signatures(
    version: EngineVersion,
    *,
    production: bool,
    max_age: timedelta = DEFAULT_MAX_SIGNATURE_AGE,
    now: datetime | None = None,
) -> SignatureAssessment:
    """Production needs fresh official signatures; development runs on anything, with a warning."""
    problem = freshness_problem(version, max_age, now)
    age = (now or datetime.now(UTC)) - version.signature_date if version.signature_date else None
    return SignatureAssessment(
        usable=problem is None or not production, warning=problem, version=version, age=age
    )
