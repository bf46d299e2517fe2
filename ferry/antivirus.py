"""The virus-scanning engine behind a small interface (`Antivirus`), and its clamd implementation.

`ClamdClient` speaks clamd's socket protocol: PING, VERSION and streaming INSTREAM. Written here rather
than taken from the `clamd`/`clamav-client` packages because those raise BrokenPipeError when clamd stops
reading a stream it refuses (over StreamMaxLength), hiding clamd's own answer; this client stops sending
and reads that answer instead. Socket failures never leave this module: they become `ClamdUnavailable`
(cannot reach clamd) or `ClamdError` (the conversation broke).
"""

from __future__ import annotations

import re
import select
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

# clamd accepts INSTREAM chunks up to StreamMaxLength; 1 MiB keeps memory small and syscalls few.
DEFAULT_CHUNK_SIZE = 1024 * 1024
# Connecting is instant when clamd is up, and so are PING and VERSION answers; waiting for a scan
# result can take up to MaxScanTime (the client's `timeout`).
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_COMMAND_TIMEOUT = 10.0
# Replies are one short line; anything longer is not clamd talking.
MAX_REPLY_BYTES = 64 * 1024

LIMIT_PREFIX = "Heuristics.Limits.Exceeded"
_SIZE_LIMIT_REPLY = "INSTREAM size limit exceeded"
_VERSION_RE = re.compile(r"^ClamAV (?P<engine>[^/\s]+)(?:/(?P<db>\d+)/(?P<date>.+))?$")
# clamd prints the database build time with ctime(): "Mon Nov 23 09:00:00 2026".
_VERSION_DATE_FORMAT = "%a %b %d %H:%M:%S %Y"


class ClamdError(Exception):
    """clamd answered something we cannot use, or the connection broke during a command."""


class ClamdUnavailable(ClamdError):
    """clamd cannot be reached (no socket, connection refused, connect timeout)."""


class ResultKind(StrEnum):
    OK = "ok"  # scanned, nothing found
    FOUND = "found"  # a signature matched
    LIMIT = "limit"  # a limit stopped the scan (StreamMaxLength, Heuristics.Limits.Exceeded.*): never clean
    ERROR = "error"  # clamd reported an error for this scan


@dataclass(frozen=True)
class ClamdResult:
    """clamd's answer to one INSTREAM."""

    kind: ResultKind
    reply: str
    bytes_sent: int
    signature: str | None = None  # the matched name for FOUND, the limit's name for a heuristic LIMIT

    @property
    def clean(self) -> bool:
        return self.kind is ResultKind.OK


@dataclass(frozen=True)
class EngineVersion:
    """What `VERSION` says: engine version, and the official database's version and build date.

    clamd names no database version when no official (cvd/cld) database is loaded, which is the case
    when it runs on Ferry's test signatures only.
    """

    engine: str
    signature_version: int | None
    signature_date: datetime | None
    raw: str

    @property
    def test_signatures_only(self) -> bool:
        return self.signature_version is None

    @classmethod
    def parse(cls, reply: str) -> EngineVersion:
        """Read "ClamAV 1.4.6/27000/Mon Nov 23 09:00:00 2026" (or just "ClamAV 1.4.6")."""
        match = _VERSION_RE.match(reply.strip())
        if not match:
            raise ClamdError(f"unexpected VERSION reply: {reply!r}")
        db, date = match.group("db"), match.group("date")
        signature_date = None
        if date:
            try:
                # clamd formats in its local time zone; servers (and this project's containers) run in UTC.
                signature_date = datetime.strptime(date.strip(), _VERSION_DATE_FORMAT).replace(tzinfo=UTC)
            except ValueError:
                raise ClamdError(f"unexpected database date in VERSION reply: {reply!r}") from None
        return cls(match.group("engine"), int(db) if db else None, signature_date, reply.strip())


class Antivirus(Protocol):
    """What the scan core needs from an engine; failures are `ClamdError`, never socket exceptions."""

    def ping(self) -> bool: ...
    def version(self) -> EngineVersion: ...
    def instream(self, chunks: Iterable[bytes]) -> ClamdResult: ...


