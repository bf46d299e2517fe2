"""The scan pipeline against real clamd (Ferry's config, test signatures) and moto's in-process S3/SQS:
events, claims, verdicts, tags, quarantine, the widget's notices and the outbox entries they owe Genesys."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import func, select, update

from ferry import create_app
from ferry.access import serving
from ferry.access.refusals import AccessDenied, Reason
from ferry.access.serving import presigned_url
from ferry.antivirus import ClamdClient
from ferry.attachments import complete_upload, display_reason, display_state
from ferry.config import Settings
from ferry.db import Database, utcnow
from ferry.models import Attachment, AttachmentStatus, MessageStatus, OutboxEntry
from ferry.queues import SqsQueue
from ferry.storage import ObjectNotFound, S3Storage
from scanner.pipeline import (
    Disposition,
    MalformedEvent,
    ObjectEvent,
    ScanPipeline,
    parse_message,
    tag_value,
)
from scanner.worker import ScanConsumer
from tests.scanner.stack import (
    MIB,
    add_attachment,
    attachment,
    load_event,
    new_chat,
    notices,
    outbox_entries,
    put_object,
    s3_event,
    video_with_tail,
    zipped,
)

A = "3f2b6a1e-8c4d-4e8a-9b7f-2a1c5d6e7f80"  # the attachment named by tests/events/s3_object_created_put.json


@pytest.fixture
def scan_settings(settings: Settings, clamd: object) -> Settings:
    return dataclasses.replace(
        settings,
        clamd_address=clamd.address,  # type: ignore[attr-defined]
        scan_retry_base_seconds=2.0,
        scan_retry_max_seconds=60.0,
        upload_allowed_types=(*settings.upload_allowed_types, "application/zip"),
    )


@pytest.fixture
def storage(settings: Settings, aws: None) -> S3Storage:
    return S3Storage(bucket=settings.s3_bucket, region=settings.aws_region)


@pytest.fixture
def client(clamd: object) -> ClamdClient:
    return ClamdClient(clamd.address, timeout=60)  # type: ignore[attr-defined]


@pytest.fixture
def pipeline(scan_settings: Settings, db: Database, storage: S3Storage, client: ClamdClient) -> ScanPipeline:
    return ScanPipeline(scan_settings, db, storage, client)


@pytest.fixture
def chat(db: Database) -> str:
    return new_chat(db)


def scan_one(pipeline: ScanPipeline, attachment_id: str) -> Disposition:
    return pipeline.handle_message(s3_event(f"incoming/{attachment_id}")).disposition


def assert_refused_without_link(db: Database, storage: S3Storage, attachment_id: str) -> Attachment:
    """Infected: the gate refuses a URL, the customer is told, the agent's notice carries no link."""
    infected = attachment(db, attachment_id)
    assert infected.status == AttachmentStatus.INFECTED
    with pytest.raises(AccessDenied):
        presigned_url(storage, infected, inline=False, seconds=60)
    assert display_state(infected) == "rejected" and "virus" in (display_reason(infected) or "")
    [entry] = outbox_entries(db, attachment_id)
    assert "content" not in entry.payload and "http" not in entry.payload["text"]
    return infected


# -- events --------------------------------------------------------------------------------------------


def test_an_s3_event_names_its_decoded_keys_and_a_test_event_names_none() -> None:
    assert parse_message(json.dumps(load_event("s3_test_event.json"))) == []
    assert parse_message(json.dumps(load_event("s3_object_created_put.json"))) == [
        ObjectEvent("ObjectCreated:Put", "ferry-test", f"incoming/{A}")
    ]
    assert parse_message(json.dumps(load_event("s3_object_tagging.json"))) == []  # not a new object
    assert parse_message(s3_event("incoming/a b+c/ä.png")) == [
        ObjectEvent("ObjectCreated:Put", "ferry-test", "incoming/a b+c/ä.png")
    ]
    for body in ("not json", "[]", '{"Records": [{"eventName": "ObjectCreated:Put"}]}', "{}"):
        with pytest.raises(MalformedEvent):
            parse_message(body)


