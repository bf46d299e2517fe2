"""`flask scan retry`: failed scans go back to uploaded and onto the scan queue once, through the same
message path as S3's events; files with a verdict or no upload are refused; a dry run changes nothing."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask

from ferry.antivirus import ClamdClient
from ferry.config import Settings
from ferry.models import Attachment, AttachmentStatus
from ferry.queues import QueueError, QueueMessage
from ferry.services import Services
from scanner.cli import RETRYABLE, ScanRetryError, requeue_scan, retry_targets
from scanner.pipeline import Disposition, ScanPipeline, parse_message, scan_request
from tests.scanner.stack import add_attachment, attachment, new_chat, notices, outbox_entries, put_object


def drain(services: Services) -> list[QueueMessage]:
    """Every message on the scan queue (S3's own events for the test objects included), deleted."""
    taken: list[QueueMessage] = []
    while batch := services.queue.receive(max_messages=10, wait_seconds=0, visibility_timeout=60):
        for message in batch:
            services.queue.delete(message.receipt_handle)
        taken += batch
    return taken


def failed_attachment(services: Services, pipeline: ScanPipeline, data: bytes) -> str:
    """A file whose scans all errored (its object was missing), then restored by an operator."""
    chat = new_chat(services.db)
    attachment_id = add_attachment(
        services.db, services.storage, chat, data, filename="a.png", declared_type="image/png"
    )
    services.storage.delete(f"incoming/{attachment_id}")
    for _ in range(pipeline.settings.scan_max_attempts):
        pipeline.handle_message(scan_request(services.settings.s3_bucket, f"incoming/{attachment_id}"))
    assert attachment(services.db, attachment_id).status == AttachmentStatus.FAILED
    put_object(services.storage, f"incoming/{attachment_id}", data, "image/png")
    drain(services)
    return attachment_id


def recorded(services: Services, chat: str, status: AttachmentStatus) -> str:
    """An attachment row in `status`, with no object behind it."""
    return add_attachment(
        services.db, None, chat, b"x", filename="a", declared_type="text/plain", status=status
    )


@pytest.fixture
def pipeline(services: Services, settings: Settings, clamd: object) -> ScanPipeline:
    address = clamd.address  # type: ignore[attr-defined]
    scan_settings = dataclasses.replace(settings, clamd_address=address)
    return ScanPipeline(scan_settings, services.db, services.storage, ClamdClient(address, timeout=60))


def test_the_request_is_an_object_created_event_for_the_key() -> None:
    [event] = parse_message(scan_request("ferry-test", "incoming/a b+c"))
    assert (event.bucket, event.key) == ("ferry-test", "incoming/a b+c")
    assert event.name.startswith("ObjectCreated:")


def test_a_failed_scan_is_queued_once_and_then_scanned_clean(
    app: Flask, services: Services, pipeline: ScanPipeline, samples: dict[str, bytes]
) -> None:
    attachment_id = failed_attachment(services, pipeline, samples["png"])
    [refusal] = notices(services.db, attachment_id)

    result = app.test_cli_runner().invoke(args=["scan", "retry"])

    assert result.exit_code == 0, result.output
    assert f"{attachment_id}\tfailed -> uploaded" in result.output and "1 attachment queued" in result.output
    waiting = attachment(services.db, attachment_id)
    assert (waiting.status, waiting.scan_attempts, waiting.scan_lease_until) == (
        AttachmentStatus.UPLOADED,
        0,
        None,
    )
    [message] = drain(services)
    assert [e.key for e in parse_message(message.body)] == [f"incoming/{attachment_id}"]

    # The scanner takes it like any upload; the new verdict's message has its own channel.messageId.
    assert pipeline.handle_message(message.body).disposition is Disposition.DONE
    clean = attachment(services.db, attachment_id)
    assert (clean.status, clean.scan_attempts) == (AttachmentStatus.CLEAN, 1)
    entries = {e.channel_message_id for e in outbox_entries(services.db, attachment_id)}
    assert entries == {refusal.channel_message_id, f"ferry-attachment-{attachment_id}-1"}
    assert len(notices(services.db, attachment_id)) == 2
    # Nothing failed is left: a second run retries nothing.
    again = app.test_cli_runner().invoke(args=["scan", "retry"])
    assert again.exit_code == 0 and "0 attachments queued" in again.output
    assert drain(services) == []


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (AttachmentStatus.CLEAN, "scanned clean"),
        (AttachmentStatus.INFECTED, "infected"),
        (AttachmentStatus.REJECTED, "rejected"),
        (AttachmentStatus.ABORTED, "cancelled"),
        (AttachmentStatus.EXPIRED, "expired"),
        (AttachmentStatus.CREATED, "still uploading"),
        (AttachmentStatus.SCANNING, "being scanned"),
    ],
)
def test_attachments_that_are_not_retryable_are_refused(
    app: Flask, services: Services, status: AttachmentStatus, why: str
) -> None:
    chat = new_chat(services.db)
    refused = recorded(services, chat, status)
    failed = recorded(services, chat, AttachmentStatus.FAILED)
    drain(services)

    result = app.test_cli_runner().invoke(args=["scan", "retry", "--id", failed, "--id", refused])

    assert result.exit_code != 0
    assert f"{refused}: not retryable" in result.output and why in result.output
    # All or nothing: the retryable one named beside it is left alone too.
    assert attachment(services.db, refused).status == status
    assert attachment(services.db, failed).status == AttachmentStatus.FAILED
    assert drain(services) == []


