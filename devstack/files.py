"""Files for the browser upload tests and the upload benchmark to send."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CHUNK = 8 * 1024 * 1024


def write_random_file(path: Path, size: int, head: bytes = b"") -> str:
    """`size` bytes at `path`: `head` (e.g. a file type's magic), then random ones, written a chunk at a time
    (never held whole); answers their SHA-256."""
    digest = hashlib.sha256(head)
    with path.open("wb") as out:
        out.write(head)
        left = size - len(head)
        while left:
            chunk = os.urandom(min(left, CHUNK))
            digest.update(chunk)
            out.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()
