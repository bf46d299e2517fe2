"""Request-time access to the stand-in's platform object and to the URL it is being reached at."""

from __future__ import annotations

from flask import current_app, request

from genesys_standin.platform import Platform

EXTENSION = "genesys_standin"


def get_platform() -> Platform:
    """The `Platform` of the current app."""
    platform: Platform = current_app.extensions[EXTENSION]
    return platform


def base_url() -> str:
    """Scheme, host and port of the current request (API and login are served on the same host)."""
    return request.host_url.rstrip("/")
