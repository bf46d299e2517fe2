"""The streaming scan core, end to end against real clamd."""

from __future__ import annotations

import hashlib
import io
import itertools
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from ferry.antivirus import ClamdClient
from ferry.config import DEFAULT_ALLOWED_TYPES
from scanner.core import (
    MIB,
    Outcome,
    OversizePolicy,
    ScanOptions,
    Verdict,
    file_range_reader,
    plan_segments,
    read_chunks,
    scan,
)

ALLOWED = DEFAULT_ALLOWED_TYPES
SEGMENTS = ScanOptions(engine_cap=4 * MIB, oversize=OversizePolicy.SEGMENT, segment_overlap=MIB)


def scan_bytes(data: bytes, declared: str, clamd_client: ClamdClient, **kwargs: object) -> Verdict:
    """Scan in-memory bytes as the worker scans an S3 body: chunks from a binary stream."""
    allowed = kwargs.pop("allowed", ALLOWED)
    return scan(
        read_chunks(io.BytesIO(data)),
        size=len(data),
        declared_type=declared,
        allowed_types=allowed,  # type: ignore[arg-type]
        client=clamd_client,
        **kwargs,  # type: ignore[arg-type]
    )


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "object"
    path.write_bytes(data)
    return path


def scan_file(path: Path, declared: str, clamd_client: ClamdClient, options: ScanOptions) -> Verdict:
    with path.open("rb") as stream:
        return scan(
            read_chunks(stream),
            size=path.stat().st_size,
            declared_type=declared,
            allowed_types=ALLOWED,
            client=clamd_client,
            options=options,
            range_reader=file_range_reader(path),
        )


# --- segment planning (no clamd) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "cap", "overlap", "workers"),
    [(10, 4, 1, 1), (100, 10, 3, 1), (4096, 1000, 64, 1), (7, 7, 2, 1), (31, 9, 4, 1), (100, 10, 3, 4)],
)
def test_segments_cover_everything_within_the_cap(size: int, cap: int, overlap: int, workers: int) -> None:
    segments = plan_segments(size, cap, overlap, workers)
    assert segments[0].first == 0 and segments[-1].last == size - 1
    assert all(segment.length <= cap for segment in segments)
    for left, right in itertools.pairwise(segments):
        assert left.last - right.first + 1 >= overlap  # neighbours share at least `overlap` bytes
    # Every run of `overlap` bytes lies whole inside one segment.
    for start in range(size - overlap + 1):
        assert any(s.first <= start and start + overlap - 1 <= s.last for s in segments)


def test_segments_are_balanced_across_workers() -> None:
    # 3 GiB under a 2000 MiB cap: two equal halves (parallel workers finish together), not 2000 + 1073.
    lengths = [segment.length for segment in plan_segments(3 * 1024 * MIB, 2000 * MIB, MIB)]
    assert len(lengths) == 2 and max(lengths) - min(lengths) <= MIB
    # Three segments' worth for two workers becomes four, so that neither waits for a third.
    assert len(plan_segments(256 * MIB, 100 * MIB, MIB, workers=1)) == 3
    assert len(plan_segments(256 * MIB, 100 * MIB, MIB, workers=2)) == 4


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="overlap"):
        ScanOptions(segment_overlap=1024)
    with pytest.raises(ValueError, match="engine_cap"):
        ScanOptions(engine_cap=2 * MIB, segment_overlap=MIB)
    with pytest.raises(ValueError, match="workers"):
        ScanOptions(segment_workers=0)


# --- clamd unavailable (no clamd) ----------------------------------------------------------------


def test_clamd_down_is_a_retryable_error_never_clean(tmp_path: Path, samples: dict[str, bytes]) -> None:
    down = ClamdClient(str(tmp_path / "no-clamd.sock"), timeout=5)
    verdict = scan_bytes(samples["png"], "image/png", down)
    assert verdict.outcome is Outcome.ERROR
    assert verdict.retryable
    assert "clamd unavailable" in (verdict.reason or "")


# --- whole-object scans ---------------------------------------------------------------------------


@pytest.mark.clamd
def test_eicar_is_infected(clamd_client: ClamdClient, eicar: bytes) -> None:
    verdict = scan_bytes(eicar, "text/plain", clamd_client)
    assert verdict.outcome is Outcome.INFECTED
    assert verdict.signature is not None and verdict.signature.endswith(".UNOFFICIAL")
    assert verdict.sha256 == hashlib.sha256(eicar).hexdigest()
    assert verdict.sniffed_type == "text/plain"
    assert verdict.test_signatures_only and verdict.engine_version and verdict.signature_version is None


@pytest.mark.clamd
def test_eicar_inside_a_zip_is_infected(clamd_client: ClamdClient, eicar: bytes) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("readme.txt", "nothing to see")
        zf.writestr("docs/eicar.com", eicar)
    verdict = scan_bytes(
        archive.getvalue(), "application/zip", clamd_client, allowed=[*ALLOWED, "application/zip"]
    )
    assert verdict.outcome is Outcome.INFECTED
    assert verdict.signature is not None and verdict.signature.endswith(".UNOFFICIAL")
    assert verdict.sniffed_type == "application/zip"


