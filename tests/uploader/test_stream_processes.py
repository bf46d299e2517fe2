"""Two app instances, as deployed (gunicorn with the shipped config, separate processes), on one database:
a message written through one reaches a stream held by the other by a wake-up, not a poll."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack import postgres
from ferry.cli import upgrade_database
from ferry.config import Settings
from tests.conftest import base_environ, free_port, is_postgres
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


def read_message(lines: Iterator[str], text: str) -> bool:
    """Read the stream's lines (one iterator for the whole response) until a message with `text`."""
    for line in lines:
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
        assert read_message(stream.iter_lines(decode_unicode=True), "hello")


@pytest.fixture
def own_postgres(database_url: str) -> Iterator[tuple[str, Path]]:
    """A migrated cluster of this test's own, to restart: (its DATABASE_URL, its directory)."""
    if not is_postgres(database_url):
        pytest.skip("a PostgreSQL restart: this runs in the PostgreSQL pass")
    work = Path(tempfile.mkdtemp(prefix="ferry-restart-"))
    work.chmod(0o755)  # the cluster runs as the postgres user
    try:
        url = Settings.from_env(
            {"FERRY_ENV": "test", "DATABASE_URL": postgres.start(work / "pg")}
        ).database_url
        upgrade_database(url)
        yield url, work / "pg"
    finally:
        postgres.stop(work / "pg")
        shutil.rmtree(work, ignore_errors=True)


def test_an_open_stream_survives_a_database_restart(own_postgres: tuple[str, Path], tmp_path: Path) -> None:
    database_url, cluster = own_postgres
    env = {**base_environ(database_url, tmp_path), "CHAT_SAFETY_POLL_SECONDS": "60", "WEB_CONCURRENCY": "1"}
    with Gunicorn(env, free_port(), tmp_path / "gunicorn.log") as ferry:
        http = requests.Session()
        assert http.post(f"{ferry.url}/chat/api/chats", json={}, headers=CSRF, timeout=10).status_code == 201

        def send(client_id: str, text: str) -> None:
            answer = http.post(
                f"{ferry.url}/chat/api/messages", json={"client_id": client_id, "text": text}, headers=CSRF
            )
            assert answer.status_code == 201, answer.text

        with http.get(f"{ferry.url}/chat/api/events", stream=True, timeout=(5, 20)) as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines(decode_unicode=True)
            send("client-0001", "before the restart")
            assert read_message(lines, "before the restart")
            postgres.restart(cluster)  # every session ends, the listener's and the pool's included
            send("client-0002", "after the restart")
            # The same response: the stream outlived the restart, and its listener came back.
            assert read_message(lines, "after the restart")
    assert "database notifications interrupted" in (tmp_path / "gunicorn.log").read_text()
