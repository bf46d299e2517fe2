"""Where Ferry may fetch a file an agent sent from: the rules `GenesysClient.download` applies to every URL
it requests, the webhook's and each redirect's (no request forgery through a crafted message).

An agent's attachment URL is a Genesys download URL (`https://api-downloads.<region domain>/api/v2/
downloads/<id>`, or the API host itself), which answers an authenticated GET with a redirect to the bytes.
Only those hosts, with the scheme and port of the configured API base URL, are fetched with Ferry's token;
hosts named in AGENT_FILE_REDIRECT_HOSTS (where a region's downloads redirect to, if not a Genesys host)
are fetched by https without it. No user info, no other host, no IP literal other than the configured API
host itself.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from genesys.errors import GenesysError

MAX_REDIRECTS = 3
DOWNLOADS_PREFIX = "api-downloads."


class DownloadRefused(GenesysError):
    """Ferry will not fetch this file, now or later (a host it may not call, too large, gone)."""


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int


@dataclass(frozen=True)
class DownloadPolicy:
    """Which origins a download may touch, and its bounds."""

    genesys: frozenset[Origin]  # fetched with Ferry's bearer token
    others: frozenset[Origin]  # redirect targets, fetched without it
    max_bytes: int
    deadline_seconds: float

    @classmethod
    def for_api(
        cls,
        api_base_url: str,
        *,
        redirect_hosts: tuple[str, ...] = (),
        max_bytes: int,
        deadline_seconds: float,
    ) -> DownloadPolicy:
        """The Genesys hosts of the region the API base URL is in, plus the named redirect hosts."""
        api = _origin(api_base_url)
        if api is None:
            raise ValueError(f"not an API base URL: {api_base_url}")
        genesys = {api}
        if api.host.startswith("api."):
            genesys.add(Origin(api.scheme, DOWNLOADS_PREFIX + api.host[len("api.") :], api.port))
        others = set()
        for host in redirect_hosts:
            name = host.strip().lower().rstrip(".")
            if not name or _is_ip_literal(name):
                raise ValueError(f"AGENT_FILE_REDIRECT_HOSTS must name hosts, not {host!r}")
            others.add(Origin("https", name, 443))
        return cls(frozenset(genesys), frozenset(others), max_bytes, deadline_seconds)

    def check(self, url: str) -> bool:
        """Whether `url` may be fetched; answers True when Ferry's token goes with it.

        :raise DownloadRefused: any other URL.
        """
        origin = _origin(url)
        if origin is None:
            raise DownloadRefused(f"not a URL Ferry fetches: {_shown(url)}")
        if origin in self.genesys:
            return True
        if _is_ip_literal(origin.host):
            raise DownloadRefused(f"an IP address is not a Genesys host: {_shown(url)}")
        if origin in self.others:
            return False
        raise DownloadRefused(f"not one of the region's Genesys hosts: {_shown(url)}")


def _origin(url: str) -> Origin | None:
    """The origin of an absolute http(s) URL without user info; None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return Origin(
        parts.scheme, parts.hostname.lower().rstrip("."), port or (443 if parts.scheme == "https" else 80)
    )


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _shown(url: str) -> str:
    """Enough of a URL for a log line (never its query: a signed URL's query is a credential)."""
    return url.split("?", 1)[0][:200]
