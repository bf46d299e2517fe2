"""scanner.signature_updater: the private signature mirror (moto S3) and the real freshclam, offline."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scanner import signature_updater
from scanner.signature_updater import (
    STATE_FILE,
    FreshclamError,
    MirrorLocation,
    SignatureMirrorError,
    download_signatures,
    freshclam_config,
    update_mirror,
    upload_signatures,
)

BUCKET = "ferry-test-signatures"
MIRROR = MirrorLocation(bucket=BUCKET, prefix="clamav/")


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _write(directory: Path, files: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (directory / name).write_bytes(body)
    return directory


def _mirror_objects(s3: Any) -> dict[str, tuple[bytes, str | None]]:
    """name -> (body, md5 metadata) of everything under the mirror's prefix."""
    found = {}
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=MIRROR.prefix).get("Contents", []):
        answer = s3.get_object(Bucket=BUCKET, Key=item["Key"])
        found[item["Key"].removeprefix(MIRROR.prefix)] = (
            answer["Body"].read(),
            answer["Metadata"].get("md5"),
        )
    return found


DATABASES = {
    "main.cvd": b"main database",
    "daily.cld": b"daily database",
    "bytecode.cvd": b"bytecode database",
}


def test_mirror_location_is_an_s3_url() -> None:
    assert MirrorLocation.parse("s3://bucket/clamav/") == MirrorLocation("bucket", "clamav/")
    assert MirrorLocation.parse("s3://bucket/clamav") == MirrorLocation("bucket", "clamav/")
    assert MirrorLocation.parse("s3://bucket") == MirrorLocation("bucket", "")
    assert str(MirrorLocation("bucket", "clamav/")) == "s3://bucket/clamav/"
    for wrong in ("https://bucket/clamav/", "s3:///clamav/", "bucket/clamav"):
        with pytest.raises(ValueError, match="s3://bucket/prefix/"):
            MirrorLocation.parse(wrong)


def test_databases_are_published_with_their_md5(s3: Any, tmp_path: Path) -> None:
    datadir = _write(tmp_path / "db", {**DATABASES, STATE_FILE: b"state", "freshclam.conf": b"conf"})
    report = upload_signatures(s3, MIRROR, datadir)
    assert sorted(report.copied) == sorted(DATABASES)
    assert _mirror_objects(s3) == {
        name: (body, hashlib.md5(body, usedforsecurity=False).hexdigest()) for name, body in DATABASES.items()
    }


def test_unchanged_databases_are_not_uploaded_again(s3: Any, tmp_path: Path) -> None:
    datadir = _write(tmp_path / "db", DATABASES)
    upload_signatures(s3, MIRROR, datadir)
    assert upload_signatures(s3, MIRROR, datadir).copied == []
    (datadir / "daily.cld").write_bytes(b"daily database, one update later")
    report = upload_signatures(s3, MIRROR, datadir)
    assert report.copied == ["daily.cld"]
    assert sorted(report.unchanged) == ["bytecode.cvd", "main.cvd"]
    assert _mirror_objects(s3)["daily.cld"][0] == b"daily database, one update later"


def test_databases_freshclam_dropped_leave_the_mirror(s3: Any, tmp_path: Path) -> None:
    upload_signatures(s3, MIRROR, _write(tmp_path / "before", {"main.cvd": b"m", "daily.cvd": b"published"}))
    report = upload_signatures(
        s3, MIRROR, _write(tmp_path / "after", {"main.cvd": b"m", "daily.cld": b"updated"})
    )
    assert report.removed == ["daily.cvd"]
    assert sorted(_mirror_objects(s3)) == ["daily.cld", "main.cvd"]


def test_an_empty_directory_never_empties_the_mirror(s3: Any, tmp_path: Path) -> None:
    upload_signatures(s3, MIRROR, _write(tmp_path / "db", DATABASES))
    with pytest.raises(SignatureMirrorError, match="no signature database"):
        upload_signatures(s3, MIRROR, _write(tmp_path / "empty", {STATE_FILE: b"state"}))
    assert sorted(_mirror_objects(s3)) == sorted(DATABASES)


