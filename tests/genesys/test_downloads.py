"""Downloading a file an agent sent: only the region's Genesys hosts (no request forgery), Ferry's token
only to them, redirects checked hop by hop, bounded in size and time."""

from __future__ import annotations

from typing import Any

import pytest

from genesys.client import GenesysClient, _read_bounded
from genesys.downloads import DownloadPolicy, DownloadRefused
from genesys.errors import GenesysUnavailable

from .conftest import Reply, ScriptedGenesys

REAL = DownloadPolicy.for_api(
    "https://api.mypurecloud.ie",
    redirect_hosts=("files.example-cdn.net",),
    max_bytes=1000,
    deadline_seconds=30,
)


@pytest.mark.parametrize(
    ("url", "with_token"),
    [
        ("https://api-downloads.mypurecloud.ie/api/v2/downloads/abc", True),
        ("https://api.mypurecloud.ie/api/v2/downloads/abc", True),
        ("https://API-DOWNLOADS.mypurecloud.ie./api/v2/downloads/abc", True),
        ("https://files.example-cdn.net/blob?X-Amz-Signature=s", False),
    ],
)
def test_the_regions_genesys_hosts_get_the_token_named_redirect_hosts_do_not(
    url: str, with_token: bool
) -> None:
    assert REAL.check(url) is with_token


@pytest.mark.parametrize(
    "url",
    [
        "https://api-downloads.mypurecloud.com/api/v2/downloads/abc",  # another region
        "https://api-downloads.mypurecloud.ie.evil.example/x",
        "https://evil.example/api/v2/downloads/abc",
        "http://api-downloads.mypurecloud.ie/api/v2/downloads/abc",  # not https
        "https://api-downloads.mypurecloud.ie:8443/x",  # another port
        "https://user:pw@api-downloads.mypurecloud.ie/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/x",
        "https://127.0.0.1/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "not a url",
        "http://files.example-cdn.net/blob",  # a redirect host only by https
    ],
)
def test_every_other_url_is_refused(url: str) -> None:
    with pytest.raises(DownloadRefused):
        REAL.check(url)


def test_redirect_hosts_must_be_names() -> None:
    with pytest.raises(ValueError, match="not '10\\.0\\.0\\.1'"):
        DownloadPolicy.for_api(
            "https://api.mypurecloud.ie", redirect_hosts=("10.0.0.1",), max_bytes=1, deadline_seconds=1
        )


def policy_for(scripted: ScriptedGenesys, max_bytes: int = 1000) -> DownloadPolicy:
    return DownloadPolicy.for_api(scripted.url, max_bytes=max_bytes, deadline_seconds=30)


def test_a_download_follows_the_redirect_with_the_token_and_returns_the_bytes(
    scripted: ScriptedGenesys, genesys_client: GenesysClient
) -> None:
    scripted.reply("GET", "/api/v2/downloads/d1", Reply(302, headers={"Location": "/content/d1?sig=1"}))
    scripted.reply("GET", "/content/d1", Reply(200, b"\x89PNG bytes"))
    got = genesys_client.download(f"{scripted.url}/api/v2/downloads/d1", policy_for(scripted))
    assert got.data == b"\x89PNG bytes"
    first, second = scripted.seen("GET")
    assert first.headers["authorization"] == "Bearer token-1"
    assert second.path == "/content/d1" and second.query == {"sig": ["1"]}


def test_a_redirect_off_the_allowed_hosts_is_refused_and_not_followed(
    scripted: ScriptedGenesys, genesys_client: GenesysClient
) -> None:
    scripted.reply(
        "GET", "/api/v2/downloads/d1", Reply(302, headers={"Location": "http://169.254.169.254/x"})
    )
    with pytest.raises(DownloadRefused, match="IP address"):
        genesys_client.download(f"{scripted.url}/api/v2/downloads/d1", policy_for(scripted))
    assert [r.path for r in scripted.seen("GET")] == ["/api/v2/downloads/d1"]


def test_endless_redirects_are_refused(scripted: ScriptedGenesys, genesys_client: GenesysClient) -> None:
    scripted.always("GET", "/loop", Reply(302, headers={"Location": "/loop"}))
    with pytest.raises(DownloadRefused, match="redirects"):
        genesys_client.download(f"{scripted.url}/loop", policy_for(scripted))
    assert len(scripted.seen("GET", "/loop")) == 4


def test_a_file_declared_over_the_limit_is_refused(
    scripted: ScriptedGenesys, genesys_client: GenesysClient
) -> None:
    scripted.reply("GET", "/big", Reply(200, b"x" * 2000))
    with pytest.raises(DownloadRefused, match="larger than 1000"):
        genesys_client.download(f"{scripted.url}/big", policy_for(scripted))


class Streamed:
    """A response without Content-Length (chunked): only counting the bytes can bound it."""

    headers: dict[str, str] = {}

    def __init__(self) -> None:
        self.chunks_read = 0

    def iter_content(self, _size: int) -> Any:
        while True:
            self.chunks_read += 1
            yield b"x" * 400


def test_a_streamed_file_is_abandoned_as_soon_as_it_passes_the_limit() -> None:
    response = Streamed()
    with pytest.raises(DownloadRefused, match="larger than 1000"):
        _read_bounded(response, 1000, deadline=float("inf"), clock=lambda: 0.0)  # type: ignore[arg-type]
    assert response.chunks_read == 3


def test_a_download_past_its_deadline_is_abandoned() -> None:
    ticks = iter(range(100))
    with pytest.raises(GenesysUnavailable, match="too long"):
        _read_bounded(Streamed(), 10**9, deadline=5, clock=lambda: float(next(ticks)))  # type: ignore[arg-type]


def test_a_slow_answer_is_abandoned_as_unavailable(
    scripted: ScriptedGenesys, genesys_client: GenesysClient
) -> None:
    scripted.reply("GET", "/slow", Reply(200, b"late", delay=2.0))
    with pytest.raises(GenesysUnavailable):
        genesys_client.download(f"{scripted.url}/slow", policy_for(scripted))


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, DownloadRefused), (403, DownloadRefused), (503, GenesysUnavailable), (429, GenesysUnavailable)],
)
def test_errors_are_definite_or_for_later(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, status: int, error: type[Exception]
) -> None:
    scripted.reply("GET", "/f", Reply(status, b"{}"))
    with pytest.raises(error):
        genesys_client.download(f"{scripted.url}/f", policy_for(scripted))


def test_a_refused_token_is_renewed_once(scripted: ScriptedGenesys, genesys_client: GenesysClient) -> None:
    scripted.reply("GET", "/f", Reply(401, b"{}"), Reply(200, b"ok"))
    assert genesys_client.download(f"{scripted.url}/f", policy_for(scripted)).data == b"ok"
    assert [r.headers["authorization"] for r in scripted.seen("GET", "/f")] == [
        "Bearer token-1",
        "Bearer token-2",
    ]
