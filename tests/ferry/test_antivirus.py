"""The clamd client against real clamd daemons (and against peers that misbehave)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ferry.antivirus import ClamdClient, ClamdError, ClamdUnavailable, EngineVersion, ResultKind

MIB = 1024 * 1024


def test_parse_version_with_official_database() -> None:
    version = EngineVersion.parse("ClamAV 1.4.6/27471/Mon Nov  3 09:31:02 2026")
    assert version.engine == "1.4.6"
    assert version.signature_version == 27471
    assert version.signature_date == datetime(2026, 11, 3, 9, 31, 2, tzinfo=UTC)
    assert not version.test_signatures_only


def test_parse_version_without_official_database() -> None:
    version = EngineVersion.parse("ClamAV 1.4.6")
    assert (version.engine, version.signature_version, version.signature_date) == ("1.4.6", None, None)
    assert version.test_signatures_only


def test_parse_version_rejects_other_replies() -> None:
    with pytest.raises(ClamdError):
        EngineVersion.parse("UNKNOWN COMMAND")


def test_unreachable_unix_socket(tmp_path: Path) -> None:
    client = ClamdClient(str(tmp_path / "missing.sock"), timeout=5)
    assert client.ping() is False
    with pytest.raises(ClamdUnavailable):
        client.version()
    with pytest.raises(ClamdUnavailable):
        client.instream([b"data"])


def test_unreachable_tcp_port(free_port: int) -> None:
    client = ClamdClient(f"127.0.0.1:{free_port}", timeout=5)
    assert client.ping() is False
    with pytest.raises(ClamdUnavailable):
        client.instream([b"data"])


def test_peer_that_hangs_up_without_answer_is_an_error(tmp_path: Path) -> None:
    """A clamd that dies mid-stream gives an error, never a result."""
    path = str(tmp_path / "hangup.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)

    def hang_up() -> None:
        connection, _ = server.accept()
        connection.recv(16)
        connection.close()

    thread = threading.Thread(target=hang_up)
    thread.start()
    try:
        with pytest.raises(ClamdError) as caught:
            ClamdClient(path, timeout=5).instream(b"x" * MIB for _ in range(64))
        assert not isinstance(caught.value, ClamdUnavailable)
    finally:
        thread.join()
        server.close()


def test_silent_peer_times_out_on_commands(tmp_path: Path) -> None:
    """A hung clamd makes PING and VERSION fail after the short command timeout, not the scan timeout."""
    path = str(tmp_path / "silent.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(4)
    try:
        client = ClamdClient(path, timeout=600, command_timeout=0.2)
        with pytest.raises(ClamdError, match="no answer"):
            client.version()
        assert client.ping() is False
    finally:
        server.close()


@pytest.mark.clamd
def test_ping_and_version(clamd_client: ClamdClient) -> None:
    assert clamd_client.ping() is True
    version = clamd_client.version()
    assert version.engine.startswith("1.")
    assert version.test_signatures_only  # the fixture loads Ferry's test signatures only


@pytest.mark.clamd
@pytest.mark.parametrize("transport", ["clamd_client", "clamd_tcp_client"])
def test_eicar_found(request: pytest.FixtureRequest, transport: str, eicar: bytes) -> None:
    chosen: ClamdClient = request.getfixturevalue(transport)
    result = chosen.instream([eicar])
    assert result.kind is ResultKind.FOUND
    assert result.signature is not None and result.signature.endswith(".UNOFFICIAL")
    assert not result.clean


@pytest.mark.clamd
def test_chunks_are_reframed_and_empty_chunks_skipped(clamd_client: ClamdClient, eicar: bytes) -> None:
    # One 3 MiB chunk becomes three frames; an empty chunk must not end the stream early.
    result = clamd_client.instream([b"\0" * (3 * MIB), b"", eicar])
    assert result.kind is ResultKind.FOUND
    assert result.bytes_sent == 3 * MIB + len(eicar)


@pytest.mark.clamd
def test_clean_stream(clamd_client: ClamdClient) -> None:
    result = clamd_client.instream(iter([b"hello ", b"world"]))
    assert result.kind is ResultKind.OK and result.clean
    assert result.reply == "stream: OK"


@pytest.mark.clamd
def test_stream_over_stream_max_length_is_a_limit(small_clamd_client: ClamdClient) -> None:
    """clamd refuses and hangs up; the client reports clamd's reason instead of BrokenPipeError."""
    result = small_clamd_client.instream(b"\0" * (256 * 1024) for _ in range(40))  # 10 MiB > 2M
    assert result.kind is ResultKind.LIMIT
    assert result.reply == "INSTREAM size limit exceeded. ERROR"
    assert result.bytes_sent < 10 * MIB  # it stopped sending
    assert not result.clean


@pytest.mark.clamd
def test_file_over_max_file_size_is_a_limit_not_a_virus(small_clamd_client: ClamdClient) -> None:
    result = small_clamd_client.instream(
        [b"\0" * (3 * MIB // 2)]
    )  # 1.5 MiB: under StreamMaxLength, over MaxFileSize
    assert result.kind is ResultKind.LIMIT
    assert result.signature == "Heuristics.Limits.Exceeded.MaxFileSize"
    assert not result.clean


@pytest.mark.clamd
def test_errors_of_the_source_propagate_unchanged(clamd_client: ClamdClient) -> None:
    class Broken(Exception):
        pass

    def chunks() -> Iterator[bytes]:
        yield b"first"
        raise Broken("disk gone")

    with pytest.raises(Broken):
        clamd_client.instream(chunks())
    assert clamd_client.ping()  # clamd shrugged off the aborted stream
