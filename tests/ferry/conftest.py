"""Fixtures for the core's tests: the database, clients of real clamd daemons (Ferry's config, test
signatures), and the scripted Genesys server of tests/genesys for the `flask genesys` commands."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.clamd import TEST_SIGNATURES, ClamdProcess
from ferry.antivirus import ClamdClient
from tests.conftest import free_port as any_free_port
from tests.conftest import start_test_clamd
from tests.genesys.conftest import (  # noqa: F401 - the scripted Genesys server's fixtures
    clock,
    genesys_client,
    make_genesys_client,
    scripted,
    sleeps,
)

# Small limits for the instance that tests what clamd does at its limits (streams of a few MB).
SMALL_LIMITS = {"StreamMaxLength": "2M", "MaxFileSize": "1M", "MaxScanSize": "4M"}


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    return any_free_port()


@pytest.fixture(scope="session")
def small_clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamdProcess]:
    """A clamd whose StreamMaxLength (2M) and MaxFileSize (1M) are small enough to hit in a test."""
    yield from start_test_clamd(tmp_path_factory, "clamd-small", overrides=SMALL_LIMITS)


def _tcp_address(process: ClamdProcess) -> str:
    """The 127.0.0.1:port address a test clamd also listens on."""
    config = (process.run_dir / "clamd.conf").read_text().splitlines()
    port = next(line.split()[1] for line in config if line.startswith("TCPSocket "))
    return f"127.0.0.1:{port}"


@pytest.fixture
def clamd_client(clamd: ClamdProcess) -> ClamdClient:
    """The project-configured clamd over its unix socket."""
    return ClamdClient(clamd.address, timeout=60)


@pytest.fixture
def clamd_tcp_client(clamd: ClamdProcess) -> ClamdClient:
    """The project-configured clamd over TCP."""
    return ClamdClient(_tcp_address(clamd), timeout=60)


@pytest.fixture(params=["unix", "tcp"])
def small_clamd_client(request: pytest.FixtureRequest, small_clamd: ClamdProcess) -> ClamdClient:
    """The small-limits clamd, over each transport."""
    address = small_clamd.address if request.param == "unix" else _tcp_address(small_clamd)
    return ClamdClient(address, timeout=60)


@pytest.fixture(scope="session")
def eicar() -> bytes:
    """The 68-byte EICAR test file, assembled from the body signature so that no source file contains it."""
    line = (TEST_SIGNATURES / "ferry-test.ndb").read_text().strip()
    data = bytes.fromhex(line.rsplit(":", 1)[1])
    assert len(data) == 68
    return data
