"""Errors of the Genesys Cloud client: every HTTP or network failure ends up as one of these."""

from __future__ import annotations

import json
from typing import Any


class GenesysError(Exception):
    """Genesys Cloud refused or failed a request; carries the fields of Genesys's `ErrorBody`."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        context_id: str | None = None,
        details: list[dict[str, Any]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.context_id = context_id
        self.details: list[dict[str, Any]] = details or []
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.code:
            parts.append(f"code={self.code}")
        if self.context_id:
            parts.append(f"contextId={self.context_id}")
        return " ".join(parts)

    @classmethod
    def from_response(
        cls, status: int, body: bytes, *, retry_after: float | None = None, context_id: str | None = None
    ) -> GenesysError:
        """From an error response: an `ErrorBody`, an OAuth error (`error`, `error_description`), or text."""
        parsed = _json_object(body)
        if parsed is None:
            text = body.decode("utf-8", "replace").strip()[:200]
            return cls(
                text or f"HTTP {status}", status=status, retry_after=retry_after, context_id=context_id
            )
        details = parsed.get("details")
        message = (
            parsed.get("message")
            or parsed.get("error_description")
            or parsed.get("description")
            or f"HTTP {status}"
        )
        return cls(
            str(message),
            status=status,
            code=_text(parsed.get("code")) or _text(parsed.get("error")),
            context_id=_text(parsed.get("contextId")) or context_id,
            details=[d for d in details if isinstance(d, dict)] if isinstance(details, list) else None,
            retry_after=retry_after,
        )


class GenesysUnavailable(GenesysError):
    """Genesys could not be reached or kept failing (network, timeout, 5xx or 429 after the retries)."""


class GenesysAmbiguous(GenesysUnavailable):
    """The request was sent but no answer came (a timeout or reset): Genesys may or may not have acted.

    Unlike a refused connection, a 429 or a 5xx, sending it again may do it twice.
    """


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
