"""Two app instances, as deployed (gunicorn with the shipped config, separate processes), on one database:
a message written through one reaches a stream held by the other by a wake-up, not a poll."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import base_environ, free_port
from tests.serving import Gunicorn
from tests.uploader.conftest import CSRF


@pytest.fixture
def two_instances(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Ferry twice under gunicorn (one gevent worker each). On PostgreSQL the safety poll is a minute,
    so only a notification can deliver within the test's waits; SQLite has only the change log."""
    env = {
        **base_environ(database_url, tmp_path),
        "CHAT_SAFETY_POLL_SECONDS": "60",
        "CHAT_STREAM_POLL_SECONDS": "0.1",
        "WEB_CONCURRENCY": "1",
    }
    with (
        Gunicorn(env, free_port(), tmp_path / "gunicorn-a.log") as a,
        Gunicorn(env, free_port(), tmp_path / "gunicorn-b.log") as b,
    ):
        yield a.url, b.url


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
