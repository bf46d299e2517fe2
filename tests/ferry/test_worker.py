"""`python -m ferry.worker`: loops in threads that survive errors, stop on SIGTERM, and deliver the outbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from ferry.attachments import FileDeclaration, UploadPolicy, create_upload
from ferry.config import PROJECT_ROOT
from ferry.db import Database, utcnow
from ferry.models import (
    Attachment,
    AttachmentStatus,
    Chat,
    ChatMessage,
    MessageDirection,
    MessageStatus,
    OutboxEntry,
    OutboxState,
)
from ferry.outbox import enqueue_message
from ferry.services import Services
from ferry.worker import Loop, Worker, _housekeeping
from genesys_standin.server import StandinServer
from genesys_standin.settings import StandinSettings
from tests.conftest import base_environ
from tests.uploader.live import seed_standin, wait_for


def test_a_loop_that_fails_is_logged_and_carries_on(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    done = threading.Event()

    def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        if len(calls) >= 3:
            done.set()
        return 1

    worker = Worker([Loop("flaky", flaky, idle_seconds=60)])
    import ferry.worker

    pause, ferry.worker.ERROR_PAUSE_SECONDS = ferry.worker.ERROR_PAUSE_SECONDS, 0.01
    try:
        worker.start()
        assert done.wait(10)
    finally:
        worker.stop()
        ferry.worker.ERROR_PAUSE_SECONDS = pause
    assert not worker.threads[0].is_alive()
    assert any("worker loop failed" in r.getMessage() and r.exc_info for r in caplog.records)


def test_stop_wakes_idle_loops() -> None:
    started = threading.Event()

    def idle() -> int:
        started.set()
        return 0

    worker = Worker([Loop("idle", idle, idle_seconds=3600)])
    worker.start()
    assert started.wait(10)
    worker.stop(timeout=10)
    assert not worker.threads[0].is_alive()


def run_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ferry.worker"],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **env},
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_worker_refuses_to_start_without_an_integration(database_url: str, tmp_path: Path) -> None:
    process = run_worker({**base_environ(database_url, tmp_path), "GENESYS_INTEGRATION_ID": ""})
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "GENESYS_INTEGRATION_ID is required" in err


def test_the_worker_process_delivers_the_outbox_and_stops_on_sigterm(
    database_url: str, tmp_path: Path
) -> None:
    db = Database(database_url)
    with StandinServer(StandinSettings(rate_limit_per_minute=0)) as standin:
        integration_id, _agent = seed_standin(standin.base_url, "http://127.0.0.1:9/genesys/webhook")
        with db.session() as session:
            chat = Chat(expires_at=utcnow() + timedelta(hours=1))
            message = ChatMessage(chat=chat, direction=MessageDirection.CUSTOMER, text="from the queue")
            session.add(message)
            session.flush()
            enqueue_message(session, message)
            message_id = message.id
        process = run_worker(
            {
                **base_environ(database_url, tmp_path),
                "GENESYS_API_BASE_URL": standin.base_url,
                "GENESYS_LOGIN_BASE_URL": standin.base_url,
                "GENESYS_INTEGRATION_ID": integration_id,
                "OUTBOX_POLL_SECONDS": "0.05",
            }
        )
        try:

            def sent() -> bool:
                with db.session() as session:
                    return session.get_one(ChatMessage, message_id).status == MessageStatus.SENT

            wait_for(sent, timeout=30)
            conversations = requests.get(f"{standin.base_url}/_control/conversations", timeout=10).json()
            assert [m["text"] for m in conversations[0]["messages"]] == ["from the queue"]
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
    db.dispose()
    assert process.returncode == 0, err
    assert '"worker stopped"' in out


def test_housekeeping_expires_abandoned_uploads(services: Services) -> None:
    policy = UploadPolicy.from_settings(services.settings)
    with services.db.session() as session:
        chat = Chat(expires_at=utcnow() + timedelta(hours=1))
        session.add(chat)
        session.flush()
        declaration = FileDeclaration(name="old.mp4", size=100 * 1024 * 1024, content_type="video/mp4")
        attachment, _ = create_upload(session, services.storage, policy, chat, declaration)
        attachment.created_at = utcnow() - policy.abandon_after - timedelta(minutes=1)
        attachment_id = attachment.id

    assert _housekeeping(services) == 0

    with services.db.session() as session:
        expired = session.get(Attachment, attachment_id)
        assert expired is not None and expired.status == AttachmentStatus.EXPIRED
    assert services.storage.list_multipart_uploads(services.settings.s3_incoming_prefix) == []


def test_housekeeping_prunes_sent_outbox_entries(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    keep = timedelta(days=services.settings.outbox_keep_days)
    with services.db.session() as session:
        chat = Chat(expires_at=utcnow() - timedelta(days=30))
        session.add(chat)
        session.flush()
        ids = {}
        for name, sent_ago in (
            ("old", keep + timedelta(hours=1)),
            ("recent", keep - timedelta(hours=1)),
            ("unsent", None),
        ):
            message = ChatMessage(chat=chat, direction=MessageDirection.CUSTOMER, text=name)
            session.add(message)
            session.flush()
            entry = enqueue_message(session, message)
            entry.created_at = utcnow() - 2 * keep
            if sent_ago is not None:
                entry.state, entry.sent_at = OutboxState.SENT, utcnow() - sent_ago
            ids[name] = entry.id

    with caplog.at_level("INFO", logger="ferry.worker"):
        assert _housekeeping(services) == 0

    with services.db.session() as session:
        assert session.get(OutboxEntry, ids["old"]) is None
        assert session.get(OutboxEntry, ids["recent"]) is not None
        assert session.get(OutboxEntry, ids["unsent"]) is not None
    [record] = [r for r in caplog.records if r.getMessage() == "sent outbox entries pruned"]
    assert record.removed == 1  # type: ignore[attr-defined]
