"""The Genesys delivery outbox against the Genesys stand-in: order per chat, leases, backoff honouring
Retry-After, dead letters, fencing, and what each outcome does to the customer's message."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import requests
from flask import Flask
from sqlalchemy import select

from ferry import create_app
from ferry.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET, Settings
from ferry.db import Database, utcnow
from ferry.models import (
    Attachment,
    Chat,
    ChatMessage,
    MessageDirection,
    MessageStatus,
    OutboxEntry,
    OutboxKind,
    OutboxState,
)
from ferry.notifications import listener_url
from ferry.outbox import (
    CHANNEL,
    NotRetryable,
    OutboxDelivery,
    Outcome,
    RetryPolicy,
    claim_due,
    enqueue_message,
    enqueue_receipt,
    enqueue_typing,
    is_retryable,
    prune_sent,
    requeue_message,
    revive_dead_entry,
)
from genesys.client import GenesysClient
from genesys.errors import GenesysError, GenesysUnavailable
from genesys.models import MediaType, OpenContentAttachment, OpenInboundMessageContent
from genesys_standin.server import StandinServer
from genesys_standin.settings import StandinSettings
from tests.conftest import is_postgres
from tests.serving import wait_for
from tests.uploader.live import seed_standin

INBOUND = "*/inbound/open/message"
LEASE = 30.0


@pytest.fixture
def standin() -> Iterator[StandinServer]:
    with StandinServer(StandinSettings(rate_limit_per_minute=0, fetch_attachments=False)) as server:
        yield server


@pytest.fixture
def delivery(db: Database, standin: StandinServer) -> Iterator[OutboxDelivery]:
    # Nothing listens on the discard port: the stand-in's receipts go nowhere, which these tests ignore.
    integration_id, _agent = seed_standin(standin.base_url, "http://127.0.0.1:9/genesys/webhook")
    client = GenesysClient(
        api_base_url=standin.base_url,
        login_base_url=standin.base_url,
        client_id=DEV_CLIENT_ID,
        client_secret=DEV_CLIENT_SECRET,
        timeout=0.5,
        max_attempts=1,
    )
    yield OutboxDelivery(db, client, integration_id, RetryPolicy(base_seconds=1.0, max_seconds=60.0), LEASE)
    client.close()


def fault(standin: StandinServer, **spec: Any) -> None:
    requests.post(f"{standin.base_url}/_control/faults", json={"path_pattern": INBOUND, **spec}, timeout=10)


def inbound_texts(standin: StandinServer) -> list[str]:
    conversations = requests.get(f"{standin.base_url}/_control/conversations", timeout=10).json()
    return [m["text"] for c in conversations for m in c["messages"] if m["direction"] == "Inbound"]


def new_chat(db: Database, **names: str) -> str:
    with db.session() as session:
        chat = Chat(expires_at=utcnow() + timedelta(hours=1), **names)
        session.add(chat)
        session.flush()
        return chat.id


def queue_text(db: Database, chat_id: str, text: str) -> tuple[int, int]:
    """A customer message and its outbox entry, written together → (message id, entry id)."""
    with db.session() as session:
        message = ChatMessage(
            chat=session.get_one(Chat, chat_id), direction=MessageDirection.CUSTOMER, text=text
        )
        session.add(message)
        session.flush()
        return message.id, enqueue_message(session, message).id


def entry(db: Database, entry_id: int) -> OutboxEntry:
    with db.session() as session:
        return session.get_one(OutboxEntry, entry_id)


def message(db: Database, message_id: int) -> ChatMessage:
    with db.session() as session:
        return session.get_one(ChatMessage, message_id)


# -- claiming ---------------------------------------------------------------------------------------------


def test_only_the_oldest_pending_message_of_each_chat_is_claimable(db: Database) -> None:
    first, second = new_chat(db), new_chat(db)
    a1 = queue_text(db, first, "a1")[1]
    a2 = queue_text(db, first, "a2")[1]
    b1 = queue_text(db, second, "b1")[1]
    assert [c.id for c in claim_due(db, lease_seconds=LEASE)] == [a1, b1]
    # Leased heads block their chats: nothing else is due, not even a2.
    assert claim_due(db, lease_seconds=LEASE) == []
    with db.session() as session:
        session.get_one(OutboxEntry, a1).state = OutboxState.SENT
    assert [c.id for c in claim_due(db, lease_seconds=LEASE)] == [a2]


def test_receipts_and_typing_do_not_wait_behind_messages(db: Database) -> None:
    chat_id = new_chat(db)
    queue_text(db, chat_id, "first")
    queue_text(db, chat_id, "second")
    with db.session() as session:
        chat = session.get_one(Chat, chat_id)
        agent = ChatMessage(chat=chat, direction=MessageDirection.AGENT, text="hi", genesys_message_id="g-1")
        session.add(agent)
        session.flush()
        receipt_id = enqueue_receipt(session, agent).id
        typing_id = enqueue_typing(session, chat).id
    claimed = [c.id for c in claim_due(db, lease_seconds=LEASE)]
    assert receipt_id in claimed and typing_id in claimed and len(claimed) == 3


def test_an_entry_leased_by_a_dead_worker_is_taken_over_after_its_lease(db: Database) -> None:
    chat_id = new_chat(db)
    entry_id = queue_text(db, chat_id, "survive the crash")[1]
    start = utcnow()
    (crashed,) = claim_due(db, lease_seconds=LEASE, now=start)  # this worker then dies mid-send
    assert claim_due(db, lease_seconds=LEASE, now=start + timedelta(seconds=LEASE - 1)) == []
    (taken_over,) = claim_due(db, lease_seconds=LEASE, now=start + timedelta(seconds=LEASE + 1))
    assert taken_over.id == crashed.id == entry_id
    assert taken_over.attempts == crashed.attempts + 1


def test_a_late_answer_from_the_old_lease_holder_is_fenced_out(
    db: Database, delivery: OutboxDelivery
) -> None:
    chat_id = new_chat(db)
    entry_id = queue_text(db, chat_id, "slow one")[1]
    start = utcnow()
    (old,) = claim_due(db, lease_seconds=LEASE, now=start)
    (new,) = claim_due(
        db, lease_seconds=LEASE, now=start + timedelta(seconds=2 * LEASE)
    )  # old lease long gone
    assert delivery.deliver(old) is Outcome.LOST
    assert entry(db, entry_id).state == OutboxState.PENDING
    assert delivery.deliver(new) is Outcome.SENT


def test_concurrent_claimers_never_take_the_same_entry(db: Database) -> None:
    import threading

    chats = [new_chat(db) for _ in range(20)]
    for chat_id in chats:
        queue_text(db, chat_id, "x")
    taken: list[int] = []
    lock = threading.Lock()

    def claimer() -> None:
        for _ in range(5):
            claims = claim_due(db, lease_seconds=LEASE, limit=3)
            with lock:
                taken.extend(c.id for c in claims)

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Claimers skip rows another one has locked, so a few may be left: whatever is left is still due
    # exactly once (nothing claimed above comes back while its lease runs).
    taken.extend(c.id for c in claim_due(db, lease_seconds=LEASE, limit=20))
    assert len(taken) == len(set(taken)) == 20


# -- delivering -------------------------------------------------------------------------------------------


def test_a_sent_message_records_genesys_ids_and_the_conversation(
    db: Database, delivery: OutboxDelivery, standin: StandinServer
) -> None:
    chat_id = new_chat(db, nickname="Jane")
    message_id, entry_id = queue_text(db, chat_id, "hello")
    assert delivery.run_once() == 1
    sent = entry(db, entry_id)
    assert (sent.state, sent.attempts, sent.last_error) == (OutboxState.SENT, 1, None)
    stored = message(db, message_id)
    assert stored.status == MessageStatus.SENT and stored.genesys_message_id == sent.genesys_message_id
    with db.session() as session:
        conversation_id = session.get_one(Chat, chat_id).conversation_id
    conversation = requests.get(
        f"{standin.base_url}/_control/conversations/{conversation_id}", timeout=10
    ).json()
    (received,) = conversation["messages"]
    assert (
        received["id"] == sent.genesys_message_id
        and received["provider_message_id"] == sent.channel_message_id
    )
    assert received["payload"]["channel"]["from"] == {
        "id": conversation["customer"]["id"],
        "idType": "Opaque",
        "nickname": "Jane",
    }


def test_a_receipt_that_came_first_is_not_undone(db: Database, delivery: OutboxDelivery) -> None:
    message_id = queue_text(db, new_chat(db), "fast receipt")[0]
    (claim,) = claim_due(db, lease_seconds=LEASE)
    with db.session() as session:  # the webhook's Delivered receipt won the race
        session.get_one(ChatMessage, message_id).status = MessageStatus.DELIVERED
    assert delivery.deliver(claim) is Outcome.SENT
    assert message(db, message_id).status == MessageStatus.DELIVERED


def test_a_429_waits_at_least_retry_after_and_keeps_the_message_pending(
    db: Database, delivery: OutboxDelivery, standin: StandinServer
) -> None:
    message_id, entry_id = queue_text(db, new_chat(db), "later please")
    fault(standin, status=429, retry_after=7, count=1)
    before = utcnow()
    (claim,) = claim_due(db, lease_seconds=LEASE)
    assert delivery.deliver(claim) is Outcome.RETRY
    waiting = entry(db, entry_id)
    assert waiting.state == OutboxState.PENDING and waiting.lease_until is None
    assert waiting.next_attempt_at >= before + timedelta(seconds=7)
    assert "status=429" in (waiting.last_error or "")
    assert message(db, message_id).status == MessageStatus.PENDING
    assert claim_due(db, lease_seconds=LEASE) == []  # not due yet
    due_in = delivery.due_in()  # when the worker's idle loops wake for it
    assert due_in is not None and 6.5 < due_in <= (waiting.next_attempt_at - before).total_seconds() + 0.1
    (again,) = claim_due(db, lease_seconds=LEASE, now=waiting.next_attempt_at)
    assert delivery.deliver(again) is Outcome.SENT
    assert inbound_texts(standin) == ["later please"]


@pytest.mark.parametrize(
    "spec", [{"status": 503}, {"status": 408}, {"delay_ms": 1200}, {"drop_connection": True}], ids=str
)
def test_unavailable_or_slow_genesys_is_retried_with_backoff(
    db: Database, delivery: OutboxDelivery, standin: StandinServer, spec: dict[str, Any]
) -> None:
    entry_id = queue_text(db, new_chat(db), "again")[1]
    fault(standin, count=1, **spec)
    before = utcnow()
    (claim,) = claim_due(db, lease_seconds=LEASE)
    assert delivery.deliver(claim) is Outcome.RETRY
    waiting = entry(db, entry_id)
    # First retry: half the 1 s base step plus up to half again.
    assert before + timedelta(seconds=0.5) <= waiting.next_attempt_at <= utcnow() + timedelta(seconds=1)
    (again,) = claim_due(db, lease_seconds=LEASE, now=waiting.next_attempt_at)
    assert delivery.deliver(again) is Outcome.SENT
    # A request that timed out may have reached Genesys: the fixed messageId keeps it to one message.
    assert inbound_texts(standin) == ["again"]


def test_a_refusal_is_a_dead_letter_and_the_message_fails(
    db: Database, delivery: OutboxDelivery, standin: StandinServer, caplog: pytest.LogCaptureFixture
) -> None:
    message_id, entry_id = queue_text(db, new_chat(db), "refused")
    fault(standin, status=400, count=1)
    (claim,) = claim_due(db, lease_seconds=LEASE)
    assert delivery.deliver(claim) is Outcome.DEAD
    dead = entry(db, entry_id)
    assert dead.state == OutboxState.DEAD and "status=400" in (dead.last_error or "")
    failed = message(db, message_id)
    assert failed.status == MessageStatus.FAILED and failed.failure_reason
    assert claim_due(db, lease_seconds=LEASE) == []
    assert any(r.levelname == "ERROR" and "dead letter" in r.getMessage() for r in caplog.records)
    # The customer's retry sends the same entry (Genesys never created it) once the cause is gone.
    with db.session() as session:
        requeue_message(session, session.get_one(ChatMessage, message_id))
    assert delivery.run_once() == 1
    assert entry(db, entry_id).state == OutboxState.SENT and inbound_texts(standin) == ["refused"]


def test_a_dead_letter_does_not_block_the_next_message(
    db: Database, delivery: OutboxDelivery, standin: StandinServer
) -> None:
    chat_id = new_chat(db)
    queue_text(db, chat_id, "bad")
    queue_text(db, chat_id, "good")
    fault(standin, status=403, count=1)
    delivery.run_once()
    delivery.run_once()
    assert inbound_texts(standin) == ["good"]


def test_retries_stay_in_order_within_a_chat(
    db: Database, delivery: OutboxDelivery, standin: StandinServer
) -> None:
    chat_id = new_chat(db)
    for n in range(5):
        queue_text(db, chat_id, f"m{n}")
    fault(standin, status=503, count=2)
    moment = utcnow()
    for _ in range(20):
        moment += timedelta(seconds=5)  # every backoff has passed by the next round
        for claim in claim_due(db, lease_seconds=LEASE, now=moment):
            delivery.deliver(claim)
        if len(inbound_texts(standin)) == 5:
            break
    assert inbound_texts(standin) == [f"m{n}" for n in range(5)]


def test_an_attachment_announcement_marks_the_attachment_announced(
    db: Database, delivery: OutboxDelivery, standin: StandinServer
) -> None:
    chat_id = new_chat(db)
    with db.session() as session:
        chat = session.get_one(Chat, chat_id)
        attachment = Attachment(
            chat=chat,
            object_key="incoming/x",
            filename="claim.pdf",
            declared_type="application/pdf",
            declared_size=10,
            strategy="single",
        )
        session.add(attachment)
        session.flush()
        announcement = ChatMessage(
            chat=chat,
            direction=MessageDirection.CUSTOMER,
            text="File: claim.pdf",
            attachment_id=attachment.id,
        )
        session.add(announcement)
        session.flush()
        content = OpenInboundMessageContent(
            attachment=OpenContentAttachment(
                media_type=MediaType.FILE,
                mime="application/pdf",
                url="https://ferry.test/f/x",
                filename="claim.pdf",
            )
        )
        enqueue_message(session, announcement, content=[content])
        attachment_id = attachment.id
    assert delivery.run_once() == 1
    with db.session() as session:
        announced = session.get_one(Attachment, attachment_id)
        assert announced.announced_at is not None
        assert announced.conversation_id == session.get_one(Chat, chat_id).conversation_id
    conversations = requests.get(f"{standin.base_url}/_control/conversations", timeout=10).json()
    (received,) = conversations[0]["messages"]
    assert received["payload"]["content"][0]["attachment"]["url"] == "https://ferry.test/f/x"


def test_typing_events_are_dropped_when_stale_or_refused(
    db: Database, delivery: OutboxDelivery, standin: StandinServer
) -> None:
    chat_id = new_chat(db)
    with db.session() as session:
        stale = enqueue_typing(session, session.get_one(Chat, chat_id))
        stale.created_at = utcnow() - timedelta(seconds=30)
        refused = enqueue_typing(session, session.get_one(Chat, chat_id))
        ids = {stale.id, refused.id}
    requests.post(
        f"{standin.base_url}/_control/faults",
        json={"path_pattern": "*/inbound/open/event", "status": 400, "count": 1},
        timeout=10,
    )
    claims = claim_due(db, lease_seconds=LEASE)
    assert {c.id for c in claims} == ids
    assert [delivery.deliver(c) for c in claims] == [Outcome.DROPPED, Outcome.DROPPED]
    with db.session() as session:
        assert session.scalars(select(OutboxEntry).where(OutboxEntry.kind == OutboxKind.EVENT)).all() == []


def test_only_failed_customer_messages_can_be_requeued(db: Database) -> None:
    message_id = queue_text(db, new_chat(db), "fine")[0]
    with db.session() as session, pytest.raises(NotRetryable):
        requeue_message(session, session.get_one(ChatMessage, message_id))


# -- pruning ----------------------------------------------------------------------------------------------

KEEP = timedelta(days=7)


def mark_sent(db: Database, entry_id: int, days_ago: float) -> None:
    """The entry as Genesys accepted it `days_ago` days ago (and its message as sent)."""
    with db.session() as session:
        sent = session.get_one(OutboxEntry, entry_id)
        sent.state, sent.sent_at = OutboxState.SENT, utcnow() - timedelta(days=days_ago)
        sent.genesys_message_id = f"g-{entry_id}"
        if sent.message_id is not None:
            owner = session.get_one(ChatMessage, sent.message_id)
            owner.status, owner.genesys_message_id = MessageStatus.SENT, f"g-{entry_id}"


def ended_chat(db: Database) -> str:
    chat_id = new_chat(db)
    with db.session() as session:
        session.get_one(Chat, chat_id).expires_at = utcnow() - timedelta(days=30)
    return chat_id


def remaining(db: Database) -> set[int]:
    with db.session() as session:
        return set(session.scalars(select(OutboxEntry.id)))


def test_old_sent_entries_are_pruned_in_batches_and_everything_else_stays(db: Database) -> None:
    chat_id = ended_chat(db)
    old = [queue_text(db, chat_id, f"old {n}") for n in range(3)]
    for _message_id, entry_id in old:
        mark_sent(db, entry_id, days_ago=8)
    with db.session() as session:
        agent = ChatMessage(
            chat=session.get_one(Chat, chat_id),
            direction=MessageDirection.AGENT,
            text="hi",
            genesys_message_id="a-1",
        )
        session.add(agent)
        session.flush()
        receipt_id = enqueue_receipt(session, agent).id
    mark_sent(db, receipt_id, days_ago=30)
    recent = queue_text(db, chat_id, "recent")[1]
    mark_sent(db, recent, days_ago=6)
    pending = queue_text(db, chat_id, "still owed")[1]
    dead = queue_text(db, chat_id, "refused")[1]
    retrying = queue_text(db, chat_id, "retrying")[1]
    with db.session() as session:
        for entry_id in (pending, dead, retrying):
            session.get_one(OutboxEntry, entry_id).created_at = utcnow() - timedelta(days=60)
        session.get_one(OutboxEntry, dead).state = OutboxState.DEAD
        waiting = session.get_one(OutboxEntry, retrying)
        waiting.attempts, waiting.last_error = 4, "503"

    removed = prune_sent(db, older_than=KEEP, batch=2)

    assert removed == 4
    assert remaining(db) == {recent, pending, dead, retrying}
    # What deduplication and receipts need lives on the messages, which stay.
    for message_id, entry_id in old:
        kept = message(db, message_id)
        assert kept.genesys_message_id == f"g-{entry_id}" and kept.channel_message_id
    assert prune_sent(db, older_than=KEEP) == 0


def test_a_live_chats_message_entries_stay_for_the_customers_retry(db: Database) -> None:
    chat_id = new_chat(db)  # still open: the customer can retry a message Genesys later reports failed
    message_id, entry_id = queue_text(db, chat_id, "reported failed later")
    mark_sent(db, entry_id, days_ago=8)
    with db.session() as session:
        chat = session.get_one(Chat, chat_id)
        typing_id = enqueue_typing(session, chat).id
    mark_sent(db, typing_id, days_ago=8)

    assert prune_sent(db, older_than=KEEP) == 1
    assert remaining(db) == {entry_id}
    with db.session() as session:
        failed = session.get_one(ChatMessage, message_id)
        failed.status = MessageStatus.FAILED
        retried = requeue_message(session, failed)
        assert retried.payload["text"] == "reported failed later"


# -- policy -----------------------------------------------------------------------------------------------


def test_backoff_grows_with_jitter_up_to_the_cap_and_never_undercuts_retry_after() -> None:
    policy = RetryPolicy(base_seconds=1.0, max_seconds=10.0)
    random.seed(7)
    for attempts, (low, high) in {1: (0.5, 1.0), 2: (1.0, 2.0), 3: (2.0, 4.0), 10: (5.0, 10.0)}.items():
        delays = [policy.delay(attempts) for _ in range(50)]
        assert all(low <= d <= high for d in delays) and len(set(delays)) > 1
    assert policy.delay(1, retry_after=30.0) == 30.0


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (GenesysUnavailable("down"), True),
        (GenesysError("no answer"), True),
        (GenesysError("slow", status=408), True),
        (GenesysError("busy", status=429), True),
        (GenesysError("oops", status=502), True),
        (GenesysError("bad", status=400), False),
        (GenesysError("who", status=401), False),
        (GenesysError("no", status=403), False),
        (GenesysError("gone", status=404), False),
        (GenesysError("big", status=413), False),
    ],
)
def test_which_errors_are_retried(error: GenesysError, retry: bool) -> None:
    assert is_retryable(error) is retry


# -- operators --------------------------------------------------------------------------------------------


def test_operators_list_and_revive_dead_letters(settings: Settings, database_url: str) -> None:
    app: Flask = create_app(settings)
    db = Database(database_url)
    try:
        message_id, entry_id = queue_text(db, new_chat(db), "refused")
        other_id = queue_text(db, new_chat(db), "waiting")[1]
        with db.session() as session:
            dead = session.get_one(OutboxEntry, entry_id)
            dead.state, dead.last_error = OutboxState.DEAD, "Bad request status=400 code=bad.request"
            session.get_one(ChatMessage, message_id).status = MessageStatus.FAILED
        runner = app.test_cli_runner()
        listed = runner.invoke(args=["outbox", "list", "--dead"])
        assert listed.exit_code == 0
        assert f"{entry_id}\tdead" in listed.output and "code=bad.request" in listed.output
        listed_ids = [line.split("\t", 1)[0] for line in listed.output.splitlines() if "\t" in line]
        assert (
            listed_ids == [str(entry_id)] and str(other_id) not in listed_ids and "1 entry" in listed.output
        )
        revived = runner.invoke(args=["outbox", "retry", str(entry_id)])
        assert revived.exit_code == 0
        assert entry(db, entry_id).state == OutboxState.PENDING
        assert message(db, message_id).status == MessageStatus.PENDING
        again = runner.invoke(args=["outbox", "retry", str(entry_id)])
        assert again.exit_code != 0 and "is not dead" in again.output
    finally:
        db.dispose()
        app.extensions["ferry"].close()


def test_after_a_timeout_genesys_is_asked_before_the_message_goes_again(
    db: Database, delivery: OutboxDelivery, standin: StandinServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Genesys without deduplication: a blind resend would make a second message.
    monkeypatch.setattr(standin.platform, "settings", replace(standin.settings, deduplicate_messages=False))
    delivery.in_doubt_settle_seconds = 30.0
    chat_id = new_chat(db)
    queue_text(db, chat_id, "first")
    (claim,) = claim_due(db, lease_seconds=LEASE)
    assert delivery.deliver(claim) is Outcome.SENT  # the conversation is known from here on
    message_id, entry_id = queue_text(db, chat_id, "second")
    fault(standin, count=1, delay_ms=1000)  # longer than the client's 0.5 s timeout; Genesys still takes it

    (claim,) = claim_due(db, lease_seconds=LEASE)
    before = utcnow()
    assert delivery.deliver(claim) is Outcome.RETRY
    waiting = entry(db, entry_id)
    assert waiting.next_attempt_at >= before + timedelta(seconds=30)  # the in-flight request may yet land
    wait_for(lambda: inbound_texts(standin) == ["first", "second"])

    (again,) = claim_due(db, lease_seconds=LEASE, now=waiting.next_attempt_at)
    assert delivery.deliver(again) is Outcome.SENT
    assert inbound_texts(standin) == ["first", "second"]  # found at Genesys, not sent again
    conversations = requests.get(f"{standin.base_url}/_control/conversations", timeout=10).json()
    assert message(db, message_id).genesys_message_id == conversations[0]["messages"][1]["id"]


def test_on_postgresql_a_new_or_revived_entry_notifies_the_worker(db: Database) -> None:
    if not is_postgres(db.url):
        pytest.skip("notifications are PostgreSQL's: on SQLite the worker polls")
    with psycopg.connect(listener_url(db.url), autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        entry_id = queue_text(db, new_chat(db), "now")[1]
        assert [n.channel for n in listener.notifies(timeout=5, stop_after=1)] == [CHANNEL]
        with db.session() as session:
            session.get_one(OutboxEntry, entry_id).state = OutboxState.DEAD  # refused: nothing to wake for
        assert list(listener.notifies(timeout=0.5)) == []
        with db.session() as session:
            revive_dead_entry(session, entry_id)
        assert [n.channel for n in listener.notifies(timeout=5, stop_after=1)] == [CHANNEL]
