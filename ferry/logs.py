"""Structured JSON log lines on stdout, each with the request id; secrets never reach a log."""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Presigned URLs, bearer tokens, OAuth codes and secrets are credentials: scrub anything that looks
# like one, whatever the code that logged it meant to do.
_SCRUBBERS = [
    (
        re.compile(r"(https?://[^\s\"']*?)\?[^\s\"']*X-Amz-[^\s\"']*", re.IGNORECASE),
        r"\1?[presigned-query-redacted]",
    ),
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1[redacted]"),
    (
        re.compile(
            r"((?:access_token|refresh_token|client_secret|code_verifier|code|password|secret|token)"
            r"(?:[\"']\s*:\s*[\"']?|\s*=\s*))[^\s\"'&,}]+",
            re.IGNORECASE,
        ),
        r"\1[redacted]",
    ),
]


def scrub(text: str) -> str:
    """Remove credentials (presigned queries, bearer tokens, secrets) from a log message."""
    for pattern, replacement in _SCRUBBERS:
        text = pattern.sub(replacement, text)
    return text


def new_request_id() -> str:
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and any `extra` fields."""

    _RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in self._RESERVED and not key.startswith("_"):
                line[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send every log record to stdout as JSON (idempotent: safe to call from every entry point)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_ferry", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stdout)
        handler._ferry = True  # type: ignore[attr-defined]
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
    # Request lines from libraries would carry presigned URLs and tokens; our own lines are enough.
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