class ClamdClient:
    """`Antivirus` over clamd: talks to one clamd at `address`: a unix socket path, or `host:port` for TCP."""

    def __init__(
        self,
        address: str,
        timeout: float = 600.0,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        if not address:
            raise ValueError("clamd address is empty")
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self.address = address
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)
        self.command_timeout = min(command_timeout, timeout)
        self.chunk_size = chunk_size

    def __repr__(self) -> str:
        return f"ClamdClient({self.address!r})"

    def ping(self) -> bool:
        """True when clamd answers PONG; False when it cannot be reached or answers otherwise."""
        try:
            return self._command("PING") == "PONG"
        except ClamdError:
            return False

    def version(self) -> EngineVersion:
        """Engine and signature database versions.

        :raise ClamdUnavailable: clamd cannot be reached.
        :raise ClamdError: the reply is not a VERSION reply.
        """
        return EngineVersion.parse(self._command("VERSION"))

    def instream(self, chunks: Iterable[bytes]) -> ClamdResult:
        """Stream `chunks` to clamd with INSTREAM and return its verdict.

        Chunks of any size are re-framed to at most `chunk_size`; empty chunks are skipped (a zero
        length frame would end the stream). When clamd answers before the stream ends (it refuses
        streams over StreamMaxLength and closes the socket), sending stops and that answer is
        returned. Exceptions raised by `chunks` itself propagate unchanged.

        :raise ClamdUnavailable: clamd cannot be reached.
        :raise ClamdError: the connection broke without a usable answer, or timed out.
        """
        with self._connect() as sock:
            stream = _Stream(sock, self.chunk_size)
            for chunk in chunks:
                if not stream.send(chunk):
                    break
            else:
                stream.finish()
            return _stream_result(self._read_reply(sock, sent=stream.sent), stream.sent)

    def _connect(self) -> socket.socket:
        """Open a connection; the read timeout applies from then on."""
        try:
            if self._is_unix:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.connect_timeout)
                try:
                    sock.connect(self.address)
                except BaseException:
                    sock.close()
                    raise
            else:
                host, _, port = self.address.rpartition(":")
                sock = socket.create_connection((host.strip("[]"), int(port)), timeout=self.connect_timeout)
        except (OSError, ValueError) as exc:
            raise ClamdUnavailable(f"cannot connect to clamd at {self.address}: {exc}") from exc
        sock.settimeout(self.timeout)
        return sock

    @property
    def _is_unix(self) -> bool:
        return "/" in self.address or ":" not in self.address

    def _command(self, command: str) -> str:
        with self._connect() as sock:
            sock.settimeout(self.command_timeout)
            try:
                sock.sendall(f"z{command}\0".encode())
            except OSError as exc:
                raise ClamdError(f"sending {command} to clamd failed: {exc}") from exc
            return self._read_reply(sock)

    def _read_reply(self, sock: socket.socket, sent: int | None = None) -> str:
        """Read one NUL-terminated reply (or up to EOF)."""
        reply = bytearray()
        try:
            while b"\0" not in reply and len(reply) < MAX_REPLY_BYTES:
                data = sock.recv(4096)
                if not data:
                    break
                reply += data
        except TimeoutError as exc:
            raise ClamdError(f"no answer from clamd within {sock.gettimeout():.0f} s") from exc
        except OSError as exc:
            after = f" after {sent} bytes" if sent is not None else ""
            raise ClamdError(f"clamd closed the connection{after} without an answer: {exc}") from exc
        text = reply.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
        if not text:
            after = f" after {sent} bytes" if sent is not None else ""
            raise ClamdError(f"clamd closed the connection{after} without an answer")
        return text


class _Stream:
    """The sending side of one INSTREAM: length-prefixed frames, then a zero-length terminator."""

    def __init__(self, sock: socket.socket, chunk_size: int) -> None:
        self.sock = sock
        self.chunk_size = chunk_size
        self.sent = 0
        self.poller = select.poll()
        self.poller.register(sock, select.POLLIN)
        self._write(b"zINSTREAM\0")

    def send(self, chunk: bytes) -> bool:
        """Send one chunk as frames; False when clamd has answered or hung up (stop sending)."""
        view = memoryview(chunk)
        for start in range(0, len(view), self.chunk_size):
            piece = view[start : start + self.chunk_size]
            if not (self._write(struct.pack(">I", len(piece))) and self._write(piece)):
                return False
            self.sent += len(piece)
            # clamd speaks before the end only to refuse the stream: stop and read why.
            if self.poller.poll(0):
                return False
        return True

    def finish(self) -> None:
        """Send the terminator; clamd then scans what it spooled and answers."""
        self._write(struct.pack(">I", 0))

    def _write(self, data: bytes | memoryview) -> bool:
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            # clamd closed its end; its reason is usually already waiting in our receive buffer.
            return False
        except TimeoutError as exc:
            raise ClamdError(f"clamd stopped reading the stream after {self.sent} bytes") from exc
        except OSError as exc:
            raise ClamdError(f"streaming to clamd failed after {self.sent} bytes: {exc}") from exc
        return True


def _stream_result(reply: str, sent: int) -> ClamdResult:
    """Classify an INSTREAM reply: `stream: OK`, `stream: <name> FOUND`, or `<message> ERROR`."""
    if reply.endswith(" ERROR"):
        message = reply[: -len(" ERROR")].strip()
        kind = ResultKind.LIMIT if message.startswith(_SIZE_LIMIT_REPLY) else ResultKind.ERROR
        return ClamdResult(kind, reply, sent)
    body = reply.removeprefix("stream:").strip()
    if body == "OK":
        return ClamdResult(ResultKind.OK, reply, sent)
    if body.endswith(" FOUND"):
        name = body[: -len(" FOUND")].strip()
        # With AlertExceedsMax, clamd reports what it could not scan as a "virus": it is a limit, not a virus.
        kind = ResultKind.LIMIT if name.startswith(LIMIT_PREFIX) else ResultKind.FOUND
        return ClamdResult(kind, reply, sent, signature=name)
    raise ClamdError(f"unexpected INSTREAM reply: {reply!r}")
