"""`python -m ferry.worker` as a real process against the moto server, the stand-in and clamd: killed
with SIGKILL in the middle of a scan, restarted, it finishes the job and the file reaches Genesys once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ferry.config import PROJECT_ROOT, Settings
from ferry.db import Database
from ferry.models import Attachment, AttachmentStatus, OutboxEntry
from ferry.storage import S3Storage
from genesys_standin.server import StandinServer
from genesys_standin.settings import StandinSettings
from tests.conftest import base_environ, prepare_bucket
from tests.scanner.stack import MIB, add_attachment, by_channel_message_id, new_chat, video_with_tail
from tests.serving import wait_for
from tests.uploader.live import seed_standin

# Short lease and visibility: a killed worker's claim and message come back within seconds.
SHORT = {"SCAN_LEASE_SECONDS": "2", "SCAN_VISIBILITY_SECONDS": "2", "SCAN_QUEUE_WAIT_SECONDS": "1"}


@pytest.fixture
def standin() -> Iterator[StandinServer]:
    with StandinServer(StandinSettings(rate_limit_per_minute=0, webhook_backoff_base_seconds=0.01)) as server:
        yield server


@pytest.fixture
def environ(
    database_url: str, tmp_path: Path, moto_reset: str, clamd: Any, standin: StandinServer
) -> dict[str, str]:
    integration_id, _agent = seed_standin(standin.base_url, "http://127.0.0.1:9/genesys/webhook")
    env = {
        **base_environ(database_url, tmp_path),
        "S3_ENDPOINT_URL": moto_reset,
        "SQS_ENDPOINT_URL": moto_reset,
        "SQS_QUEUE_URL": f"{moto_reset}/123456789012/ferry-test-scan",
        "CLAMD_ADDRESS": clamd.address,
        "GENESYS_API_BASE_URL": standin.base_url,
        "GENESYS_LOGIN_BASE_URL": standin.base_url,
        "GENESYS_INTEGRATION_ID": integration_id,
        "OUTBOX_POLL_SECONDS": "0.05",
        **SHORT,
    }
    prepare_bucket(Settings.from_env(env))
    return env


@pytest.fixture
def workers(environ: dict[str, str]) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def start_worker(environ: dict[str, str], workers: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "ferry.worker"],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **environ},
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers.append(process)
    return process


def status(db: Database, attachment_id: str) -> AttachmentStatus:
    with db.session() as session:
        return AttachmentStatus(session.get_one(Attachment, attachment_id).status)


@pytest.mark.slow
def test_a_worker_killed_mid_scan_finishes_the_job_after_restart(
    environ: dict[str, str], workers: list[subprocess.Popen[bytes]], standin: StandinServer
) -> None:
    settings = Settings.from_env(environ)
    db = Database(settings.database_url)
    storage = S3Storage(
        bucket=settings.s3_bucket, region=settings.aws_region, endpoint_url=settings.s3_endpoint_url
    )
    try:
        first = start_worker(environ, workers)
        # Big enough that the scan takes a while (S3 read, clamd spooling and scanning).
        data = video_with_tail(64 * MIB, b"ferry")
        attachment_id = add_attachment(
            db, storage, new_chat(db), data, filename="walkaround.mp4", declared_type="video/mp4"
        )

        wait_for(lambda: status(db, attachment_id) is AttachmentStatus.SCANNING, timeout=60, interval=0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)

        with db.session() as session:
            held = session.get_one(Attachment, attachment_id)
            assert (held.status, held.scan_attempts) == (AttachmentStatus.SCANNING, 1)
            assert session.scalars(select(OutboxEntry)).all() == []

        start_worker(environ, workers)

        def announced() -> bool:
            with db.session() as session:
                return session.get_one(Attachment, attachment_id).announced_at is not None

        wait_for(announced, timeout=120, interval=0.1)
        with db.session() as session:
            done = session.get_one(Attachment, attachment_id)
            assert (done.status, done.scan_attempts) == (AttachmentStatus.CLEAN, 2)
            assert len(session.scalars(select(OutboxEntry)).all()) == 1
        messages = by_channel_message_id(standin.base_url)
        assert list(messages) == [f"ferry-attachment-{attachment_id}"]
        assert len(messages[f"ferry-attachment-{attachment_id}"]) == 1
    finally:
        db.dispose()