@pytest.mark.clamd
def test_encrypted_archive_is_rejected_as_unscannable(clamd_client: ClamdClient) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("secret.txt", "nobody can look inside " * 10)
    data = bytearray(archive.getvalue())
    # Mark the entry encrypted (general-purpose flag bit 0) in its local and central headers.
    data[6] |= 1
    data[data.find(b"PK\x01\x02") + 8] |= 1
    verdict = scan_bytes(bytes(data), "application/zip", clamd_client, allowed=[*ALLOWED, "application/zip"])
    assert verdict.outcome is Outcome.REJECTED
    assert verdict.signature == "Heuristics.Encrypted.Zip"
    assert "encrypted" in (verdict.reason or "")


@pytest.mark.clamd
def test_eicar_appended_to_a_50_mb_video_is_infected(
    clamd_client: ClamdClient, eicar: bytes, mp4_with: Callable[[bytes], bytes]
) -> None:
    data = mp4_with(b"\x17" * (50 * 1000 * 1000) + eicar)
    verdict = scan_bytes(data, "video/mp4", clamd_client)
    assert verdict.outcome is Outcome.INFECTED
    assert verdict.sniffed_type == "video/mp4"
    assert verdict.bytes_scanned == len(data)
    assert not verdict.segmented


@pytest.mark.clamd
@pytest.mark.parametrize(
    ("name", "declared", "sniffed"),
    [
        ("png", "image/png", "image/png"),
        ("pdf", "application/pdf", "application/pdf"),
        ("mp4", "video/mp4", "video/mp4"),
        ("dicom", "application/dicom", "application/dicom"),
        ("dicom", "application/octet-stream", "application/dicom"),
    ],
)
def test_clean_files(
    clamd_client: ClamdClient, samples: dict[str, bytes], name: str, declared: str, sniffed: str
) -> None:
    data = samples[name]
    verdict = scan_bytes(data, declared, clamd_client)
    assert verdict.outcome is Outcome.CLEAN, verdict.reason
    assert verdict.sniffed_type == sniffed and verdict.effective_type == sniffed
    assert verdict.sha256 == hashlib.sha256(data).hexdigest()
    assert verdict.bytes_scanned == len(data)
    assert not verdict.segmented and not verdict.retryable


@pytest.mark.clamd
@pytest.mark.parametrize("name", ["elf", "pe"])
def test_executable_called_a_video_is_rejected(
    clamd_client: ClamdClient, samples: dict[str, bytes], name: str
) -> None:
    verdict = scan_bytes(samples[name], "video/mp4", clamd_client)
    assert verdict.outcome is Outcome.REJECTED
    assert "executable" in (verdict.reason or "")
    assert verdict.bytes_scanned == 0  # rejected on its first bytes, before clamd saw anything


@pytest.mark.clamd
def test_rejection_stops_reading_and_closes_the_source(
    clamd_client: ClamdClient, samples: dict[str, bytes]
) -> None:
    """A 10 GB executable is rejected on its first chunks: the rest is never read, the GET is released."""
    pulled: list[int] = []
    closed: list[bool] = []

    def endless_executable() -> Iterator[bytes]:
        try:
            yield samples["elf"]
            while True:
                pulled.append(1)
                yield b"\0" * MIB
        finally:
            closed.append(True)

    verdict = scan(
        endless_executable(),
        size=10**10,
        declared_type="video/mp4",
        allowed_types=ALLOWED,
        client=clamd_client,
    )
    assert verdict.outcome is Outcome.REJECTED
    assert len(pulled) < 10  # the sniffing head (1 MiB) and a few chunks read ahead, out of 10 GB
    assert closed == [True]


@pytest.mark.clamd
def test_stream_over_clamds_limit_is_too_large_never_clean(
    small_clamd_client: ClamdClient, mp4_with: Callable[[bytes], bytes]
) -> None:
    # The core's cap (2000 MiB) is above this clamd's StreamMaxLength (2M): clamd's limit decides.
    verdict = scan_bytes(mp4_with(b"\0" * (5 * MIB)), "video/mp4", small_clamd_client)
    assert verdict.outcome is Outcome.TOO_LARGE
    assert "INSTREAM size limit exceeded" in (verdict.reason or "")


