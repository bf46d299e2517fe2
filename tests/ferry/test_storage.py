"""The S3 adapter against moto: presigned uploads, multipart, tags, ranged reads, bucket set-up."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from itertools import pairwise
from typing import Any

import botocore.auth
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws

from ferry.config import Settings
from ferry.queues import SqsQueue
from ferry.storage import (
    COPY_PART_BYTES,
    MAX_COPY_OBJECT_BYTES,
    ObjectNotFound,
    S3Storage,
    StorageError,
    UploadedPart,
    content_disposition,
    copy_ranges,
)
from tests.conftest import REGION

MIB = 1024 * 1024


@pytest.fixture
def storage(settings: Settings, aws: None) -> S3Storage:
    return S3Storage(bucket=settings.s3_bucket, region=REGION)


def put_part(url: str, headers: dict[str, str], body: bytes) -> str:
    answer = requests.put(url, data=body, headers=headers, timeout=10)
    answer.raise_for_status()
    return answer.headers["ETag"]


def test_presigned_put_stores_the_object_with_its_tags(storage: S3Storage) -> None:
    url, headers = storage.presign_put(
        "incoming/a", content_type="application/pdf", tags={"scan-status": "pending"}, expires=300
    )
    assert headers["Content-Type"] == "application/pdf"
    requests.put(url, data=b"%PDF-1.7 body", headers=headers, timeout=10).raise_for_status()
    info = storage.head("incoming/a")
    assert info.size == len(b"%PDF-1.7 body")
    assert storage.get_tags("incoming/a") == {"scan-status": "pending"}


def test_multipart_upload_lists_completes_and_reads_back(storage: S3Storage) -> None:
    upload_id = storage.create_multipart(
        "incoming/big", content_type="video/mp4", tags={"scan-status": "pending"}
    )
    chunks = [b"a" * (5 * MIB), b"b" * (5 * MIB), b"tail"]
    for number, chunk in enumerate(chunks[:2], start=1):
        url, headers = storage.presign_part("incoming/big", upload_id, number, expires=300)
        put_part(url, headers, chunk)
    assert [p.number for p in storage.list_parts("incoming/big", upload_id)] == [1, 2]
    url, headers = storage.presign_part("incoming/big", upload_id, 3, expires=300)
    put_part(url, headers, chunks[2])
    parts = storage.list_parts("incoming/big", upload_id)
    storage.complete_multipart("incoming/big", upload_id, parts)

    digest = hashlib.sha256()
    for chunk in storage.read("incoming/big"):
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(b"".join(chunks)).hexdigest()
    assert b"".join(storage.read("incoming/big", start=5 * MIB - 2, end=5 * MIB + 1)) == b"aabb"
    assert storage.get_tags("incoming/big") == {"scan-status": "pending"}


def test_abort_removes_the_upload(storage: S3Storage) -> None:
    upload_id = storage.create_multipart("incoming/gone", content_type="video/mp4", tags={})
    assert [u.upload_id for u in storage.list_multipart_uploads("incoming/")] == [upload_id]
    storage.abort_multipart("incoming/gone", upload_id)
    assert storage.list_multipart_uploads("incoming/") == []
    with pytest.raises(ObjectNotFound):
        storage.list_parts("incoming/gone", upload_id)


def test_completing_with_a_wrong_etag_is_a_storage_error(storage: S3Storage) -> None:
    upload_id = storage.create_multipart("incoming/bad", content_type="video/mp4", tags={})
    with pytest.raises(Exception, match="complete_multipart_upload"):
        storage.complete_multipart("incoming/bad", upload_id, [UploadedPart(number=1, etag='"nope"', size=1)])


def test_missing_object_is_object_not_found(storage: S3Storage) -> None:
    with pytest.raises(ObjectNotFound):
        storage.head("incoming/missing")


def test_a_pinned_copy_is_born_with_its_tags_or_refused_once_the_source_changed(storage: S3Storage) -> None:
    storage.client.put_object(
        Bucket=storage.bucket, Key="incoming/c", Body=b"scanned", Tagging="scan-status=pending"
    )
    read = storage.head("incoming/c").etag

    etag = storage.copy(
        "incoming/c", "clean/c", if_match=read, tags={"scan-status": "clean", "engine": "ClamAV 1"}
    )

    assert etag == storage.head("clean/c").etag
    assert storage.get_tags("clean/c") == {"scan-status": "clean", "engine": "ClamAV 1"}
    assert b"".join(storage.read("clean/c", if_match=etag)) == b"scanned"
    storage.client.put_object(Bucket=storage.bucket, Key="incoming/c", Body=b"swapped")
    with pytest.raises(StorageError, match="changed"):
        storage.copy("incoming/c", "clean/c", if_match=read, tags={"scan-status": "clean"})
    with pytest.raises(StorageError, match="PreconditionFailed"):
        b"".join(storage.read("incoming/c", if_match=read))
    assert b"".join(storage.read("clean/c")) == b"scanned"


def test_move_keeps_content_and_tags(storage: S3Storage) -> None:
    url, headers = storage.presign_put(
        "incoming/m", content_type="text/plain", tags={"scan-status": "infected"}, expires=60
    )
    requests.put(url, data=b"x", headers=headers, timeout=10).raise_for_status()
    storage.move("incoming/m", "quarantine/m")
    assert storage.get_tags("quarantine/m") == {"scan-status": "infected"}
    assert b"".join(storage.read("quarantine/m")) == b"x"
    with pytest.raises(ObjectNotFound):
        storage.head("incoming/m")


def test_moving_a_missing_object_is_object_not_found(storage: S3Storage) -> None:
    # The scanner reads this as "moved before" and looks for the copy.
    with pytest.raises(ObjectNotFound):
        storage.move("incoming/never", "quarantine/never")


# A multipart copy of 12 MiB in 5 MiB parts (S3's smallest): three parts, the last one short.
BIG = 12 * MIB
INFECTED_TAGS = {"scan-status": "infected", "scan-engine": "ClamAV 1.4.2", "scan-signature": "Eicar-Test+1"}


@pytest.fixture
def small_copies(settings: Settings, aws: None) -> S3Storage:
    """Storage that moves anything over 5 MiB by multipart copy, as it does over 5 GiB in production."""
    return S3Storage(bucket=settings.s3_bucket, region=REGION, copy_threshold=5 * MIB, copy_part_size=5 * MIB)


@pytest.fixture
def big_object(small_copies: S3Storage) -> bytes:
    data = os.urandom(BIG)
    small_copies.client.put_object(
        Bucket=small_copies.bucket,
        Key="incoming/big",
        Body=data,
        ContentType="video/mp4",
        Metadata={"origin": "widget"},
        Tagging="scan-status=infected&scan-engine=ClamAV%201.4.2&scan-signature=Eicar-Test%2B1",
    )
    return data


def count_calls(monkeypatch: pytest.MonkeyPatch, storage: S3Storage, method: str) -> list[dict[str, Any]]:
    """Record the keyword arguments of every call of a client method (which still runs)."""
    calls: list[dict[str, Any]] = []
    real = getattr(storage.client, method)

    def spy(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(storage.client, method, spy)
    return calls


def test_a_move_over_the_threshold_is_a_multipart_copy_that_keeps_bytes_type_and_tags(
    small_copies: S3Storage, big_object: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_objects = count_calls(monkeypatch, small_copies, "copy_object")
    part_copies = count_calls(monkeypatch, small_copies, "upload_part_copy")

    small_copies.move("incoming/big", "quarantine/big")

    assert copy_objects == []  # S3 would refuse it above 5 GiB
    assert sorted((c["PartNumber"], c["CopySourceRange"]) for c in part_copies) == [
        (1, f"bytes=0-{5 * MIB - 1}"),
        (2, f"bytes={5 * MIB}-{10 * MIB - 1}"),
        (3, f"bytes={10 * MIB}-{BIG - 1}"),
    ]
    digest = hashlib.sha256()
    for chunk in small_copies.read("quarantine/big"):
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(big_object).hexdigest()
    assert small_copies.get_tags("quarantine/big") == INFECTED_TAGS
    copied = small_copies.client.head_object(Bucket=small_copies.bucket, Key="quarantine/big")
    assert copied["ContentType"] == "video/mp4"
    assert copied["Metadata"] == {"origin": "widget"}
    assert copied["ContentLength"] == BIG
    with pytest.raises(ObjectNotFound):
        small_copies.head("incoming/big")
    assert small_copies.list_multipart_uploads("") == []


@pytest.mark.parametrize("code", ["InternalError", "NoSuchUpload"])
def test_a_failed_part_aborts_the_multipart_copy_and_keeps_the_source(
    small_copies: S3Storage, big_object: bytes, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    real = small_copies.client.upload_part_copy

    def second_part_fails(**kwargs: Any) -> Any:
        if kwargs["PartNumber"] == 2:
            raise ClientError({"Error": {"Code": code}}, "UploadPartCopy")
        return real(**kwargs)

    monkeypatch.setattr(small_copies.client, "upload_part_copy", second_part_fails)

    with pytest.raises(StorageError, match=f"upload_part_copy: {code}") as failed:
        small_copies.move("incoming/big", "quarantine/big")

    # Never ObjectNotFound while the source exists: the scanner would take the object for moved or gone.
    assert type(failed.value) is StorageError

    assert small_copies.list_multipart_uploads("") == []
    with pytest.raises(ObjectNotFound):
        small_copies.head("quarantine/big")
    assert small_copies.head("incoming/big").size == BIG
    assert small_copies.get_tags("incoming/big") == INFECTED_TAGS


def test_a_copy_of_the_wrong_size_is_removed_and_the_source_kept(
    small_copies: S3Storage, big_object: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = small_copies.client.head_object

    def short_copy(**kwargs: Any) -> Any:
        answer = real(**kwargs)
        if kwargs["Key"] == "quarantine/big":
            answer["ContentLength"] -= 1
        return answer

    monkeypatch.setattr(small_copies.client, "head_object", short_copy)

    with pytest.raises(StorageError, match="the copy has"):
        small_copies.move("incoming/big", "quarantine/big")

    assert small_copies.head("incoming/big").size == BIG
    with pytest.raises(ObjectNotFound):
        small_copies.head("quarantine/big")


def test_copy_parts_respect_s3s_limits() -> None:
    assert copy_ranges(BIG, 5 * MIB) == [
        (1, 0, 5 * MIB - 1),
        (2, 5 * MIB, 10 * MIB - 1),
        (3, 10 * MIB, BIG - 1),
    ]
    for size in (MAX_COPY_OBJECT_BYTES + 1, 50 * 1024 * MIB, 5 * 1024 * 1024 * MIB):  # 5 GiB+1, 50 GiB, 5 TiB
        parts = copy_ranges(size, COPY_PART_BYTES)
        assert len(parts) <= 10_000
        assert [number for number, _, _ in parts] == list(range(1, len(parts) + 1))
        assert parts[0][1] == 0 and parts[-1][2] == size - 1
        assert all(b[1] == a[2] + 1 for a, b in pairwise(parts))  # contiguous
        sizes = [last - first + 1 for _, first, last in parts]
        assert all(5 * MIB <= s <= 5 * 1024 * MIB for s in sizes[:-1]) and sizes[-1] <= 5 * 1024 * MIB
    assert len(copy_ranges(50 * 1024 * MIB, COPY_PART_BYTES)) == 200


def test_the_copy_threshold_cannot_exceed_copy_objects_limit() -> None:
    assert S3Storage(bucket="b", region=REGION).copy_threshold == 5 * 1024 * MIB
    with pytest.raises(ValueError, match="copy_threshold"):
        S3Storage(bucket="b", region=REGION, copy_threshold=MAX_COPY_OBJECT_BYTES + 1)
    with pytest.raises(ValueError, match="copy_part_size"):
        S3Storage(bucket="b", region=REGION, copy_part_size=MIB)


def test_presigned_get_sets_disposition(storage: S3Storage) -> None:
    url, headers = storage.presign_put("incoming/d", content_type="application/pdf", tags={}, expires=60)
    requests.put(url, data=b"%PDF", headers=headers, timeout=10).raise_for_status()
    get_url = storage.presign_get(
        "incoming/d",
        expires=300,
        filename="Schadensmeldung ä.pdf",
        inline=False,
        content_type="application/pdf",
    )
    answer = requests.get(get_url, timeout=10)
    assert answer.content == b"%PDF"
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    with pytest.raises(ValueError, match="lifetime"):
        storage.presign_get(
            "incoming/d", expires=8 * 24 * 3600, filename=None, inline=True, content_type=None
        )


@pytest.mark.parametrize("endpoint_url", [None, "http://127.0.0.1:8200"])
@pytest.mark.parametrize("region", [REGION, "us-east-1"])
def test_presign_get_signs_exactly_as_the_boto3_client_does(
    endpoint_url: str | None, region: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """presign_get skips the client's per-call machinery; its URL must still be the client's, to the
    byte (session token, quoting of odd keys and names, virtual-host and path style, regions)."""
    now = datetime(2026, 11, 24, 7, 30, 0)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now)
    storage = S3Storage(bucket="evidence", region=region, endpoint_url=endpoint_url)
    cases = [
        ("incoming/0b5e3f3c-6b7e-4a8e-9a53-1e1f6d3c2a11", "claim.mp4", False, "video/mp4"),
        ("quarantine/a b+c~ä", 'Übersicht €; "x".pdf', True, "application/pdf"),
        ("incoming/plain", None, True, None),
    ]
    for key, filename, inline, content_type in cases:
        params = {"Bucket": "evidence", "Key": key}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename, inline=inline)
        if content_type is not None:
            params["ResponseContentType"] = content_type
        expected = storage.client.generate_presigned_url("get_object", Params=params, ExpiresIn=300)
        ours = storage.presign_get(
            key, expires=300, filename=filename, inline=inline, content_type=content_type
        )
        assert ours == expected
        assert "X-Amz-Security-Token=testing" in ours


@pytest.mark.parametrize(
    ("name", "inline", "expected"),
    [
        ("claim.pdf", True, "inline; filename=\"claim.pdf\"; filename*=UTF-8''claim.pdf"),
        ('a"b;c.mp4', False, "attachment; filename=\"a_b_c.mp4\"; filename*=UTF-8''a%22b%3Bc.mp4"),
        (
            "Übersicht €.pdf",
            False,
            "attachment; filename=\"_bersicht _.pdf\"; filename*=UTF-8''%C3%9Cbersicht%20%E2%82%AC.pdf",
        ),
        (
            "line\r\nbreak.txt",
            False,
            "attachment; filename=\"line__break.txt\"; filename*=UTF-8''line%0D%0Abreak.txt",
        ),
    ],
)
def test_content_disposition_is_rfc6266_and_5987(name: str, inline: bool, expected: str) -> None:
    assert content_disposition(name, inline=inline) == expected


def test_configure_sets_cors_events_and_lifecycle(settings: Settings) -> None:
    with mock_aws():
        storage = S3Storage(bucket=settings.s3_bucket, region=REGION)
        queue = SqsQueue(url=settings.sqs_queue_url, region=REGION)
        storage.ensure_bucket()
        storage.ensure_bucket()  # idempotent
        queue.ensure(visibility_timeout=60)
        storage.configure(
            widget_origins=("https://www.insurer.example",),
            queue_arn=queue.arn(),
            incoming_prefix="incoming/",
            abort_after_days=3,
        )
        described = storage.describe_configuration()
        assert described["cors"][0]["AllowedOrigins"] == ["https://www.insurer.example"]
        assert described["cors"][0]["ExposeHeaders"] == ["ETag"]
        event = described["notification"][0]
        assert event["QueueArn"] == queue.arn()
        assert event["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "incoming/"}]
        assert described["lifecycle"][0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 3}

        # An object under the prefix produces an ObjectCreated event on the queue.
        url, headers = storage.presign_put("incoming/e", content_type="text/plain", tags={}, expires=60)
        requests.put(url, data=b"x", headers=headers, timeout=10).raise_for_status()
        bodies = [
            json.loads(m.body) for m in queue.receive(max_messages=10, wait_seconds=0, visibility_timeout=30)
        ]
        keys = [r["s3"]["object"]["key"] for b in bodies for r in b.get("Records", [])]
        # Keys arrive URL-encoded, as real S3 sends them.
        assert "incoming%2Fe" in keys


def test_origin_is_where_presigned_urls_point() -> None:
    emulated = S3Storage(bucket="b", region=REGION, endpoint_url="http://127.0.0.1:8200")
    assert emulated.origin == "http://127.0.0.1:8200"
    aws = S3Storage(bucket="evidence", region=REGION)
    assert aws.origin.startswith("https://evidence.s3.") and aws.origin.endswith(".amazonaws.com")
    url = aws.presign_get("incoming/x", expires=60, filename=None, inline=True, content_type=None)
    assert url.startswith(aws.origin + "/")
