"""The streaming scan core: one pass over an object's bytes sniffs its type, hashes it, and streams it
to clamd; objects over the engine's cap are refused or scanned in overlapping segments.

It knows nothing of S3 or the database: production passes `StreamingBody.iter_chunks()` and a ranged
GET as `range_reader`; tests pass local files. Memory stays bounded (the 1 MiB sniffing head, a few
chunks read ahead, one chunk per segment stream); nothing is written to our disk (clamd spools each
stream to its own TemporaryDirectory).
"""

from __future__ import annotations

import hashlib
import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from ferry.antivirus import Antivirus, ClamdError, ClamdResult, EngineVersion, ResultKind
from ferry.signatures import freshness_problem
from scanner.sniff import DEFAULT_TRUST_DECLARED_WHEN_UNKNOWN, SNIFF_BYTES, decide_type, sniff

MIB = 1024 * 1024
# ClamAV cannot scan a file of 2 GiB or more; stay clear of the edge (clamd.conf uses 2000M too).
DEFAULT_ENGINE_CAP = 2000 * MIB
# Longer than any body signature by orders of magnitude, so a match straddling a cut is always whole
# in one of the two segments around it.
MIN_SEGMENT_OVERLAP = MIB
READ_CHUNK = MIB
# Chunks read ahead of the one being sent to clamd (memory: this many chunks, typically 1 MiB each).
# At least 2: a reader told to stop may put two more items, and must never block doing so.
PREFETCH_CHUNKS = 2
# With AlertEncrypted, clamd names content it could not decrypt with this prefix.
ENCRYPTED_PREFIX = "Heuristics.Encrypted."

# Bytes first..last inclusive (like an HTTP Range header), in chunks.
RangeReader = Callable[[int, int], Iterable[bytes]]


class Outcome(StrEnum):
    CLEAN = "clean"
    INFECTED = "infected"
    REJECTED = "rejected"  # type not allowed or spoofed, or content clamd cannot look into (encrypted)
    TOO_LARGE = "too_large"  # over the engine's cap with segment scanning off, or a clamd limit was hit
    ERROR = "error"  # could not finish: retry when `retryable`


class OversizePolicy(StrEnum):
    REFUSE = "refuse"  # objects over the cap end as TOO_LARGE
    SEGMENT = "segment"  # objects over the cap are scanned as overlapping segments


@dataclass(frozen=True)
class ScanOptions:
    """How to scan: the engine cap, what to do above it, and the signature freshness policy."""

    engine_cap: int = DEFAULT_ENGINE_CAP
    oversize: OversizePolicy = OversizePolicy.REFUSE
    segment_overlap: int = MIN_SEGMENT_OVERLAP
    segment_workers: int = 2
    # Production: a "clean" needs official signatures younger than this; None accepts any (development).
    max_signature_age: timedelta | None = None
    trust_declared_when_unknown: tuple[str, ...] = DEFAULT_TRUST_DECLARED_WHEN_UNKNOWN

    def __post_init__(self) -> None:
        if self.segment_overlap < MIN_SEGMENT_OVERLAP:
            raise ValueError(f"segment_overlap must be at least {MIN_SEGMENT_OVERLAP} bytes")
        if self.engine_cap <= 2 * self.segment_overlap:
            raise ValueError("engine_cap must be more than twice segment_overlap")
        if self.segment_workers < 1:
            raise ValueError("segment_workers must be at least 1")


@dataclass(frozen=True)
class Verdict:
    """The result of scanning one object, with everything the record of it needs."""

    outcome: Outcome
    reason: str | None = None  # why it was rejected, too large, or failed
    signature: str | None = None  # the signature (or heuristic) clamd named
    engine: EngineVersion | None = None
    sha256: str | None = None  # set when the whole object was read
    sniffed_type: str | None = None  # libmagic's answer
    effective_type: str | None = None  # the type Ferry treats the object as
    bytes_scanned: int = 0  # bytes sent to clamd (segments count their overlaps)
    segmented: bool = False
    retryable: bool = False

    @property
    def engine_version(self) -> str | None:
        return self.engine.engine if self.engine else None

    @property
    def signature_version(self) -> int | None:
        return self.engine.signature_version if self.engine else None

    @property
    def signature_date(self) -> datetime | None:
        return self.engine.signature_date if self.engine else None

    @property
    def test_signatures_only(self) -> bool:
        return self.engine.test_signatures_only if self.engine else False


