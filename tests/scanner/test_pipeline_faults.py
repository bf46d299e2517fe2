"""Event-driven, under faults: 50 files land in the bucket (moto server: real S3 → SQS notifications with
their duplicates), the worker's scan and outbox loops run in threads, and the stand-in's inbound endpoint
answers 429 (with Retry-After), 503 and too slowly. Every file reaches Genesys exactly once, whether Genesys
deduplicates a repeated `channel.messageId` or not."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from ferry.config import Settings
from ferry.models import Attachment, AttachmentStatus
from ferry.services import Services
from ferry.worker import build_worker, outbox_client
from genesys_standin.server import StandinServer
from genesys_standin.settings import StandinSettings
from tests.conftest import prepare_bucket
from tests.scanner.stack import add_attachment, by_channel_message_id, new_chat
from tests.serving import wait_for
from tests.uploader.live import repeated_messages, seed_standin

FILES = 50
CHATS = 10
INBOUND = "*/inbound/open/message"
FAULTS = [
    {"path_pattern": INBOUND, "method": "POST", "status": 429, "retry_after": 1, "count": 8},
    {"path_pattern": INBOUND, "method": "POST", "status": 503, "count": 8},
    # Slower than the client's 1 s timeout: Genesys still creates the message, Ferry sees a timeout and
    # asks Genesys whether it has it before sending it again.
    {"path_pattern": INBOUND, "method": "POST", "delay_ms": 1500, "count": 4},
]


@pytest.fixture(params=[True, False], ids=["dedup-on", "dedup-off"])
def standin(request: pytest.FixtureRequest) -> Iterator[StandinServer]:
    settings = StandinSettings(
        rate_limit_per_minute=0, webhook_backoff_base_seconds=0.01, deduplicate_messages=request.param
    )
    with StandinServer(settings) as server:
        yield server


@pytest.fixture
def services(settings: Settings, moto_reset: str, clamd: Any, standin: StandinServer) -> Iterator[Services]:
    integration_id, _agent = seed_standin(standin.base_url, "http://127.0.0.1:9/genesys/webhook")
    configured = dataclasses.replace(
        settings,
        s3_endpoint_url=moto_reset,
        sqs_endpoint_url=moto_reset,
        sqs_queue_url=f"{moto_reset}/123456789012/ferry-test-scan",
        clamd_address=clamd.address,
        genesys_api_base_url=standin.base_url,
        genesys_login_base_url=standin.base_url,
        genesys_integration_id=integration_id,
        genesys_timeout_seconds=1.0,
        outbox_poll_seconds=0.05,
        outbox_backoff_base_seconds=0.05,
        outbox_backoff_max_seconds=0.5,
        outbox_threads=3,
        scan_worker_threads=2,
        scan_queue_wait_seconds=1,
        scan_retry_base_seconds=0.5,
    )
    prepare_bucket(configured)
    built = Services(configured)
    yield built
    built.close()


def test_fifty_files_reach_genesys_exactly_once_through_429_503_and_timeouts(
    services: Services, standin: StandinServer, samples: dict[str, bytes]
) -> None:
    for fault in FAULTS:
        requests.post(f"{standin.base_url}/_control/faults", json=fault, timeout=10).raise_for_status()
    client = outbox_client(services.settings)
    worker = build_worker(services, client)
    worker.start()
    try:
        chats = [new_chat(services.db, nickname=f"Customer {n}") for n in range(CHATS)]
        ids = [
            add_attachment(
                services.db,
                services.storage,
                chats[n % CHATS],
                samples["png"],
                filename=f"photo-{n}.png",
                declared_type="image/png",
            )
            for n in range(FILES)
        ]

        def all_announced() -> bool:
            with services.db.session() as session:
                waiting = session.scalar(
                    select(func.count()).select_from(Attachment).where(Attachment.announced_at.is_(None))
                )
            return waiting == 0

        wait_for(all_announced, timeout=180, interval=0.2)
    finally:
        worker.stop()
        client.close()

    delivered = by_channel_message_id(standin.base_url)
    assert sorted(delivered) == sorted(f"ferry-attachment-{i}" for i in ids)
    extra, not_first = repeated_messages(
        requests.get(f"{standin.base_url}/_control/conversations", timeout=10).json()
    )
    if standin.settings.deduplicate_messages:
        assert extra == 0  # exactly once each
    else:
        # Only a chat's first file, whose conversation Ferry cannot ask about yet, can arrive twice.
        assert not_first == set() and extra <= FAULTS[2]["count"]
    with services.db.session() as session:
        scans = session.execute(select(Attachment.status, Attachment.scan_attempts)).all()
    assert scans == [(AttachmentStatus.CLEAN, 1)] * FILES  # one scan per file, whatever the queue delivered
    fired = requests.get(f"{standin.base_url}/_control/faults", timeout=10).json()
    assert [f["fired"] for f in fired] == [f["count"] for f in FAULTS]
