"""Fixed-window rate limits counted in the database (the RateCounter table), shared by every process."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ferry.db import utcnow
from ferry.models import RateCounter


@dataclass(frozen=True)
class Limit:
    """At most `count` requests per `window_seconds` for one subject (a chat, an IP address)."""

    name: str
    count: int
    window_seconds: int


class RateLimited(Exception):
    """A subject went over a limit; `retry_after` is how many seconds until its window ends."""

    def __init__(self, limit: Limit, retry_after: int) -> None:
        super().__init__(f"rate limit {limit.name} ({limit.count} per {limit.window_seconds} s) exceeded")
        self.limit = limit
        self.retry_after = retry_after


def hit(session: Session, limit: Limit, subject: str, *, now: datetime | None = None) -> int:
    """Count one request of `subject` against `limit` and answer the count so far in this window.

    The increment is one atomic upsert, so concurrent requests in any process count exactly.

    :raise RateLimited: when this request is over the limit (it is still counted).
    """
    moment = (now or utcnow()).timestamp()
    window_start = int(moment // limit.window_seconds) * limit.window_seconds
    key = f"{limit.name}:{subject}"[:200]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(RateCounter)
        .values(key=key, window_start=window_start, count=1)
        .on_conflict_do_update(
            index_elements=[RateCounter.key, RateCounter.window_start],
            set_={"count": RateCounter.count + 1},
        )
        .returning(RateCounter.count)
    )
    count = int(session.execute(statement).scalar_one())
    if count > limit.count:
        raise RateLimited(limit, retry_after=max(1, math.ceil(window_start + limit.window_seconds - moment)))
    return count


def prune(session: Session, *, older_than_seconds: int, now: datetime | None = None) -> int:
    """Delete counters whose window started more than `older_than_seconds` ago; answers how many."""
    cutoff = int((now or utcnow()).timestamp()) - older_than_seconds
    result = session.execute(delete(RateCounter).where(RateCounter.window_start < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
