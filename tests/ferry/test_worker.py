"""`python -m ferry.worker`: loops in threads that survive errors, stop on SIGTERM, and deliver the outbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

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
from ferry.worker import OUTBOX_LISTENER_NAME, Loop, Worker, _housekeeping
from genesys_standin.server import StandinServer
from genesys_standin.settings import StandinSettings
from tests.conftest import base_environ, is_postgres
from tests.serving import wait_for
from tests.uploader.live import seed_standin


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


def stopped(process: subprocess.Popen[str]) -> str:
    """SIGTERM the worker, check it exited cleanly; answers what it logged (JSON lines on stdout)."""
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return out


def test_the_worker_refuses_to_start_without_an_integration(database_url: str, tmp_path: Path) -> None:
    process = run_worker({**base_environ(database_url, tmp_path), "GENESYS_INTEGRATION_ID": ""})
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "GENESYS_INTEGRATION_ID is required" in err


def queue_message(db: Database, text_: str) -> int:
    """A customer message of a new chat, written with its outbox entry as the app writes it."""
    with db.session() as session:
        chat = Chat(expires_at=utcnow() + timedelta(hours=1))
        message = ChatMessage(chat=chat, direction=MessageDirection.CUSTOMER, text=text_)
        session.add(message)
        session.flush()
        enqueue_message(session, message)
        return message.id


def is_sent(db: Database, message_id: int) -> bool:
    with db.session() as session:
        return session.get_one(ChatMessage, message_id).status == MessageStatus.SENT


def worker_environ(
    database_url: str, tmp_path: Path, standin_url: str, integration_id: str
) -> dict[str, str]:
    return {
        **base_environ(database_url, tmp_path),
        "GENESYS_API_BASE_URL": standin_url,
        "GENESYS_LOGIN_BASE_URL": standin_url,
        "GENESYS_INTEGRATION_ID": integration_id,
        "OUTBOX_POLL_SECONDS": "0.05",
    }


def test_the_worker_process_delivers_the_outbox_and_stops_on_sigterm(
    database_url: str, tmp_path: Path
) -> None:
    db = Database(database_url)
    with StandinServer(StandinSettings(rate_limit_per_minute=0)) as standin:
        integration_id, _agent = seed_standin(standin.base_url, "http://127.0.0.1:9/genesys/webhook")
        message_id = queue_message(db, "from the queue")
        process = run_worker(worker_environ(database_url, tmp_path, standin.base_url, integration_id))
        try:
            wait_for(lambda: is_sent(db, message_id), timeout=30)
            conversations = requests.get(f"{standin.base_url}/_control/conversations", timeout=10).json()
            assert [m["text"] for m in conversations[0]["messages"]] == ["from the queue"]
        finally:
            out = stopped(process)
    db.dispose()
    assert '"worker stopped"' in out


def outbox_listeners(db: Database, terminate: bool = False) -> int:
    """How many outbox listening connections PostgreSQL has (ended first, as a failure would, when asked)."""
    query = "pg_terminate_backend(pid)" if terminate else "pid"
    with db.autocommit() as connection:
        return int(
            connection.execute(
                text(f"SELECT count({query}) FROM pg_stat_activity WHERE application_name = :name"),  # noqa: S608
                {"name": OUTBOX_LISTENER_NAME},
            ).scalar_one()
        )


def test_on_postgresql_a_notification_not_a_poll_delivers_and_a_lost_one_loses_nothing(
    database_url: str, tmp_path: Path
) -> None:
    if not is_postgres(database_url):
        pytest.skip("notifications are PostgreSQL's: on SQLite the worker polls (the test above)")
    db = Database(database_url)
    with StandinServer(StandinSettings(rate_limit_per_minute=0)) as standin:
        integration_id, _agent = seed_standin(standin.base_url, "http://127.0.0.1:9/genesys/webhook")
        # An hour's safety poll: within the test's waits only a notification (or a reconnection) delivers.
        environ = worker_environ(database_url, tmp_path, standin.base_url, integration_id)
        process = run_worker({**environ, "OUTBOX_SAFETY_POLL_SECONDS": "3600"})
        try:
            wait_for(lambda: outbox_listeners(db) == 1, timeout=30)
            first = queue_message(db, "woken by its notification")
            wait_for(lambda: is_sent(db, first), timeout=30)
            assert outbox_listeners(db, terminate=True) == 1
            lost = queue_message(db, "written while nobody listened")  # its notification reaches no one
            wait_for(lambda: is_sent(db, lost), timeout=30)  # the reconnection reads the outbox
            assert outbox_listeners(db) == 1
        finally:
            out = stopped(process)
    db.dispose()
    assert "database notifications interrupted" in out


def test_an_idle_loop_wakes_when_its_own_retry_falls_due_or_when_woken() -> None:
    runs: list[float] = []
    due: list[float | None] = [0.05]
    finished = threading.Event()

    def once() -> int:
        runs.append(time.monotonic())
        if len(runs) == 3:
            finished.set()
        return 0

    loop = Loop("due", once, idle_seconds=3600, due_in=lambda: due.pop() if due else None)
    worker = Worker([loop])
    worker.start()
    try:
        wait_for(lambda: len(runs) == 2, timeout=10)  # the retry fell due: a second run, not an hour later
        loop.wake.set()  # a notification
        assert finished.wait(10)
    finally:
        worker.stop(timeout=10)
    assert not worker.threads[0].is_alive()


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