def test_malformed_test_and_foreign_events_are_done_without_a_scan(pipeline: ScanPipeline) -> None:
    assert pipeline.handle_message("garbage").detail == "malformed message"
    assert (
        pipeline.handle_message(json.dumps(load_event("s3_test_event.json"))).disposition is Disposition.DONE
    )
    foreign = pipeline.handle_message(s3_event("incoming/x", bucket="someone-elses"))
    assert (foreign.disposition, foreign.detail) == (Disposition.DONE, "not an incoming object")
    unknown = pipeline.handle_message(s3_event(f"incoming/{A}"))
    assert (unknown.disposition, unknown.detail) == (Disposition.DONE, "unknown object")


def test_tag_values_keep_to_s3s_charset_and_length() -> None:
    assert tag_value("Win.Test.EICAR_HDB-1.UNOFFICIAL") == "Win.Test.EICAR_HDB-1.UNOFFICIAL"
    assert tag_value("declared as image/png (but) it's <html>") == "declared as image/png _but_ it_s _html_"
    assert len(tag_value("x" * 1000)) == 256


# -- verdicts --------------------------------------------------------------------------------------------


def test_a_clean_file_is_tagged_recorded_and_owed_to_genesys_in_one_go(
    pipeline: ScanPipeline, db: Database, storage: S3Storage, chat: str, samples: dict[str, bytes]
) -> None:
    data = samples["png"]
    attachment_id = add_attachment(db, storage, chat, data, filename="scan.png", declared_type="image/png")

    result = pipeline.handle_message(s3_event(f"incoming/{attachment_id}"))

    assert (result.disposition, result.detail) == (Disposition.DONE, "clean")
    done = attachment(db, attachment_id)
    assert done.status == AttachmentStatus.CLEAN
    assert (done.sniffed_type, done.size, done.scan_attempts, done.scan_lease_until) == (
        "image/png",
        len(data),
        1,
        None,
    )
    assert done.sha256 == hashlib.sha256(data).hexdigest()
    assert done.engine_version and done.test_signatures_only and done.signature_version is None
    assert done.scanned_at is not None and done.scan_error is None
    # Served from the scanner's copy (no upload URL addresses it); the upload key is gone.
    assert done.object_key == f"clean/{attachment_id}"
    assert done.served_etag == storage.head(done.object_key).etag
    assert b"".join(storage.read(done.object_key)) == data
    with pytest.raises(ObjectNotFound):
        storage.head(f"incoming/{attachment_id}")
    tags = storage.get_tags(done.object_key)
    assert tags["scan-status"] == "clean"
    assert tags["scan-sha256"] == done.sha256
    assert tags["scan-db"] == "test-signatures-only" and tags["scan-engine"].startswith("ClamAV ")
    # The widget's item and the agent's message: one entry, its channel.messageId fixed by the attachment.
    [notice] = notices(db, attachment_id)
    [entry] = outbox_entries(db, attachment_id)
    assert entry.channel_message_id == notice.channel_message_id == f"ferry-attachment-{attachment_id}"
    assert entry.message_id == notice.id and notice.status == MessageStatus.PENDING
    text = entry.payload["text"]
    assert "scan.png" in text and "image/png" in text and f"{len(data)} bytes" in text
    assert text.endswith(f"http://ferry.test/files/{attachment_id}")
    assert "content" not in entry.payload  # the presigned URL is minted when the entry is sent
    assert display_state(done) == "scanning"  # until the worker has delivered it


@pytest.fixture
def png_upload(db: Database, storage: S3Storage, chat: str, samples: dict[str, bytes]) -> str:
    """A PNG uploaded and waiting for its scan."""
    return add_attachment(db, storage, chat, samples["png"], filename="a.png", declared_type="image/png")


