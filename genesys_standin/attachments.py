"""Fetching an inbound attachment URL the way Genesys appears to: a plain GET without credentials,
streamed, abandoned as soon as it is larger than the limit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import requests

CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    """The outcome of one fetch: the bytes, or the receipt reason code and message of the failure."""

    data: bytes | None
    size: int | None
    sha256: str | None
    failure_code: str | None = None
    failure_message: str | None = None


def fetch(url: str, *, max_bytes: int, timeout: float) -> Fetched:
    """GET `url`; fail with InvalidMediaContentLength beyond `max_bytes`, GeneralError when unreachable."""
    if not url.lower().startswith(("http://", "https://")):
        return _failed("GeneralError", f"Unsupported attachment URL scheme: {url[:40]}")
    session = requests.Session()
    session.trust_env = False  # no proxies, no .netrc credentials: the URL alone must be enough
    try:
        with session.get(url, stream=True, timeout=timeout, headers={"Accept": "*/*"}) as response:
            if response.status_code != 200:
                return _failed("GeneralError", f"The attachment URL answered HTTP {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                return _too_large(int(declared), max_bytes)
            digest = hashlib.sha256()
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    return _too_large(size, max_bytes)
                digest.update(chunk)
                chunks.append(chunk)
            return Fetched(b"".join(chunks), size, digest.hexdigest())
    except requests.RequestException as error:
        return _failed("GeneralError", f"Fetching the attachment failed: {type(error).__name__}")
    finally:
        session.close()


def _failed(code: str, message: str) -> Fetched:
    return Fetched(None, None, None, code, message)


def _too_large(size: int, max_bytes: int) -> Fetched:
    return _failed(
        "InvalidMediaContentLength", f"Attachment exceeds {max_bytes} bytes (at least {size} bytes)"
    )