def test_cold_start_download_fills_the_database_directory(s3: Any, tmp_path: Path) -> None:
    upload_signatures(s3, MIRROR, _write(tmp_path / "published", DATABASES))
    s3.put_object(Bucket=BUCKET, Key=MIRROR.key(STATE_FILE), Body=b"state")
    clamd_db = _write(tmp_path / "clamd", {"daily.cvd": b"superseded", "clamd.conf": b"kept"})

    first = download_signatures(s3, MIRROR, clamd_db)
    assert sorted(first.copied) == sorted(DATABASES)
    assert first.removed == ["daily.cvd"]  # clamd must not load it beside the daily.cld that replaced it
    assert {p.name: p.read_bytes() for p in clamd_db.iterdir()} == {**DATABASES, "clamd.conf": b"kept"}

    # A warm sandbox keeps /tmp: nothing is fetched again.
    second = download_signatures(s3, MIRROR, clamd_db)
    assert second.copied == [] and sorted(second.unchanged) == sorted(DATABASES)


def test_state_file_is_fetched_only_for_the_updater(s3: Any, tmp_path: Path) -> None:
    upload_signatures(s3, MIRROR, _write(tmp_path / "published", DATABASES))
    s3.put_object(Bucket=BUCKET, Key=MIRROR.key(STATE_FILE), Body=b"state")
    assert STATE_FILE not in download_signatures(s3, MIRROR, tmp_path / "scanner").copied
    assert STATE_FILE in download_signatures(s3, MIRROR, tmp_path / "updater", include_state=True).copied


def test_mirror_failures_become_our_error(s3: Any, tmp_path: Path) -> None:
    with pytest.raises(SignatureMirrorError, match="no-such-bucket"):
        download_signatures(s3, MirrorLocation("no-such-bucket", "clamav/"), tmp_path)


def test_freshclam_config_updates_one_directory_from_the_chosen_mirror(tmp_path: Path) -> None:
    cdn = freshclam_config(tmp_path)
    assert f"DatabaseDirectory {tmp_path}\n" in cdn
    assert "TestDatabases yes" in cdn and "MaxAttempts 3" in cdn and "PrivateMirror" not in cdn
    assert "PrivateMirror https://mirror.example\n" in freshclam_config(
        tmp_path, private_mirror="https://mirror.example"
    )


class _RateLimitingMirror(BaseHTTPRequestHandler):
    """A database server that answers every request like ClamAV's CDN does when it rate-limits a client."""

    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        self.send_response(429)
        self.send_header("Retry-After", "3600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr logging."""


@pytest.fixture
def rate_limiting_mirror() -> Iterator[tuple[str, list[str]]]:
    requests: list[str] = []
    handler = type("Handler", (_RateLimitingMirror,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_a_cdn_cool_down_outlives_the_sandbox_that_met_it(
    s3: Any, tmp_path: Path, rate_limiting_mirror: tuple[str, list[str]]
) -> None:
    url, requests = rate_limiting_mirror
    upload_signatures(s3, MIRROR, _write(tmp_path / "published", DATABASES))

    with pytest.raises(FreshclamError, match="exited with status"):
        update_mirror(s3, MIRROR, tmp_path / "run1", private_mirror=url, max_attempts=1)
    asked = len(requests)
    assert asked > 0
    # The databases are untouched, and freshclam's state (now holding the cool-down) is in the mirror.
    mirrored = _mirror_objects(s3)
    assert {n: body for n, (body, _md5) in mirrored.items() if n != STATE_FILE} == DATABASES
    assert STATE_FILE in mirrored

    # A new sandbox (fresh /tmp) gets the state back from the mirror and leaves the CDN alone.
    report = update_mirror(s3, MIRROR, tmp_path / "run2", private_mirror=url, max_attempts=1)
    assert len(requests) == asked
    assert report.cooling_down
    assert report.published.copied == [] and sorted(report.published.unchanged) == sorted(DATABASES)
    assert STATE_FILE in report.fetched_from_mirror.copied


def test_lambda_handler_reads_the_mirror_from_its_event(
    s3: Any, tmp_path: Path, rate_limiting_mirror: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, requests = rate_limiting_mirror
    upload_signatures(s3, MIRROR, _write(tmp_path / "published", DATABASES))
    with pytest.raises(FreshclamError):
        update_mirror(s3, MIRROR, tmp_path / "first", private_mirror=url, max_attempts=1)
    asked = len(requests)
    monkeypatch.setattr(signature_updater, "DEFAULT_WORKDIR", tmp_path / "lambda")

    answer = signature_updater.lambda_handler({"mirror_url": str(MIRROR), "private_mirror": url}, None)

    assert answer["mirror"] == str(MIRROR)
    assert answer["cooling_down"] is True
    assert sorted(answer["published"]["unchanged"]) == sorted(DATABASES)
    assert len(requests) == asked
    assert sorted(p.name for p in (tmp_path / "lambda" / "db").iterdir()) == sorted([*DATABASES, STATE_FILE])
