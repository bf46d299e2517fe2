"""Rate limits counted in the database: exact under concurrency, per window, shared by processes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ferry.db import Database
from ferry.models import RateCounter
from ferry.ratelimit import Limit, RateLimited, hit, prune

MOMENT = datetime(2026, 11, 24, 12, 0, 10, tzinfo=UTC)
LIMIT = Limit("test", count=3, window_seconds=60)


def test_requests_over_the_limit_are_refused_until_the_window_ends(db: Database) -> None:
    for expected in (1, 2, 3):
        with db.session() as session:
            assert hit(session, LIMIT, "chat-1", now=MOMENT) == expected
    with db.session() as session, pytest.raises(RateLimited) as refused:
        hit(session, LIMIT, "chat-1", now=MOMENT)
    assert refused.value.retry_after == 50  # the window started at 12:00:00
    with db.session() as session:
        assert hit(session, LIMIT, "chat-2", now=MOMENT) == 1  # another subject
        assert hit(session, LIMIT, "chat-1", now=MOMENT + timedelta(seconds=50)) == 1  # the next window


def test_concurrent_requests_are_counted_exactly(db: Database) -> None:
    limit = Limit("burst", count=1000, window_seconds=3600)

    def burst() -> None:
        for _ in range(10):
            with db.session() as session:
                hit(session, limit, "ip-1", now=MOMENT)

    threads = [threading.Thread(target=burst) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with db.session() as session:
        assert session.scalar(select(RateCounter.count).where(RateCounter.key == "burst:ip-1")) == 80


def test_old_windows_are_pruned(db: Database) -> None:
    with db.session() as session:
        hit(session, LIMIT, "old", now=MOMENT - timedelta(hours=3))
        hit(session, LIMIT, "new", now=MOMENT)
    with db.session() as session:
        assert prune(session, older_than_seconds=7200, now=MOMENT) == 1
        assert session.scalar(select(func.count()).select_from(RateCounter)) == 1
