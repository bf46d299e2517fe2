"""Moving a message's status: forward only, decided by the database.

Each move is one compare-and-set UPDATE (`... WHERE status IN <the statuses it may replace>`), so two
processes (the webhook answering a replayed receipt, the outbox worker recording Genesys's answer) can
never race a message backwards, whatever each of them read before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import Session

from ferry.models import ChatMessage, MessageStatus


def advance(
    session: Session,
    message_id: int,
    status: MessageStatus,
    *,
    failure_reason: str | None = None,
    attempt: ColumnElement[bool] | None = None,
) -> bool:
    """Move the message on to `status` if it is still earlier; answers whether it moved.

    `attempt` narrows the move to one attempt at sending it (the ids a receipt names), so that news about
    an attempt a retry replaced cannot move the new one. The failure reason is kept only with failed.
    """
    return _move(session, message_id, status.earlier, status, failure_reason, attempt)


def restart(session: Session, message_id: int) -> bool:
    """Start a failed message again at pending for a new attempt; answers whether it was still failed."""
    return _move(session, message_id, (MessageStatus.FAILED,), MessageStatus.PENDING, None, None)


def _move(
    session: Session,
    message_id: int,
    earlier: tuple[MessageStatus, ...],
    status: MessageStatus,
    failure_reason: str | None,
    attempt: ColumnElement[bool] | None,
) -> bool:
    conditions: list[Any] = [ChatMessage.id == message_id, ChatMessage.status.in_(earlier)]
    if attempt is not None:
        conditions.append(attempt)
    result = session.execute(
        update(ChatMessage).where(*conditions).values(status=status, failure_reason=failure_reason)
    )
    return getattr(result, "rowcount", 0) == 1