def test_a_served_copy_that_is_not_the_scanner_s_is_refused_by_the_gate(
    pipeline: ScanPipeline, db: Database, storage: S3Storage, png_upload: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    attachment_id = png_upload
    scan_one(pipeline, attachment_id)
    done = attachment(db, attachment_id)
    presigned_url(storage, done, inline=True, seconds=60)
    # Other bytes, tagged clean, under the served key (only the scanner role may write there in AWS).
    storage.client.put_object(
        Bucket=storage.bucket, Key=done.object_key, Body=b"other bytes", Tagging="scan-status=clean"
    )
    monkeypatch.setattr(serving, "_confirmed_clean", serving._TagConfirmations(30.0))  # a fresh process

    with pytest.raises(AccessDenied) as refused:
        presigned_url(storage, done, inline=True, seconds=60)
    assert refused.value.reason is Reason.OBJECT_CHANGED


def test_an_upload_replaced_after_its_scan_is_not_recorded_clean_but_scanned_again(
    pipeline: ScanPipeline,
    db: Database,
    storage: S3Storage,
    png_upload: str,
    samples: dict[str, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attachment_id = png_upload
    copy = storage.copy

    def replaced_first(key: str, new_key: str, **pinned: Any) -> str:
        # The customer writes the upload key between the scan's last read and the copy.
        put_object(storage, key, bytes(reversed(samples["png"])), "image/png")
        return copy(key, new_key, **pinned)

    monkeypatch.setattr(storage, "copy", replaced_first)
    result = pipeline.handle_message(s3_event(f"incoming/{attachment_id}"))

    assert result.disposition is Disposition.RETRY and "changed" in result.detail
    released = attachment(db, attachment_id)
    assert (released.status, released.served_etag) == (AttachmentStatus.UPLOADED, None)
    with pytest.raises(ObjectNotFound):
        storage.head(f"clean/{attachment_id}")


def test_a_put_to_a_quarantined_file_s_upload_key_is_logged_and_removed_and_changes_nothing(
    pipeline: ScanPipeline,
    db: Database,
    storage: S3Storage,
    chat: str,
    eicar: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    attachment_id = add_attachment(db, storage, chat, eicar, filename="notes.txt", declared_type="text/plain")
    scan_one(pipeline, attachment_id)
    put_object(storage, f"incoming/{attachment_id}", b"harmless now", "text/plain")

    with caplog.at_level(logging.WARNING, logger="scanner.pipeline"):
        result = pipeline.handle_message(s3_event(f"incoming/{attachment_id}"))

    assert (result.disposition, result.detail) == (Disposition.DONE, "already infected; stray upload removed")
    assert any("written to the upload key after the verdict" in r.getMessage() for r in caplog.records)
    with pytest.raises(ObjectNotFound):
        storage.head(f"incoming/{attachment_id}")
    infected = attachment(db, attachment_id)
    assert (infected.status, infected.object_key) == (
        AttachmentStatus.INFECTED,
        f"quarantine/{attachment_id}",
    )
    assert storage.get_tags(infected.object_key)["scan-status"] == "infected"
    assert b"".join(storage.read(infected.object_key)) == eicar
    # Its redelivery finds nothing more to do.
    assert pipeline.handle_message(s3_event(f"incoming/{attachment_id}")).detail == "already infected"


def test_the_plain_eicar_file_is_quarantined_never_presignable_and_the_customer_told(
    pipeline: ScanPipeline, db: Database, storage: S3Storage, chat: str, eicar: bytes
) -> None:
    attachment_id = add_attachment(db, storage, chat, eicar, filename="notes.txt", declared_type="text/plain")

    assert scan_one(pipeline, attachment_id) is Disposition.DONE

    infected = attachment(db, attachment_id)
    assert infected.status == AttachmentStatus.INFECTED
    assert infected.signature and "EICAR" in infected.signature.upper()
    assert infected.object_key == f"quarantine/{attachment_id}"
    with pytest.raises(ObjectNotFound):
        storage.get_tags(f"incoming/{attachment_id}")
    tags = storage.get_tags(infected.object_key)
    assert tags["scan-status"] == "infected" and tags["scan-signature"] == tag_value(infected.signature)
    with pytest.raises(AccessDenied) as refused:
        presigned_url(storage, infected, inline=False, seconds=60)
    assert refused.value.reason is Reason.NOT_CLEAN
    # The customer sees why (never the signature name); the agent gets a notice with no link.
    assert display_state(infected) == "rejected"
    assert "virus" in (display_reason(infected) or "")
    [notice] = notices(db, attachment_id)
    [entry] = outbox_entries(db, attachment_id)
    assert entry.payload["text"] == notice.text
    assert "notes.txt" in notice.text and "http" not in notice.text and infected.signature not in notice.text
    assert "content" not in entry.payload


@pytest.mark.parametrize("mode", ["quarantine", "delete"])
def test_eicar_inside_a_zip_is_infected_and_quarantined_or_deleted(
    pipeline: ScanPipeline, db: Database, storage: S3Storage, chat: str, eicar: bytes, mode: str
) -> None:
    pipeline.settings = dataclasses.replace(pipeline.settings, scan_quarantine_mode=mode)
    data = zipped("readme.txt", eicar)
    attachment_id = add_attachment(db, storage, chat, data, filename="a.zip", declared_type="application/zip")

    scan_one(pipeline, attachment_id)

    assert_refused_without_link(db, storage, attachment_id)
    with pytest.raises(ObjectNotFound):
        storage.get_tags(f"incoming/{attachment_id}")
    if mode == "quarantine":
        assert storage.get_tags(f"quarantine/{attachment_id}")["scan-status"] == "infected"
    else:
        with pytest.raises(ObjectNotFound):
            storage.get_tags(f"quarantine/{attachment_id}")


def test_eicar_appended_to_a_50_mb_video_is_infected(
    pipeline: ScanPipeline, db: Database, storage: S3Storage, chat: str, eicar: bytes
) -> None:
    data = video_with_tail(50 * MIB, eicar)
    attachment_id = add_attachment(db, storage, chat, data, filename="clip.mp4", declared_type="video/mp4")

    scan_one(pipeline, attachment_id)

    infected = assert_refused_without_link(db, storage, attachment_id)
    assert infected.size == len(data) and infected.sha256 == hashlib.sha256(data).hexdigest()


def test_an_infected_video_too_large_for_copy_object_is_quarantined_by_a_multipart_copy(
    scan_settings: Settings,
    db: Database,
    client: ClamdClient,
    chat: str,
    eicar: bytes,
    aws: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """S3's CopyObject stops at 5 GiB, Ferry's uploads at 50 GiB: the storage's threshold is lowered
    to 5 MiB so a 12 MiB video takes the multipart path production takes for a 20 GB one."""
    storage = S3Storage(
        bucket=scan_settings.s3_bucket,
        region=scan_settings.aws_region,
        copy_threshold=5 * MIB,
        copy_part_size=5 * MIB,
    )
    copy_object = storage.client.copy_object

    def copy_object_with_s3s_limit(**kwargs: Any) -> Any:
        # moto copies any size; S3 refuses a source over the limit (here the lowered one).
        source = storage.client.head_object(**kwargs["CopySource"])
        if source["ContentLength"] > storage.copy_threshold:
            raise ClientError({"Error": {"Code": "InvalidRequest"}}, "CopyObject")
        return copy_object(**kwargs)

    monkeypatch.setattr(storage.client, "copy_object", copy_object_with_s3s_limit)
    pipeline = ScanPipeline(scan_settings, db, storage, client)
    data = video_with_tail(12 * MIB, eicar)
    attachment_id = add_attachment(db, storage, chat, data, filename="claim.mp4", declared_type="video/mp4")

    assert scan_one(pipeline, attachment_id) is Disposition.DONE

    infected = assert_refused_without_link(db, storage, attachment_id)
    assert infected.object_key == f"quarantine/{attachment_id}"
    with pytest.raises(ObjectNotFound):
        storage.get_tags(f"incoming/{attachment_id}")
    tags = storage.get_tags(infected.object_key)
    assert tags["scan-status"] == "infected" and tags["scan-sha256"] == hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(b"".join(storage.read(infected.object_key))).hexdigest() == tags["scan-sha256"]
    assert storage.list_multipart_uploads("") == []


def test_a_type_spoof_is_rejected_with_its_reason(
    pipeline: ScanPipeline, db: Database, storage: S3Storage, chat: str, samples: dict[str, bytes]
) -> None:
    attachment_id = add_attachment(
        db, storage, chat, samples["pe"], filename="cat.png", declared_type="image/png"
    )

    scan_one(pipeline, attachment_id)

    rejected = attachment(db, attachment_id)
    assert rejected.status == AttachmentStatus.REJECTED
    assert rejected.status_reason and "never accepted" in rejected.status_reason
    assert storage.get_tags(rejected.object_key)["scan-status"] == "rejected"
    assert display_state(rejected) == "rejected" and display_reason(rejected) == rejected.status_reason
    [entry] = outbox_entries(db, attachment_id)
    assert "cat.png" in entry.payload["text"] and "http" not in entry.payload["text"]


def test_a_stored_size_other_than_the_declared_one_rejects_and_deletes(
    pipeline: ScanPipeline, db: Database, storage: S3Storage, chat: str, samples: dict[str, bytes]
) -> None:
    data = samples["pdf"]
    attachment_id = add_attachment(
        db,
        storage,
        chat,
        data,
        filename="a.pdf",
        declared_type="application/pdf",
        declared_size=len(data) + 1,
    )

    scan_one(pipeline, attachment_id)

    rejected = attachment(db, attachment_id)
    assert rejected.status == AttachmentStatus.REJECTED and "announced" in (rejected.status_reason or "")
    with pytest.raises(ObjectNotFound):
        storage.get_tags(rejected.object_key)


def test_over_the_engine_cap_a_file_is_scanned_in_segments_or_refused(
    pipeline: ScanPipeline, db: Database, storage: S3Storage, chat: str, eicar: bytes
) -> None:
    data = video_with_tail(9 * MIB, eicar)
    settings = dataclasses.replace(pipeline.settings, scan_engine_cap_bytes=4 * MIB)
    segmented = ScanPipeline(settings, pipeline.db, pipeline.storage, pipeline.clamd)
    refusing = ScanPipeline(
        dataclasses.replace(settings, scan_segment_mode="refuse"),
        pipeline.db,
        pipeline.storage,
        pipeline.clamd,
    )
    first = add_attachment(db, storage, chat, data, filename="big.mp4", declared_type="video/mp4")
    second = add_attachment(db, storage, chat, data, filename="big.mp4", declared_type="video/mp4")

    scan_one(segmented, first)
    scan_one(refusing, second)

    infected, refused = attachment(db, first), attachment(db, second)
    assert (infected.status, infected.segmented) == (AttachmentStatus.INFECTED, True)
    assert refused.status == AttachmentStatus.TOO_LARGE and "cap" in (refused.scan_error or "")
    assert storage.get_tags(refused.object_key)["scan-status"] == "too_large"
    assert "too large" in (display_reason(refused) or "")


# -- exactly once ------------------------------------------------------------------------------------------


def test_duplicate_events_and_replays_give_one_scan_and_one_message(
    pipeline: ScanPipeline, db: Database, storage: S3Storage, chat: str, samples: dict[str, bytes]
) -> None:
    attachment_id = add_attachment(
        db, storage, chat, samples["pdf"], filename="a.pdf", declared_type="application/pdf"
    )
    key = f"incoming/{attachment_id}"

    results = [
        pipeline.handle_message(s3_event(key)),
        pipeline.handle_message(s3_event(key)),  # the same event again
        pipeline.handle_message(s3_event(key, "ObjectCreated:CompleteMultipartUpload")),
        pipeline.handle_message(s3_event(key)),  # a replay, later
    ]

    assert [r.detail for r in results] == ["clean", "already clean", "already clean", "already clean"]
    assert attachment(db, attachment_id).scan_attempts == 1
    assert len(outbox_entries(db, attachment_id)) == 1 and len(notices(db, attachment_id)) == 1


def test_the_queue_with_motos_quirks_yields_one_message_per_file(
    scan_settings: Settings,
    pipeline: ScanPipeline,
    db: Database,
    storage: S3Storage,
    chat: str,
    samples: dict[str, bytes],
) -> None:
    # Real S3 notifications from moto: a test event first, then a Put and a multipart complete that
    # moto reports twice (ObjectCreated:Put and ObjectCreated:CompleteMultipartUpload).
    queue = SqsQueue(url=scan_settings.sqs_queue_url, region=scan_settings.aws_region)
    single = add_attachment(db, storage, chat, samples["png"], filename="a.png", declared_type="image/png")
    multi = add_attachment(db, None, chat, samples["mp4"], filename="b.mp4", declared_type="video/mp4")
    key = f"incoming/{multi}"
    upload_id = storage.create_multipart(key, content_type="video/mp4", tags={"scan-status": "pending"})
    part = storage.client.upload_part(
        Bucket=storage.bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=samples["mp4"]
    )
    storage.client.complete_multipart_upload(
        Bucket=storage.bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    consumer = ScanConsumer(pipeline, queue, visibility_seconds=30, wait_seconds=0)

    handled = 0
    while consumer.run_once():
        handled += 1

    assert handled >= 4  # test event + at least three object events
    for attachment_id in (single, multi):
        assert attachment(db, attachment_id).status == AttachmentStatus.CLEAN
        assert attachment(db, attachment_id).scan_attempts == 1
        assert len(outbox_entries(db, attachment_id)) == 1
    assert queue.receive(max_messages=10, wait_seconds=0, visibility_timeout=30) == []


def test_a_live_lease_is_left_alone_and_an_expired_one_is_taken_over(
    pipeline: ScanPipeline, db: Database, storage: S3Storage, chat: str, samples: dict[str, bytes]
) -> None:
    attachment_id = add_attachment(
        db, storage, chat, samples["png"], filename="a.png", declared_type="image/png"
    )
    with db.session() as session:
        session.execute(
            update(Attachment)
            .where(Attachment.id == attachment_id)
            .values(
                status=AttachmentStatus.SCANNING,
                scan_attempts=1,
                scan_lease_until=utcnow() + timedelta(seconds=60),
            )
        )

    busy = pipeline.handle_message(s3_event(f"incoming/{attachment_id}"))
    assert busy.disposition is Disposition.RETRY and 55 < busy.delay_seconds < 65
    assert attachment(db, attachment_id).status == AttachmentStatus.SCANNING

    with db.session() as session:  # the scanner holding it died: its lease runs out
        session.execute(
            update(Attachment)
            .where(Attachment.id == attachment_id)
            .values(scan_lease_until=utcnow() - timedelta(seconds=1))
        )
    assert scan_one(pipeline, attachment_id) is Disposition.DONE
    done = attachment(db, attachment_id)
    assert (done.status, done.scan_attempts) == (AttachmentStatus.CLEAN, 2)
    assert len(outbox_entries(db, attachment_id)) == 1


def test_a_scanner_whose_lease_was_taken_over_records_nothing(
    pipeline: ScanPipeline, db: Database, storage: S3Storage, chat: str, samples: dict[str, bytes]
) -> None:
    attachment_id = add_attachment(
        db, storage, chat, samples["png"], filename="a.png", declared_type="image/png"
    )
    late = pipeline._claim(attachment_id)
    assert late is not None
    with db.session() as session:
        session.execute(
            update(Attachment)
            .where(Attachment.id == attachment_id)
            .values(scan_lease_until=utcnow() - timedelta(seconds=1))
        )
    assert scan_one(pipeline, attachment_id) is Disposition.DONE  # the second scanner finishes

    result = pipeline._record(late, pipeline._scan(late))  # the first one wakes up

    assert result.detail == "lost to another scanner"
    assert attachment(db, attachment_id).scan_attempts == 2
    assert len(outbox_entries(db, attachment_id)) == 1 and len(notices(db, attachment_id)) == 1


def test_the_upload_completing_after_the_scanner_took_the_file_changes_nothing(
    pipeline: ScanPipeline, db: Database, storage: S3Storage, chat: str, samples: dict[str, bytes]
) -> None:
    # A single PUT's S3 event can reach the scanner before the widget calls /complete.
    attachment_id = add_attachment(
        db,
        storage,
        chat,
        samples["png"],
        filename="a.png",
        declared_type="image/png",
        status=AttachmentStatus.CREATED,
    )
    with db.session() as session:
        stale = session.get_one(Attachment, attachment_id)  # what /complete read before the claim
    assert pipeline._claim(attachment_id) is not None
    with db.session() as session:
        session.add(stale)
        assert complete_upload(session, storage, stale).status == AttachmentStatus.SCANNING
    assert scan_one(pipeline, attachment_id) is Disposition.RETRY  # held by the claim above
    with db.session() as session:
        done = session.get_one(Attachment, attachment_id)
        assert complete_upload(session, storage, done).status == AttachmentStatus.SCANNING


# -- errors, retries, waiting ------------------------------------------------------------------------


def test_scan_errors_are_retried_with_backoff_then_failed_for_operators(
    pipeline: ScanPipeline,
    db: Database,
    storage: S3Storage,
    chat: str,
    samples: dict[str, bytes],
    caplog: pytest.LogCaptureFixture,
    settings: Settings,
) -> None:
    attachment_id = add_attachment(
        db, storage, chat, samples["png"], filename="a.png", declared_type="image/png"
    )
    storage.delete(f"incoming/{attachment_id}")  # S3 lost it: every scan attempt errors

    delays = []
    for _ in range(pipeline.settings.scan_max_attempts - 1):
        result = pipeline.handle_message(s3_event(f"incoming/{attachment_id}"))
        assert result.disposition is Disposition.RETRY
        delays.append(result.delay_seconds)
        waiting = attachment(db, attachment_id)
        assert waiting.status == AttachmentStatus.UPLOADED and "not in storage" in (waiting.scan_error or "")
    with caplog.at_level(logging.ERROR, logger="scanner.pipeline"):
        last = pipeline.handle_message(s3_event(f"incoming/{attachment_id}"))

    assert delays == [2.0, 4.0]  # exponential from SCAN_RETRY_BASE_SECONDS
    assert last.disposition is Disposition.DONE
    failed = attachment(db, attachment_id)
    assert (failed.status, failed.scan_attempts) == (AttachmentStatus.FAILED, 3)
    assert display_state(failed) == "rejected" and "could not be scanned" in (display_reason(failed) or "")
    assert any("failed for good" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert len(outbox_entries(db, attachment_id)) == 1  # the agent's short notice
    # Operators list it with its error.
    app = create_app(settings)
    try:
        output = app.test_cli_runner().invoke(args=["scan", "list", "--failed"]).output
    finally:
        app.extensions["ferry"].close()
    assert attachment_id in output and "not in storage" in output and "1 attachment" in output


def test_without_clamd_a_file_waits_unclaimed(
    pipeline: ScanPipeline,
    db: Database,
    storage: S3Storage,
    chat: str,
    samples: dict[str, bytes],
    tmp_path: object,
) -> None:
    pipeline.clamd = ClamdClient(f"{tmp_path}/no-clamd.sock", timeout=5)
    attachment_id = add_attachment(
        db, storage, chat, samples["png"], filename="a.png", declared_type="image/png"
    )

    result = pipeline.handle_message(s3_event(f"incoming/{attachment_id}"))

    assert result.disposition is Disposition.RETRY and result.detail.startswith("waiting: clamd unavailable")
    waiting = attachment(db, attachment_id)
    assert (waiting.status, waiting.scan_attempts) == (AttachmentStatus.UPLOADED, 0)


def test_in_production_test_signatures_never_vouch_for_a_clean_file(
    scan_settings: Settings,
    db: Database,
    storage: S3Storage,
    client: ClamdClient,
    chat: str,
    samples: dict[str, bytes],
) -> None:
    production = ScanPipeline(dataclasses.replace(scan_settings, ferry_env="production"), db, storage, client)
    attachment_id = add_attachment(
        db, storage, chat, samples["png"], filename="a.png", declared_type="image/png"
    )

    result = production.handle_message(s3_event(f"incoming/{attachment_id}"))

    assert result.disposition is Disposition.RETRY and "test signatures" in result.detail
    assert attachment(db, attachment_id).status == AttachmentStatus.UPLOADED
    assert storage.get_tags(f"incoming/{attachment_id}") == {"scan-status": "pending"}


def test_without_notice_to_the_agent_only_the_widget_is_told(
    pipeline: ScanPipeline, db: Database, storage: S3Storage, chat: str, eicar: bytes
) -> None:
    pipeline.settings = dataclasses.replace(pipeline.settings, scan_notify_agent_on_reject=False)
    attachment_id = add_attachment(db, storage, chat, eicar, filename="x.txt", declared_type="text/plain")

    scan_one(pipeline, attachment_id)

    assert outbox_entries(db, attachment_id) == []
    [notice] = notices(db, attachment_id)
    assert notice.status == MessageStatus.DELIVERED and "x.txt" in (notice.text or "")


def test_an_infected_object_left_in_incoming_by_a_crash_is_quarantined_by_the_next_event(
    pipeline: ScanPipeline, db: Database, storage: S3Storage, chat: str, eicar: bytes
) -> None:
    # The verdict was recorded but the worker died before moving the object.
    attachment_id = add_attachment(db, storage, chat, eicar, filename="x.txt", declared_type="text/plain")
    with db.session() as session:
        session.execute(
            update(Attachment).where(Attachment.id == attachment_id).values(status=AttachmentStatus.INFECTED)
        )

    result = pipeline.handle_message(s3_event(f"incoming/{attachment_id}"))

    assert result.detail == "already infected; quarantined"
    assert attachment(db, attachment_id).object_key == f"quarantine/{attachment_id}"
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxEntry)) == 0  # no second verdict


@pytest.mark.parametrize("altered", [False, True])
def test_a_file_altered_in_storage_after_its_upload_is_rejected_and_never_served(
    altered: bool,
    pipeline: ScanPipeline,
    db: Database,
    storage: S3Storage,
    chat: str,
    samples: dict[str, bytes],
) -> None:
    sent = samples["pdf"]
    attachment_id = add_attachment(
        db, storage, chat, sent, filename="claim.pdf", declared_type="application/pdf"
    )
    with db.session() as session:  # completed with the hash the customer's browser read
        session.get_one(Attachment, attachment_id).declared_sha256 = hashlib.sha256(sent).hexdigest()
    if altered:  # overwritten after the complete call, before the scan: same size and type, other bytes
        other = sent.replace(b"%PDF-1.", b"%PDF-2.", 1)
        assert len(other) == len(sent) and other != sent
        put_object(storage, f"incoming/{attachment_id}", other, "application/pdf")

    scan_one(pipeline, attachment_id)

    done = attachment(db, attachment_id)
    if not altered:
        assert done.status == AttachmentStatus.CLEAN and done.sha256 == done.declared_sha256
        presigned_url(storage, done, inline=True, seconds=60)
        return
    assert done.status == AttachmentStatus.REJECTED
    assert display_state(done) == "rejected"
    assert display_reason(done) == "The file changed while it was being sent."
    assert done.sha256 == hashlib.sha256(other).hexdigest() != done.declared_sha256
    assert storage.get_tags(done.object_key)["scan-status"] == "rejected"
    with pytest.raises(ObjectNotFound):
        storage.get_tags(f"clean/{attachment_id}")
    with pytest.raises(AccessDenied):
        presigned_url(storage, done, inline=True, seconds=60)
    [entry] = outbox_entries(db, attachment_id)
    assert "claim.pdf" in entry.payload["text"] and "http" not in entry.payload["text"]
