"""The signature Genesys puts on every outbound-webhook request (`X-Hub-Signature-256`).

Genesys's documented check is `"sha256=" + base64(HMAC-SHA256(secret, body))`: base64, not the hex that
GitHub-style webhooks use. Ferry signs and checks the raw request body, byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

# Where Ferry receives the integration's webhook (the integration is created pointing at it).
WEBHOOK_PATH = "/genesys/webhook"
SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def sign(body: bytes, secret: str) -> str:
    """The `X-Hub-Signature-256` value Genesys sends for `body` signed with `secret`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return _PREFIX + base64.b64encode(digest).decode("ascii")


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """True only when `header` is the correct signature of `body`; compared in constant time."""
    if not header or not secret or not header.startswith(_PREFIX):
        return False
    expected = sign(body, secret).encode("ascii")
    try:
        given = header.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, given)