@pytest.mark.clamd
def test_file_over_clamds_max_file_size_is_too_large_never_clean(
    small_clamd_client: ClamdClient, mp4_with: Callable[[bytes], bytes]
) -> None:
    verdict = scan_bytes(mp4_with(b"\0" * (3 * MIB // 2)), "video/mp4", small_clamd_client)
    assert verdict.outcome is Outcome.TOO_LARGE
    assert verdict.signature == "Heuristics.Limits.Exceeded.MaxFileSize"


@pytest.mark.clamd
def test_over_the_cap_is_refused_when_segments_are_off(
    clamd_client: ClamdClient, tmp_path: Path, mp4_with: Callable[[bytes], bytes]
) -> None:
    path = write(tmp_path, mp4_with(b"\0" * (10 * MIB)))
    options = ScanOptions(engine_cap=4 * MIB, oversize=OversizePolicy.REFUSE)
    verdict = scan_file(path, "video/mp4", clamd_client, options)
    assert verdict.outcome is Outcome.TOO_LARGE
    assert "segment scanning is off" in (verdict.reason or "")
    assert verdict.bytes_scanned == 0 and not verdict.segmented


@pytest.mark.clamd
def test_stale_or_test_signatures_cannot_vouch_for_clean(
    clamd_client: ClamdClient, samples: dict[str, bytes]
) -> None:
    verdict = scan_bytes(
        samples["png"], "image/png", clamd_client, options=ScanOptions(max_signature_age=timedelta(days=3))
    )
    assert verdict.outcome is Outcome.ERROR and verdict.retryable
    assert "test signatures" in (verdict.reason or "")
    assert verdict.test_signatures_only


@pytest.mark.clamd
def test_a_failing_source_is_a_retryable_error(clamd_client: ClamdClient, samples: dict[str, bytes]) -> None:
    def chunks() -> Iterator[bytes]:
        yield samples["mp4"][:100]
        raise OSError("connection reset by S3")

    verdict = scan(
        chunks(),
        size=len(samples["mp4"]),
        declared_type="video/mp4",
        allowed_types=ALLOWED,
        client=clamd_client,
    )
    assert verdict.outcome is Outcome.ERROR and verdict.retryable
    assert "connection reset by S3" in (verdict.reason or "")


@pytest.mark.clamd
def test_a_short_object_is_an_error_not_clean(clamd_client: ClamdClient, samples: dict[str, bytes]) -> None:
    data = samples["mp4"]
    verdict = scan(
        read_chunks(io.BytesIO(data)),
        size=len(data) + 1,
        declared_type="video/mp4",
        allowed_types=ALLOWED,
        client=clamd_client,
    )
    assert verdict.outcome is Outcome.ERROR and verdict.retryable
    assert "where" in (verdict.reason or "")


# --- segment scans ----------------------------------------------------------------------------------


@pytest.mark.clamd
@pytest.mark.parametrize("workers", [1, 2])
def test_eicar_straddling_a_segment_cut_is_found_in_the_overlap(
    clamd_client: ClamdClient, tmp_path: Path, eicar: bytes, mp4_with: Callable[[bytes], bytes], workers: int
) -> None:
    size = 10 * MIB
    options = replace(SEGMENTS, segment_workers=workers)
    first_cut = plan_segments(size, options.engine_cap, options.segment_overlap, workers)[0].last
    head = mp4_with(b"")
    offset = first_cut - 30  # EICAR starts 30 bytes before segment 0 ends, so segment 0 holds only part of it
    payload = b"\0" * (offset - len(head)) + eicar
    data = head + payload + b"\0" * (size - len(head) - len(payload))
    assert len(data) == size and offset < first_cut < offset + len(eicar) - 1
    path = write(tmp_path, data)

    verdict = scan_file(path, "video/mp4", clamd_client, options)
    assert verdict.outcome is Outcome.INFECTED
    assert verdict.segmented
    assert verdict.signature is not None and verdict.signature.endswith(".UNOFFICIAL")


@pytest.mark.clamd
def test_clean_segmented_scan_hashes_the_whole_object_once(
    clamd_client: ClamdClient, tmp_path: Path, mp4_with: Callable[[bytes], bytes]
) -> None:
    data = mp4_with(bytes(range(256)) * (40 * 1024))  # about 10 MiB
    path = write(tmp_path, data)
    verdict = scan_file(path, "video/mp4", clamd_client, SEGMENTS)
    assert verdict.outcome is Outcome.CLEAN, verdict.reason
    assert verdict.segmented
    assert verdict.sha256 == hashlib.sha256(data).hexdigest()
    segments = plan_segments(
        len(data), SEGMENTS.engine_cap, SEGMENTS.segment_overlap, SEGMENTS.segment_workers
    )
    assert verdict.bytes_scanned == sum(segment.length for segment in segments) > len(data)


@pytest.mark.clamd
@pytest.mark.parametrize("when", ["on request", "mid-stream"])
def test_a_failing_segment_read_is_a_retryable_error(
    clamd_client: ClamdClient, tmp_path: Path, mp4_with: Callable[[bytes], bytes], when: str
) -> None:
    path = write(tmp_path, mp4_with(b"\0" * (10 * MIB)))
    good = file_range_reader(path)

    def failing_stream(first: int, last: int) -> Iterator[bytes]:
        chunks = iter(good(first, last))
        yield next(chunks)
        raise OSError("range GET failed")

    def flaky(first: int, last: int) -> Iterable[bytes]:
        if first == 0:
            return good(first, last)
        if when == "on request":
            raise OSError("range GET failed")
        return failing_stream(first, last)

    with path.open("rb") as stream:
        verdict = scan(
            read_chunks(stream),
            size=path.stat().st_size,
            declared_type="video/mp4",
            allowed_types=ALLOWED,
            client=clamd_client,
            options=SEGMENTS,
            range_reader=flaky,
        )
    assert verdict.outcome is Outcome.ERROR and verdict.retryable
    assert "range GET failed" in (verdict.reason or "")
