"""The scanner Lambda: `lambda_handler` over stored SQS events and real queue messages (moto in-process),
with real clamd; partial batch failures; the clamd starter it runs at cold start."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest

import scanner.handler
from devstack.clamd import TEST_SIGNATURES
from ferry.antivirus import ClamdClient
from ferry.config import Deployable, Settings
from ferry.db import Database
from ferry.models import AttachmentStatus
from ferry.queues import QueueMessage, SqsQueue
from ferry.services import Services
from ferry.storage import S3Storage
from scanner.daemon import ClamdStartError, ensure_lambda_clamd, stop_lambda_clamd
from scanner.handler import Runtime, handle_batch, lambda_handler
from tests.conftest import base_environ, prepare_bucket
from tests.scanner.stack import add_attachment, attachment, load_event, new_chat, outbox_entries, s3_event
from tests.serving import wait_for

A = "3f2b6a1e-8c4d-4e8a-9b7f-2a1c5d6e7f80"  # tests/events: ObjectCreated:Put
B = "7d9e0c21-5b3a-4f6e-8d2c-1a0b9c8d7e6f"  # tests/events: ObjectCreated:CompleteMultipartUpload


@pytest.fixture
def lambda_settings(settings: Settings, clamd: Any) -> Settings:
    return dataclasses.replace(settings, clamd_address=clamd.address, scan_retry_base_seconds=1.0)


@pytest.fixture
def rt(lambda_settings: Settings, aws: None) -> Iterator[Runtime]:
    runtime = Runtime(Services(lambda_settings))
    yield runtime
    runtime.services.close()


@pytest.fixture
def db(rt: Runtime) -> Database:
    return rt.services.db


@pytest.fixture
def storage(rt: Runtime) -> S3Storage:
    return rt.services.storage


def sqs_event(messages: list[QueueMessage]) -> dict[str, Any]:
    """What the SQS event source mapping hands the function for these received messages."""
    return {
        "Records": [
            {
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": {"ApproximateReceiveCount": str(m.receive_count)},
                "eventSource": "aws:sqs",
            }
            for m in messages
        ]
    }


def test_a_stored_batch_reports_only_the_record_that_must_come_back(
    rt: Runtime, db: Database, storage: S3Storage, samples: dict[str, bytes]
) -> None:
    chat = new_chat(db)
    add_attachment(
        db, storage, chat, samples["png"], filename="a.png", declared_type="image/png", attachment_id=A
    )
    # B's object is not in the bucket: its scan errors and is retried.
    add_attachment(
        db, None, chat, samples["mp4"], filename="b.mp4", declared_type="video/mp4", attachment_id=B
    )

    answer = handle_batch(rt, load_event("sqs_scan_batch.json"))

    # Records: test event, A, A again, A's tagging, B's multipart complete.
    assert answer == {"batchItemFailures": [{"itemIdentifier": "0a1b2c3d-0000-4000-8000-000000000005"}]}
    assert attachment(db, A).status == AttachmentStatus.CLEAN and attachment(db, A).scan_attempts == 1
    assert len(outbox_entries(db, A)) == 1
    retried = attachment(db, B)
    assert (retried.status, retried.scan_attempts) == (AttachmentStatus.UPLOADED, 1)


def test_a_retried_record_gets_its_backoff_as_visibility(
    rt: Runtime, lambda_settings: Settings, db: Database, samples: dict[str, bytes]
) -> None:
    queue = SqsQueue(url=lambda_settings.sqs_queue_url, region=lambda_settings.aws_region)
    while stale := queue.receive(max_messages=10, wait_seconds=0, visibility_timeout=30):
        for message in stale:
            queue.delete(message.receipt_handle)
    missing = add_attachment(
        db, None, new_chat(db), samples["png"], filename="a.png", declared_type="image/png"
    )
    queue.send(s3_event(f"incoming/{missing}"))
    received = queue.receive(max_messages=10, wait_seconds=0, visibility_timeout=900)

    answer = handle_batch(rt, sqs_event(received))

    assert answer == {"batchItemFailures": [{"itemIdentifier": received[0].message_id}]}
    # Visible again after the 1 s backoff, not after the 900 s the receive asked for.
    attributes = queue.client.get_queue_attributes(
        QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    [back] = wait_for(
        lambda: queue.receive(max_messages=10, wait_seconds=0, visibility_timeout=30), timeout=15
    )
    assert back.message_id == received[0].message_id


@pytest.fixture
def cold_start(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`lambda_handler` builds its runtime from the environment, as in a new sandbox; closed afterwards."""
    monkeypatch.setattr(scanner.handler, "_runtime", None)
    yield
    if scanner.handler._runtime is not None:
        scanner.handler._runtime.services.close()


