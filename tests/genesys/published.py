"""The published Genesys Cloud swagger subset the contract tests check against (data/SOURCE.md says where it
came from and how it was cut)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).parent / "data" / "openapi-subset.json"


@functools.cache
def published_definitions() -> dict[str, Any]:
    """Definition name -> its published JSON schema, read once (callers must not change it)."""
    definitions: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))["definitions"]
    return definitions