@dataclass(frozen=True)
class Segment:
    """Bytes first..last (inclusive) of an object."""

    first: int
    last: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1


def plan_segments(size: int, cap: int, overlap: int, workers: int = 1) -> list[Segment]:
    """Cut `size` bytes into equal segments of at most `cap` bytes, neighbours sharing `overlap`.

    As few segments as the cap allows, rounded up to a multiple of `workers` so that parallel workers
    finish together. Any run of at most `overlap` bytes lies whole inside at least one segment.
    """
    if size <= cap:
        return [Segment(0, size - 1)]
    count = math.ceil(math.ceil((size - overlap) / (cap - overlap)) / workers) * workers
    starts = [k * (size - overlap) // count for k in range(count + 1)]
    return [Segment(starts[k], starts[k + 1] + overlap - 1) for k in range(count)]


def scan(
    chunks: Iterable[bytes],
    *,
    size: int,
    declared_type: str | None,
    allowed_types: Sequence[str],
    client: Antivirus,
    options: ScanOptions | None = None,
    range_reader: RangeReader | None = None,
) -> Verdict:
    """Scan one object of `size` bytes whose content `chunks` yields once, front to back.

    `range_reader` is needed only when segment scanning is on and the object is over the cap.
    Never raises for clamd or source failures: those are ERROR verdicts with `retryable` set.
    """
    options = options or ScanOptions()
    try:
        engine = client.version()
    except ClamdError as exc:
        return Verdict(Outcome.ERROR, reason=f"clamd unavailable: {exc}", retryable=True)
    if options.max_signature_age is not None:
        problem = freshness_problem(engine, options.max_signature_age)
        if problem:
            return Verdict(Outcome.ERROR, reason=problem, engine=engine, retryable=True)

    oversize = size > options.engine_cap
    if oversize and options.oversize is OversizePolicy.SEGMENT and range_reader is None:
        raise ValueError("segment scanning needs a range_reader")
    source = _Source(chunks)
    try:
        return _scan_source(source, size, declared_type, allowed_types, client, options, range_reader, engine)
    finally:
        source.close()


def _scan_source(
    source: _Source,
    size: int,
    declared_type: str | None,
    allowed_types: Sequence[str],
    client: Antivirus,
    options: ScanOptions,
    range_reader: RangeReader | None,
    engine: EngineVersion,
) -> Verdict:
    """Sniff the head, then refuse, reject, or scan whole or in segments."""
    try:
        head = source.head(SNIFF_BYTES)
    except SourceError as exc:
        return Verdict(Outcome.ERROR, reason=str(exc), engine=engine, retryable=True)
    decision = decide_type(sniff(head), declared_type, allowed_types, options.trust_declared_when_unknown)
    base = Verdict(
        Outcome.ERROR, engine=engine, sniffed_type=decision.sniffed, effective_type=decision.effective
    )
    if not decision.accepted:
        return replace(base, outcome=Outcome.REJECTED, reason=decision.reason)
    if size <= options.engine_cap:
        return _scan_whole(source, size, client, base)
    if options.oversize is OversizePolicy.REFUSE or range_reader is None:
        reason = f"{size} bytes is over the engine's cap of {options.engine_cap} and segment scanning is off"
        return replace(base, outcome=Outcome.TOO_LARGE, reason=reason)
    return _scan_segments(source, size, range_reader, client, options, base)


def read_chunks(stream: BinaryIO, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
    """A binary file-like object as chunks (what `iter_chunks` is for an S3 body)."""
    while chunk := stream.read(chunk_size):
        yield chunk


def file_range_reader(path: Path, chunk_size: int = READ_CHUNK) -> RangeReader:
    """A `RangeReader` over a local file (what a ranged GET is for S3)."""

    def read(first: int, last: int) -> Iterator[bytes]:
        with path.open("rb") as stream:
            stream.seek(first)
            remaining = last - first + 1
            while remaining > 0 and (chunk := stream.read(min(chunk_size, remaining))):
                remaining -= len(chunk)
                yield chunk

    return read


class SourceError(Exception):
    """Reading the object failed (the reader's own exception is the cause)."""


class _Source:
    """The single pass over the object.

    A reader thread pulls chunks from the source, hashing and counting each byte once, and hands them
    over through a queue at most `PREFETCH_CHUNKS` deep: the next chunks arrive from S3 while this one
    is being sent to clamd. The head is kept for sniffing and replayed to clamd.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._queue: queue.Queue[bytes | SourceError | None] = queue.Queue(maxsize=PREFETCH_CHUNKS)
        self._stop = threading.Event()
        self._head: list[bytes] = []
        self._sha256 = hashlib.sha256()
        self.count = 0
        self.exhausted = False
        self._done = False
        self._reader = threading.Thread(target=self._read, args=(chunks,), name="scan-reader", daemon=True)
        self._reader.start()

    def head(self, size: int) -> bytes:
        """Read (and keep for replay) at least `size` bytes, or the whole object if smaller."""
        buffered = 0
        while buffered < size and (chunk := self._next()) is not None:
            self._head.append(chunk)
            buffered += len(chunk)
        return b"".join(self._head)[:size]

    def __iter__(self) -> Iterator[bytes]:
        """The whole object: the buffered head, then the rest."""
        head, self._head = self._head, []
        yield from head
        while (chunk := self._next()) is not None:
            yield chunk

    def drain(self, stop: threading.Event) -> None:
        """Read the rest only to hash it; give up early when `stop` is set."""
        self._head = []
        while not stop.is_set() and self._next() is not None:
            pass

    def close(self) -> None:
        """Stop the reader (it closes the source) and wait for it."""
        self._stop.set()
        # Make room so that a reader blocked on a full queue sees the stop; it puts at most one more.
        while not self._queue.empty():
            self._queue.get_nowait()
        self._reader.join()

    @property
    def sha256(self) -> str | None:
        return self._sha256.hexdigest() if self.exhausted else None

    def _next(self) -> bytes | None:
        if self._done:
            return None
        item = self._queue.get()
        if isinstance(item, SourceError):
            self._done = True
            raise item
        if item is None:
            self._done = True
        return item

    def _read(self, chunks: Iterable[bytes]) -> None:
        """The reader thread."""
        iterator: Iterator[bytes] | None = None
        try:
            iterator = iter(chunks)
            for chunk in iterator:
                if self._stop.is_set():
                    return
                self._sha256.update(chunk)
                self.count += len(chunk)
                self._queue.put(chunk)
            self.exhausted = True
            self._queue.put(None)
        except Exception as exc:  # whatever the reader raises (S3, disk), the scan ends as a retryable error
            error = SourceError(f"reading the object failed after {self.count} bytes: {exc}")
            error.__cause__ = exc
            self._queue.put(error)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # release the GET (its connection) now, also when the scan stopped early


def _scan_whole(source: _Source, size: int, client: Antivirus, base: Verdict) -> Verdict:
    """One INSTREAM of the whole object."""
    try:
        result = client.instream(source)
    except SourceError as exc:
        return replace(base, reason=str(exc), retryable=True)
    except ClamdError as exc:
        return replace(base, reason=f"clamd: {exc}", retryable=True)
    verdict = replace(_from_result(result, base), sha256=source.sha256, bytes_scanned=result.bytes_sent)
    if verdict.outcome is Outcome.CLEAN and source.count != size:
        return replace(
            verdict, outcome=Outcome.ERROR, reason=_size_mismatch(source.count, size), retryable=True
        )
    return verdict


@dataclass
class _SegmentScan:
    segment: Segment
    result: ClamdResult | None = None
    error: str | None = None
    sent: int = 0


def _scan_segments(
    source: _Source,
    size: int,
    range_reader: RangeReader,
    client: Antivirus,
    options: ScanOptions,
    base: Verdict,
) -> Verdict:
    """Scan overlapping segments in parallel while this thread hashes the whole object once."""
    segments = plan_segments(size, options.engine_cap, options.segment_overlap, options.segment_workers)
    stop = threading.Event()  # set by the first decisive (non-OK) segment: the others stop early
    base = replace(base, segmented=True)
    with ThreadPoolExecutor(max_workers=options.segment_workers, thread_name_prefix="scan-segment") as pool:
        futures = [pool.submit(_scan_segment, segment, range_reader, client, stop) for segment in segments]
        main_error = None
        try:
            source.drain(stop)
        except SourceError as exc:
            main_error = str(exc)
            stop.set()
        parts = [future.result() for future in futures]
    done = [part for part in parts if part is not None]
    base = replace(base, sha256=source.sha256, bytes_scanned=sum(part.sent for part in done))

    verdicts = [_from_result(part.result, base) for part in done if part.result is not None]
    for outcome in (Outcome.INFECTED, Outcome.REJECTED, Outcome.TOO_LARGE):
        decisive = [verdict for verdict in verdicts if verdict.outcome is outcome]
        if decisive:
            return decisive[0]
    errors = [part.error for part in done if part.error]
    errors += [verdict.reason or "" for verdict in verdicts if verdict.outcome is Outcome.ERROR]
    if main_error:
        errors.insert(0, main_error)
    elif source.count != size:
        errors.insert(0, _size_mismatch(source.count, size))
    if errors or len(done) != len(segments):
        return replace(base, reason="; ".join(errors) or "segment scan interrupted", retryable=True)
    return replace(base, outcome=Outcome.CLEAN)


def _scan_segment(
    segment: Segment, range_reader: RangeReader, client: Antivirus, stop: threading.Event
) -> _SegmentScan | None:
    """INSTREAM one segment; None when it was skipped or cut short because another segment decided."""
    if stop.is_set():
        return None
    part = _SegmentScan(segment)

    def chunks() -> Iterator[bytes]:
        failed = f"reading bytes {segment.first}-{segment.last} failed"
        try:
            reader = iter(range_reader(segment.first, segment.last))
        except Exception as exc:  # whatever the reader raises, this segment failed to read
            raise SourceError(f"{failed}: {exc}") from exc
        try:
            while not stop.is_set():
                try:
                    chunk = next(reader)
                except StopIteration:
                    return
                except Exception as exc:
                    raise SourceError(f"{failed}: {exc}") from exc
                part.sent += len(chunk)
                yield chunk
        finally:
            # Release the ranged GET (its connection) now, also when the segment is cut short.
            close = getattr(reader, "close", None)
            if close is not None:
                close()

    try:
        part.result = client.instream(chunks())
    except (SourceError, ClamdError) as exc:
        part.error = f"segment {segment.first}-{segment.last}: {exc}"
        stop.set()
        return part
    if part.result.kind is ResultKind.OK and part.sent != segment.length:
        if stop.is_set():
            return None
        part.error = f"segment {segment.first}-{segment.last}: {_size_mismatch(part.sent, segment.length)}"
        part.result = None
    if part.result is None or not part.result.clean:
        stop.set()
    return part


def _from_result(result: ClamdResult, base: Verdict) -> Verdict:
    """Map clamd's answer to an outcome."""
    name = result.signature
    if result.kind is ResultKind.OK:
        return replace(base, outcome=Outcome.CLEAN)
    if result.kind is ResultKind.FOUND and name and name.startswith(ENCRYPTED_PREFIX):
        return replace(
            base, outcome=Outcome.REJECTED, signature=name, reason="encrypted content cannot be scanned"
        )
    if result.kind is ResultKind.FOUND:
        return replace(base, outcome=Outcome.INFECTED, signature=name)
    if result.kind is ResultKind.LIMIT:
        return replace(
            base, outcome=Outcome.TOO_LARGE, signature=name, reason=f"clamd limit: {name or result.reply}"
        )
    return replace(base, outcome=Outcome.ERROR, reason=f"clamd: {result.reply}", retryable=True)


def _size_mismatch(read: int, expected: int) -> str:
    return f"read {read} bytes where {expected} were expected"
