"""The worker's scan-queue consumer over moto's in-process SQS: done messages are deleted, retried ones
come back after the pipeline's delay, and a long scan keeps renewing its lease and its message."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from ferry.antivirus import ClamdClient
from ferry.config import Settings
from ferry.db import Database
from ferry.models import Attachment, AttachmentStatus
from ferry.queues import SqsQueue
from ferry.storage import S3Storage
from scanner.pipeline import Disposition, ScanPipeline
from scanner.worker import ScanConsumer
from tests.scanner.stack import MIB, add_attachment, attachment, new_chat, s3_event, video_with_tail
from tests.serving import wait_for


@pytest.fixture
def storage(settings: Settings, aws: None) -> S3Storage:
    return S3Storage(bucket=settings.s3_bucket, region=settings.aws_region)


@pytest.fixture
def queue(settings: Settings, aws: None) -> SqsQueue:
    return SqsQueue(url=settings.sqs_queue_url, region=settings.aws_region)


def drain(queue: SqsQueue) -> None:
    """Remove what is waiting (the bucket set-up's s3:TestEvent, the objects' own events)."""
    while messages := queue.receive(max_messages=10, wait_seconds=0, visibility_timeout=30):
        for message in messages:
            queue.delete(message.receipt_handle)


def consumer_for(
    settings: Settings, db: Database, storage: S3Storage, queue: SqsQueue, clamd: Any
) -> ScanConsumer:
    pipeline = ScanPipeline(settings, db, storage, ClamdClient(clamd.address, timeout=60))
    return ScanConsumer(pipeline, queue, visibility_seconds=settings.scan_visibility_seconds, wait_seconds=0)


def test_a_done_message_is_deleted_and_a_retried_one_comes_back_after_its_delay(
    settings: Settings,
    db: Database,
    storage: S3Storage,
    queue: SqsQueue,
    clamd: Any,
    samples: dict[str, bytes],
) -> None:
    configured = dataclasses.replace(settings, scan_retry_base_seconds=1.0)
    consumer = consumer_for(configured, db, storage, queue, clamd)
    chat = new_chat(db)
    clean = add_attachment(db, None, chat, samples["png"], filename="a.png", declared_type="image/png")
    storage.client.put_object(Bucket=storage.bucket, Key=f"incoming/{clean}", Body=samples["png"])
    missing = add_attachment(db, None, chat, samples["png"], filename="b.png", declared_type="image/png")
    drain(queue)  # only the messages below
    queue.send(s3_event(f"incoming/{clean}"))
    queue.send(s3_event(f"incoming/{missing}"))

    results = [
        consumer.handle(m) for m in queue.receive(max_messages=10, wait_seconds=0, visibility_timeout=30)
    ]

    assert sorted(r.disposition for r in results) == [Disposition.DONE, Disposition.RETRY]
    assert attachment(db, clean).status == AttachmentStatus.CLEAN
    # The retried message is invisible for the backoff (1 s), then comes back; the done one never does.
    assert queue.receive(max_messages=10, wait_seconds=0, visibility_timeout=30) == []
    [back] = wait_for(
        lambda: queue.receive(max_messages=10, wait_seconds=0, visibility_timeout=30), timeout=15
    )
    assert missing in back.body and back.receive_count == 2


def test_a_long_scan_keeps_renewing_its_lease(
    settings: Settings,
    db: Database,
    storage: S3Storage,
    queue: SqsQueue,
    clamd: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configured = dataclasses.replace(settings, scan_lease_seconds=0.6, scan_visibility_seconds=30)
    consumer = consumer_for(configured, db, storage, queue, clamd)
    data = video_with_tail(4 * MIB, b"ferry")
    attachment_id = add_attachment(
        db, storage, new_chat(db), data, filename="v.mp4", declared_type="video/mp4"
    )
    # The scan reads its first chunk, then waits until the test has seen the lease renewed: a scan that
    # lasts as long as the test needs, on any machine.
    seen_renewals = threading.Event()
    read = storage.read

    def held_read(
        key: str, start: int | None = None, end: int | None = None, *, if_match: str | None = None
    ) -> Iterator[bytes]:
        chunks = read(key, start, end, if_match=if_match)
        yield next(chunks)
        seen_renewals.wait(timeout=60)
        yield from chunks

    monkeypatch.setattr(storage, "read", held_read)
    drain(queue)
    queue.send(s3_event(f"incoming/{attachment_id}"))
    [message] = queue.receive(max_messages=1, wait_seconds=0, visibility_timeout=30)

    leases: set[datetime] = set()
    scanning = threading.Thread(target=consumer.handle, args=(message,))
    scanning.start()

    def renewed() -> bool:
        with db.session() as session:
            held = session.get_one(Attachment, attachment_id)
        if held.status == AttachmentStatus.SCANNING and held.scan_lease_until is not None:
            leases.add(held.scan_lease_until)
        return len(leases) >= 3 or AttachmentStatus(held.status).is_final

    wait_for(renewed, timeout=60, interval=0.02)
    seen_renewals.set()
    scanning.join(timeout=120)
    assert len(leases) >= 3  # claimed, then renewed at least twice while the scan ran
    assert attachment(db, attachment_id).status == AttachmentStatus.CLEAN
