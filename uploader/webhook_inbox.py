"""The webhook inbox: every correctly signed webhook body is recorded before it is answered, so Genesys
always gets a quick 2xx (it counts anything else as a failed delivery and, after its retries, can fail the
conversation) and nothing it sent is lost.

A body is handled at once in the request; work that cannot be done yet (`NotYetKnown`: a receipt for a
message whose Genesys id the outbox has not committed, an agent message for a chat not known yet) stays
pending and the worker retries it from the database with exponential backoff, up to
WEBHOOK_RETRY_MAX_ATTEMPTS, after which it is recorded as unusable and logged. A body that can never be
handled (`Unusable`: not JSON, not a webhook message) is recorded as unusable straight away.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from ferry.config import Settings
from ferry.db import Database, utcnow
from ferry.models import InboxState, WebhookInboxEntry

log = logging.getLogger("uploader.webhook_inbox")

# While one process handles an entry, no other takes it: a crashed handler's entry comes back after this.
LEASE_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 300.0
BATCH = 50
DEFERRED = "deferred"
UNUSABLE = "unusable"

# Handles one body (as text) and answers its outcome; raises NotYetKnown or Unusable.
Handler = Callable[[str], str]


class NotYetKnown(Exception):
    """The body is about something Ferry does not know yet (it will, once the worker commits)."""


class Unusable(Exception):
    """The body can never be handled (malformed)."""


def record(db: Database, body: bytes, *, now: datetime | None = None) -> int:
    """Store a signed body (leased to the caller, who handles it next) and answer its entry id."""
    at = now or utcnow()
    with db.session() as session:
        entry = WebhookInboxEntry(
            body=body.decode("utf-8", "replace"),
            state=InboxState.PENDING,
            attempts=0,
            received_at=at,
            next_attempt_at=at + timedelta(seconds=LEASE_SECONDS),
        )
        session.add(entry)
        session.flush()
        return entry.id


def attempt(
    db: Database, settings: Settings, entry_id: int, handler: Handler, *, now: datetime | None = None
) -> str:
    """Handle a leased entry once and record what became of it; answers its outcome (or "deferred")."""
    with db.session() as session:
        body = session.get_one(WebhookInboxEntry, entry_id).body
    error: str | None = None
    try:
        outcome = handler(body)
        state = InboxState.DONE
    except Unusable as exc:
        outcome, state, error = UNUSABLE, InboxState.UNUSABLE, str(exc)
        log.warning("webhook body recorded as unusable", extra={"inbox_id": entry_id, "error": error})
    except NotYetKnown as exc:
        outcome, state, error = DEFERRED, InboxState.PENDING, f"not known yet: {exc}"
    except Exception as exc:  # a database hiccup must not lose the body: retried like the rest
        log.exception("webhook body could not be handled; will retry", extra={"inbox_id": entry_id})
        outcome, state, error = DEFERRED, InboxState.PENDING, f"{type(exc).__name__}: {exc}"[:2000]
    return _settle(db, settings, entry_id, state, outcome, error, now or utcnow())


def _settle(
    db: Database,
    settings: Settings,
    entry_id: int,
    state: InboxState,
    outcome: str,
    error: str | None,
    now: datetime,
) -> str:
    with db.session() as session:
        entry = session.get_one(WebhookInboxEntry, entry_id)
        entry.attempts += 1
        entry.last_error = error
        if state is InboxState.PENDING and entry.attempts >= settings.webhook_retry_max_attempts:
            log.error(
                "webhook body given up after every retry; recorded as unusable",
                extra={"inbox_id": entry_id, "attempts": entry.attempts, "error": error},
            )
            state, outcome = InboxState.UNUSABLE, UNUSABLE
        entry.state = state
        entry.outcome = outcome
        if state is InboxState.PENDING:
            delay = min(MAX_BACKOFF_SECONDS, settings.webhook_retry_base_seconds * 2 ** (entry.attempts - 1))
            entry.next_attempt_at = now + timedelta(seconds=delay)
        else:
            entry.done_at = now
    return outcome


def retry_due(db: Database, settings: Settings, handler: Handler, *, now: datetime | None = None) -> int:
    """The worker's loop: take each pending entry that is due (compare-and-set lease) and handle it once;
    answers how many were handled."""
    at = now or utcnow()
    with db.session() as session:
        due = list(
            session.scalars(
                select(WebhookInboxEntry.id)
                .where(WebhookInboxEntry.state == InboxState.PENDING, WebhookInboxEntry.next_attempt_at <= at)
                .order_by(WebhookInboxEntry.id)
                .limit(BATCH)
            )
        )
    handled = 0
    for entry_id in due:
        with db.session() as session:
            won = session.execute(
                update(WebhookInboxEntry)
                .where(
                    WebhookInboxEntry.id == entry_id,
                    WebhookInboxEntry.state == InboxState.PENDING,
                    WebhookInboxEntry.next_attempt_at <= at,
                )
                .values(next_attempt_at=at + timedelta(seconds=LEASE_SECONDS))
                .execution_options(synchronize_session=False)
            )
        if getattr(won, "rowcount", 0) != 1:
            continue  # another worker took it
        outcome = attempt(db, settings, entry_id, handler, now=at)
        log.info("webhook body retried", extra={"inbox_id": entry_id, "outcome": outcome})
        handled += 1
    return handled


def prune(db: Database, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete entries finished (done or unusable) longer ago than `older_than`; pending ones stay."""
    cutoff = (now or utcnow()) - older_than
    with db.session() as session:
        result = session.execute(
            delete(WebhookInboxEntry).where(
                WebhookInboxEntry.state != InboxState.PENDING, WebhookInboxEntry.done_at < cutoff
            )
        )
    return int(getattr(result, "rowcount", 0) or 0)
