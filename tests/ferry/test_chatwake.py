"""Wake-ups: a write to a chat, by any session, wakes that chat's streams; a lost notification or a
dropped database connection costs at most the safety poll, never the change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from ferry.chatwake import LISTENER_NAME, ChatWake, StreamsBusy, Waiter
from ferry.db import Database, utcnow
from ferry.models import Chat, ChatMessage, MessageDirection
from tests.conftest import is_postgres

WAIT = 10.0  # generous: far above the safety poll below, so a failure means the change was lost


@pytest.fixture
def wake(db: Database) -> Iterator[ChatWake]:
    chat_wake = ChatWake(db, safety_poll_seconds=0.5, sqlite_poll_seconds=0.1, max_streams=3)
    yield chat_wake
    chat_wake.stop()


def new_chat(db: Database) -> str:
    with db.session() as session:
        chat = Chat(expires_at=utcnow() + timedelta(hours=1))
        session.add(chat)
        session.flush()
        return chat.id


def add_message(db: Database, chat_id: str, text_: str) -> None:
    with db.session() as session:
        session.add(ChatMessage(chat_id=chat_id, direction=MessageDirection.AGENT, text=text_))


def started(wake: ChatWake, chat_id: str) -> Waiter:
    """A waiter already woken once, so its watcher runs (on PostgreSQL: is listening)."""
    waiter = wake.open(chat_id)
    add_message(wake.db, chat_id, "primer")
    assert waiter.event.wait(WAIT)
    waiter.event.clear()
    return waiter


def test_a_write_wakes_only_that_chats_streams(wake: ChatWake, db: Database) -> None:
    mine, other = new_chat(db), new_chat(db)
    waiter, bystander = wake.open(mine), wake.open(other)
    assert not waiter.event.is_set()
    add_message(db, mine, "hello")
    assert waiter.event.wait(WAIT)
    assert not bystander.event.is_set()
    wake.close(waiter)
    wake.close(bystander)
    assert wake.open_streams == 0


def test_a_status_or_typing_change_wakes_the_stream(wake: ChatWake, db: Database) -> None:
    chat_id = new_chat(db)
    waiter = wake.open(chat_id)
    with db.session() as session:
        session.get_one(Chat, chat_id).agent_typing_until = utcnow() + timedelta(seconds=5)
    assert waiter.event.wait(WAIT)


def test_over_the_budget_a_stream_is_refused_until_one_closes(wake: ChatWake, db: Database) -> None:
    chat_id = new_chat(db)
    waiters = [wake.open(chat_id) for _ in range(3)]
    with pytest.raises(StreamsBusy):
        wake.open(chat_id)
    wake.close(waiters[0])
    wake.close(waiters[0])  # twice is once
    wake.close(wake.open(chat_id))
    assert wake.open_streams == 2


def terminate(db: Database, which: str) -> int:
    """End database sessions as a failure would: the listener's, or every other one (a restart)."""
    with db.autocommit() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND (:which = 'all' OR application_name = :name)"
                ),
                {"which": which, "name": LISTENER_NAME},
            ).scalar_one()
        )


@pytest.mark.parametrize("which", ["listener", "all"])
def test_a_lost_connection_delays_a_change_by_the_safety_poll_and_loses_nothing(
    wake: ChatWake, db: Database, which: str
) -> None:
    chat_id = new_chat(db)
    waiter = started(wake, chat_id)
    if is_postgres(db.url):
        assert terminate(db, which) >= 1
    # On SQLite there is no connection to lose: the change log poll is what wakes streams.
    add_message(db, chat_id, "after the loss")
    assert waiter.event.wait(WAIT)
    waiter.event.clear()
    add_message(db, chat_id, "and after that")
    assert waiter.event.wait(WAIT)