@pytest.fixture
def lambda_db(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


def stored_pdf(settings: Settings, db: Database, samples: dict[str, bytes]) -> tuple[str, dict[str, str]]:
    """A PDF uploaded to the bucket `settings` name, and the SQS record of its ObjectCreated event."""
    prepare_bucket(settings)
    storage = S3Storage(
        bucket=settings.s3_bucket, region=settings.aws_region, endpoint_url=settings.s3_endpoint_url
    )
    attachment_id = add_attachment(
        db, storage, new_chat(db), samples["pdf"], filename="a.pdf", declared_type="application/pdf"
    )
    return attachment_id, {
        "messageId": "m-1",
        "receiptHandle": "r-1",
        "body": s3_event(f"incoming/{attachment_id}"),
    }


@pytest.mark.usefixtures("cold_start")
def test_lambda_handler_builds_its_runtime_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    tmp_path: Path,
    moto_reset: str,
    clamd: Any,
    samples: dict[str, bytes],
    lambda_db: Database,
) -> None:
    environ = {
        **base_environ(database_url, tmp_path),
        "S3_ENDPOINT_URL": moto_reset,
        "SQS_ENDPOINT_URL": moto_reset,
        "SQS_QUEUE_URL": f"{moto_reset}/123456789012/ferry-test-scan",
        "CLAMD_ADDRESS": clamd.address,
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    attachment_id, record = stored_pdf(Settings.from_env(environ), lambda_db, samples)

    assert lambda_handler({"Records": [record]}, None) == {"batchItemFailures": []}
    assert attachment(lambda_db, attachment_id).status == AttachmentStatus.CLEAN


@pytest.mark.usefixtures("cold_start")
def test_in_production_it_starts_and_decides_with_only_its_own_settings(
    database_url: str,
    moto_reset: str,
    clamd: Any,
    samples: dict[str, bytes],
    lambda_db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN the environment holds the scanner's variables (and the AWS credentials Lambda provides), with
    # no SECRET_KEY, Genesys secret or OAuth client: production mode
    own = {
        "FERRY_ENV": "production",
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": "https://ferry.example",
        "S3_BUCKET": "ferry-test",
        "S3_ENDPOINT_URL": moto_reset,
        "SQS_QUEUE_URL": f"{moto_reset}/123456789012/ferry-test-scan",
        "SQS_ENDPOINT_URL": moto_reset,
        "CLAMD_ADDRESS": clamd.address,
        "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
    }
    attachment_id, record = stored_pdf(
        Settings.from_env(own, deployable=Deployable.SCANNER), lambda_db, samples
    )

    # WHEN a record arrives
    with mock.patch.dict(os.environ, own, clear=True), caplog.at_level(logging.WARNING):
        answer = lambda_handler({"Records": [record]}, None)

    # THEN production's rule decides: test signatures may not call a file clean, so it waits unclaimed
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    waiting = attachment(lambda_db, attachment_id)
    assert (waiting.status, waiting.scan_attempts) == (AttachmentStatus.UPLOADED, 0)
    assert "test signatures" in caplog.text


def test_without_clamd_the_whole_batch_comes_back_unclaimed(
    rt: Runtime, db: Database, storage: S3Storage, tmp_path: Path, samples: dict[str, bytes]
) -> None:
    # No clamd at the address and no signature mirror to start one from.
    broken = Runtime(
        Services(dataclasses.replace(rt.settings, clamd_address=str(tmp_path / "clamd" / "clamd.sock")))
    )
    attachment_id = add_attachment(
        db, storage, new_chat(db), samples["png"], filename="a.png", declared_type="image/png"
    )
    event = {
        "Records": [
            {"messageId": "m-1", "receiptHandle": "r-1", "body": s3_event(f"incoming/{attachment_id}")}
        ]
    }

    assert handle_batch(broken, event) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert attachment(db, attachment_id).scan_attempts == 0
    broken.services.close()


# -- the clamd the Lambda starts --------------------------------------------------------------------


@pytest.fixture
def lambda_clamd() -> Iterator[None]:
    yield
    stop_lambda_clamd()


def test_the_lambda_starts_clamd_once_and_again_when_it_died(
    settings: Settings, tmp_path: Path, lambda_clamd: None
) -> None:
    configured = dataclasses.replace(settings, clamd_address=str(tmp_path / "clamd" / "clamd.sock"))

    address = ensure_lambda_clamd(configured, database_dir=TEST_SIGNATURES)
    process = scanner.daemon._state.process
    assert process is not None and ClamdClient(address).ping()
    assert ensure_lambda_clamd(configured, database_dir=TEST_SIGNATURES) == address
    assert scanner.daemon._state.process is process  # warm: reused

    process.send_signal(signal.SIGKILL)
    process.wait()
    ensure_lambda_clamd(configured, database_dir=TEST_SIGNATURES)
    assert scanner.daemon._state.process is not process and ClamdClient(address).ping()
    assert "MaxFileSize 2000M" in (tmp_path / "clamd" / "clamd.conf").read_text()  # Ferry's configuration


def test_a_cold_start_loads_the_mirror_and_reports_clamds_refusal(
    settings: Settings, tmp_path: Path, aws: None, lambda_clamd: None
) -> None:
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="ferry-signatures", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for name in ("main.cld", "daily.cld"):
        s3.put_object(Bucket="ferry-signatures", Key=f"clamav/{name}", Body=b"not a signature database")
    configured = dataclasses.replace(
        settings,
        clamd_address=str(tmp_path / "clamd" / "clamd.sock"),
        clamav_mirror_url="s3://ferry-signatures/clamav/",
    )

    with pytest.raises(ClamdStartError) as refused:
        ensure_lambda_clamd(configured, s3_client=s3, timeout=60)

    assert sorted(p.name for p in (tmp_path / "clamd" / "database").iterdir()) == ["daily.cld", "main.cld"]
    assert "clamd exited" in str(refused.value)
    with pytest.raises(ClamdStartError, match="CLAMAV_MIRROR_URL"):
        ensure_lambda_clamd(dataclasses.replace(configured, clamav_mirror_url=""))
    with pytest.raises(ClamdStartError, match="unix socket"):
        ensure_lambda_clamd(dataclasses.replace(configured, clamd_address="127.0.0.1:3310"))


def test_stored_events_are_what_s3_and_sqs_send() -> None:
    batch = load_event("sqs_scan_batch.json")
    bodies = [json.loads(r["body"]) for r in batch["Records"]]
    assert bodies[0]["Event"] == "s3:TestEvent"
    assert bodies[1]["Records"][0]["s3"]["object"]["key"] == f"incoming%2F{A}"
