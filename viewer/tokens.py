"""Genesys tokens at rest: `viewer_sessions` holds them sealed with Fernet (AES-CBC + HMAC-SHA256), so a
read of the database (a backup, a dump, a read-only injection) does not hand anyone an agent's token.

The key is derived from SECRET_KEY with HKDF-SHA256, so there is no other secret to manage. Rotating
SECRET_KEY therefore makes every stored token unreadable: each agent is signed out at the session's next
use of its token and logs in again, which is acceptable.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Versioned so that another key drawn from SECRET_KEY can never equal this one, and so that a new
# scheme can come with a new label.
KEY_INFO = b"ferry viewer-session tokens v1"


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    if not secret_key:
        raise ValueError("SECRET_KEY is empty")  # Settings never allows it; never derive from nothing
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, token: str) -> str:
    """`token` encrypted and authenticated under SECRET_KEY's derived key (ASCII, fits a Text column)."""
    return _fernet(secret_key).encrypt(token.encode()).decode("ascii")


def unseal(secret_key: str, sealed: str | None) -> str | None:
    """The token `seal` stored, or None when `sealed` is not one (a plain-text row from before sealing,
    another SECRET_KEY, tampering): the caller treats that as a session that has ended."""
    if not sealed:
        return None
    try:
        return _fernet(secret_key).decrypt(sealed).decode()
    except (InvalidToken, ValueError):  # ValueError: non-ASCII text, or bytes that are not UTF-8
        return None
