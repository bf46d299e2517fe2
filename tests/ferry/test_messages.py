"""A message's status only moves forward, decided by the database; only a retry starts a failed one again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ferry.db import Database, utcnow
from ferry.messages import advance, restart
from ferry.models import Chat, ChatMessage, MessageDirection, MessageStatus

S = MessageStatus


def new_message(db: Database, status: MessageStatus) -> int:
    with db.session() as session:
        chat = Chat(expires_at=utcnow() + timedelta(hours=1))
        message = ChatMessage(chat=chat, direction=MessageDirection.CUSTOMER, text="hi", status=status)
        session.add(message)
        session.flush()
        return message.id


def status_of(db: Database, message_id: int) -> tuple[str, str | None]:
    with db.session() as session:
        message = session.get_one(ChatMessage, message_id)
        return message.status, message.failure_reason


def test_the_order_puts_failed_below_delivered_and_read_last() -> None:
    assert list(S) == [S.PENDING, S.SENT, S.FAILED, S.DELIVERED, S.READ]
    assert S.FAILED.earlier == (S.PENDING, S.SENT)
    assert S.PENDING.earlier == ()
    assert [s for s in S if s.is_final] == [S.READ]


@pytest.mark.parametrize(
    ("current", "to", "moves"),
    [
        (S.PENDING, S.SENT, True),
        (S.SENT, S.FAILED, True),
        (S.FAILED, S.DELIVERED, True),
        (S.DELIVERED, S.READ, True),
        (S.DELIVERED, S.DELIVERED, False),
        (S.DELIVERED, S.FAILED, False),
        (S.READ, S.DELIVERED, False),
        (S.FAILED, S.SENT, False),
    ],
)
def test_a_status_only_moves_forward(db: Database, current: S, to: S, moves: bool) -> None:
    message_id = new_message(db, current)
    reason = "no" if to is S.FAILED else None
    with db.session() as session:
        assert advance(session, message_id, to, failure_reason=reason) is moves
    assert status_of(db, message_id) == ((to, reason) if moves else (current, None))


def test_the_database_decides_not_what_was_read(db: Database) -> None:
    message_id = new_message(db, S.SENT)
    with db.session() as late:
        assert late.get_one(ChatMessage, message_id).status == S.SENT
        with db.session() as other:
            assert advance(other, message_id, S.DELIVERED)
        assert not advance(late, message_id, S.FAILED, failure_reason="late")
    assert status_of(db, message_id) == (S.DELIVERED, None)


def test_a_move_narrowed_to_another_attempt_does_nothing(db: Database) -> None:
    message_id = new_message(db, S.SENT)
    with db.session() as session:
        assert not advance(session, message_id, S.FAILED, attempt=ChatMessage.genesys_message_id == "old")
    assert status_of(db, message_id) == (S.SENT, None)


@pytest.mark.parametrize(("current", "restarts"), [(S.FAILED, True), (S.SENT, False), (S.DELIVERED, False)])
def test_only_a_failed_message_starts_again(db: Database, current: S, restarts: bool) -> None:
    message_id = new_message(db, current)
    with db.session() as session:
        assert restart(session, message_id) is restarts
    assert status_of(db, message_id)[0] == (S.PENDING if restarts else current)
