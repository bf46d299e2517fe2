"""Two app instances, as deployed (gunicorn with the shipped config, separate processes), on one database:
a message written through one reaches a stream held by the other by a wake-up, not a poll."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import base_environ, free_port
from tests.uploader.conftest import CSRF
from tests.uploader.live import wait_for

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def two_instances(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Ferry twice under gunicorn (one gevent worker each). On PostgreSQL the safety poll is a minute,
    so only a notification can deliver within the test's waits; SQLite has only the change log."""
    env = {
        **os.environ,
        **base_environ(database_url, tmp_path),
        "CHAT_SAFETY_POLL_SECONDS": "60",
        "CHAT_STREAM_POLL_SECONDS": "0.1",
        "WEB_CONCURRENCY": "1",
    }
    urls, children = [], []
    for name in ("a", "b"):
        port = free_port()
        log = open(tmp_path / f"gunicorn-{name}.log", "wb")
        argv = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}"]
        child = subprocess.Popen([*argv, "wsgi:app"], env=env, cwd=PROJECT_ROOT, stdout=log, stderr=log)
        children.append((child, log))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            wait_for(lambda url=url: ok(f"{url}/healthz"), timeout=30)
        yield urls[0], urls[1]
    finally:
        for child, log in children:
            child.terminate()
            child.wait(timeout=30)  # SIGTERM ends the open streams: the graceful shutdown does not hang
            log.close()


def read_message(stream: requests.Response, text: str) -> bool:
    for line in stream.iter_lines(decode_unicode=True):
        if line.startswith("data:") and f'"text":"{text}"' in line:
            return True
    return False


def test_a_message_written_through_one_instance_wakes_a_stream_held_by_the_other(
    two_instances: tuple[str, str],
) -> None:
    writer, reader = two_instances
    http = requests.Session()
    assert http.post(f"{writer}/chat/api/chats", json={}, headers=CSRF, timeout=10).status_code == 201
    with http.get(f"{reader}/chat/api/events", stream=True, timeout=(5, 10)) as stream:
        assert stream.status_code == 200
        sent = http.post(
            f"{writer}/chat/api/messages", json={"client_id": "client-0001", "text": "hello"}, headers=CSRF
        )
        assert sent.status_code == 201, sent.text
        # The read times out after 10 s; on PostgreSQL the change log is read only once a minute.
        assert read_message(stream, "hello")
