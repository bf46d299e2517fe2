"""Customer messages reach Genesys exactly once and in order per chat, whatever Genesys does meanwhile:
refusing (429 with Retry-After, 503), timing out, dropping connections, or the worker being down; with
Genesys deduplicating `channel.messageId` or not."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from genesys_standin.settings import StandinSettings
from tests.serving import wait_for
from tests.uploader.live import ChatClient, LiveStack, live_stack, repeated_messages

INBOUND = "*/inbound/open/message"


def texts_by_customer(stack: LiveStack) -> dict[str, list[str]]:
    """Every inbound text the stand-in holds, per customer id, in arrival order."""
    return {
        c["customer"]["id"]: [m["text"] for m in c["messages"] if m["direction"] == "Inbound"]
        for c in stack.conversations()
    }


@pytest.fixture(params=[True, False], ids=["dedup-on", "dedup-off"])
def faulty_stack(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path, moto_reset: str
) -> Iterator[LiveStack]:
    """The live stack, its stand-in deduplicating repeated `channel.messageId`s or not."""
    settings = StandinSettings(
        rate_limit_per_minute=0, webhook_backoff_base_seconds=0.2, deduplicate_messages=request.param
    )
    with live_stack(database_url, tmp_path, moto_reset, standin_settings=settings) as live:
        yield live


def test_a_hundred_messages_arrive_once_and_in_order_after_genesys_recovers(faulty_stack: LiveStack) -> None:
    stack = faulty_stack
    stack.fault(path_pattern=INBOUND, status=503)  # Genesys is down: nothing gets in
    chats = [ChatClient(stack.url), ChatClient(stack.url)]
    expected: dict[int, list[str]] = {0: [], 1: []}
    try:
        for chat in chats:
            chat.start()
        for n in range(100):
            which = n % 2
            text = f"chat {which} message {n:03d}"
            answer = chats[which].send(f"client-{which}-{n:04d}", text)
            assert answer.status_code == 201, answer.text
            expected[which].append(text)
        # The widget shows them all pending while Genesys refuses.
        wait_for(
            lambda: stack.standin_requests() and any(r["status"] == 503 for r in stack.standin_requests())
        )
        assert {m["status"] for chat in chats for m in chat.history()} == {"pending"}
        assert stack.conversations() == []

        stack.clear_faults()
        for fault in (
            {"status": 429, "retry_after": 1, "count": 3},
            {"status": 503, "count": 4},
            {"delay_ms": 1500, "count": 3},  # longer than the client's 1 s timeout: Genesys got it anyway
            {"drop_connection": True, "count": 2},
            {"status": 500, "rate": 0.2, "count": 10},
        ):
            stack.fault(path_pattern=INBOUND, **fault)

        wait_for(lambda: sum(len(t) for t in texts_by_customer(stack).values()) >= 100, timeout=60)
        wait_for(
            lambda: all(m["status"] == "delivered" for chat in chats for m in chat.history()),
            timeout=30,
        )

        # Timeouts once each chat's conversation is known: Ferry asks before sending again.
        stack.fault(path_pattern=INBOUND, delay_ms=1500, count=2)
        for which, chat in enumerate(chats):
            text = f"chat {which} after the timeouts"
            assert chat.send(f"client-{which}-late", text).status_code == 201
            expected[which].append(text)
        wait_for(
            lambda: all(m["status"] == "delivered" for chat in chats for m in chat.history()),
            timeout=30,
        )
    finally:
        for chat in chats:
            chat.close()

    faults: Counter[str | int] = Counter()
    for f in stack_faults(stack):
        faults[f["status"] or ("drop" if f["drop_connection"] else "delay")] += f["fired"]
    assert faults[429] == 3 and faults["delay"] == 5 and faults["drop"] == 2
    extra, not_first = repeated_messages(stack.conversations())
    if stack.standin.settings.deduplicate_messages:
        assert extra == 0
    else:
        # Ferry asks Genesys before sending a message again; only a chat's first message, whose
        # conversation is not known yet, can arrive twice, at most once per request that timed out.
        assert not_first == set() and extra <= faults["delay"]
    arrived = {customer: list(dict.fromkeys(texts)) for customer, texts in texts_by_customer(stack).items()}
    assert sorted(arrived.values()) == sorted(expected.values())  # each chat: all of them, in order


def stack_faults(stack: LiveStack) -> list[dict]:
    answer = requests.get(f"{stack.control}/faults", timeout=10)
    answer.raise_for_status()
    result: list[dict] = answer.json()
    return result


def test_messages_written_while_the_worker_is_down_go_out_when_it_is_back(stack: LiveStack) -> None:
    stack.stop_worker()
    chat = ChatClient(stack.url)
    try:
        chat.start()
        for n in range(5):
            assert chat.send(f"client-{n:04d}", f"while down {n}").status_code == 201
        assert stack.conversations() == []
        stack.start_worker()  # a new worker process: everything it needs is in the database
        wait_for(lambda: list(texts_by_customer(stack).values()) == [[f"while down {n}" for n in range(5)]])
        wait_for(lambda: {m["status"] for m in chat.history()} == {"delivered"})
    finally:
        chat.close()