def test_an_unknown_id_is_refused(app: Flask, services: Services) -> None:
    result = app.test_cli_runner().invoke(args=["scan", "retry", "--id", "no-such-id"])
    assert result.exit_code != 0 and "no-such-id: no such attachment" in result.output


def test_too_large_is_retried_only_when_named(app: Flask, services: Services) -> None:
    chat = new_chat(services.db)
    big = recorded(services, chat, AttachmentStatus.TOO_LARGE)
    assert AttachmentStatus.TOO_LARGE in RETRYABLE
    with services.db.session() as session:
        assert retry_targets(session, services.settings, []) == []
    drain(services)

    result = app.test_cli_runner().invoke(args=["scan", "retry", "--id", big])

    assert result.exit_code == 0, result.output
    assert attachment(services.db, big).status == AttachmentStatus.UPLOADED
    assert len(drain(services)) == 1


def test_a_dry_run_changes_nothing(app: Flask, services: Services) -> None:
    chat = new_chat(services.db)
    failed = recorded(services, chat, AttachmentStatus.FAILED)
    with services.db.session() as session:
        session.get_one(Attachment, failed).scan_attempts = 3
    drain(services)

    result = app.test_cli_runner().invoke(args=["scan", "retry", "--dry-run"])

    assert result.exit_code == 0, result.output
    assert f"{failed}\tfailed\tattempts=3\twould be scanned again" in result.output
    assert "1 attachment would be queued (dry run)" in result.output
    unchanged = attachment(services.db, failed)
    assert (unchanged.status, unchanged.scan_attempts) == (AttachmentStatus.FAILED, 3)
    assert drain(services) == []


def test_a_refused_queue_message_puts_the_attachment_back(services: Services) -> None:
    class DownQueue:
        url = "https://sqs.example/down"

        def send(self, body: str) -> None:
            raise QueueError("send_message: ServiceUnavailable")

    chat = new_chat(services.db)
    failed = recorded(services, chat, AttachmentStatus.FAILED)
    with services.db.session() as session:
        [target] = retry_targets(session, services.settings, [failed])

    with pytest.raises(ScanRetryError, match="refused"):
        requeue_scan(services.db, DownQueue(), services.settings, target)  # type: ignore[arg-type]

    assert attachment(services.db, failed).status == AttachmentStatus.FAILED
