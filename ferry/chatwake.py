""" "A chat changed": the one owner of waking the event streams that show it.

Database triggers (migration 0011) log every write to a chat or its messages in `chat_changes`, from any
writer in any process (web worker, outbox worker, scanner), in the writer's own transaction; on
PostgreSQL they also `NOTIFY ferry_chat, <chat id>`, delivered at commit. Each app process runs one
watcher (ferry/notifications.py): on PostgreSQL it holds the process's single listening connection for
the channel and reads the change log every CHAT_SAFETY_POLL_SECONDS in case a notification was lost (a
dropped connection, a restart); on SQLite (one machine) it reads the change log every
CHAT_STREAM_POLL_SECONDS. A stream waits on its chat without holding a database connection, and reads
the database (the source of truth) only when woken, so a missed wake-up costs latency, never a message.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select

from ferry.db import Database
from ferry.models import ChatChange
from ferry.notifications import LISTEN_SLICE_SECONDS, listener_url, watch

CHANNEL = "ferry_chat"
LISTENER_NAME = "ferry-chat-wake"
# Sequence values can commit out of order on PostgreSQL: re-read this many ids behind the newest seen.
LOOKBACK_IDS = 500
# The change log is only read forwards; rows this far behind the newest are deleted now and then.
KEEP_IDS = 100_000
_ALL: weakref.WeakSet[ChatWake] = weakref.WeakSet()


def stop_all() -> None:
    """End every open stream of this process (gunicorn's SIGTERM hook)."""
    for wake in list(_ALL):
        wake.stop()


class StreamsBusy(Exception):
    """This process already holds its CHAT_MAX_STREAMS open streams."""


@dataclass(eq=False)
class Waiter:
    """One stream's wake-up: set when its chat changed (or the process is stopping)."""

    chat_id: str
    event: threading.Event = field(default_factory=threading.Event)


@dataclass(eq=False)
class ChatWake:
    """The process's streams, by chat, and the watcher thread that wakes them."""

    db: Database
    safety_poll_seconds: float
    sqlite_poll_seconds: float
    max_streams: int
    _waiters: dict[str, set[Waiter]] = field(default_factory=dict)
    _count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _last_id: int | None = None
    _seen: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        _ALL.add(self)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def open(self, chat_id: str) -> Waiter:
        """Register a stream for its chat's wake-ups; raises StreamsBusy over the process's budget."""
        waiter = Waiter(chat_id)
        with self._lock:
            if self._count >= self.max_streams:
                raise StreamsBusy
            self._count += 1
            self._waiters.setdefault(chat_id, set()).add(waiter)
            self._start()
        return waiter

    def close(self, waiter: Waiter) -> None:
        """Unregister a stream (once; closing twice does nothing)."""
        with self._lock:
            waiters = self._waiters.get(waiter.chat_id, set())
            if waiter not in waiters:
                return
            self._count -= 1
            waiters.discard(waiter)
            if not waiters:
                self._waiters.pop(waiter.chat_id, None)

    @property
    def open_streams(self) -> int:
        return self._count

    def wake(self, chat_ids: set[str] | None = None) -> None:
        """Wake the streams of these chats (all of them when None)."""
        with self._lock:
            keys = list(self._waiters) if chat_ids is None else [c for c in chat_ids if c in self._waiters]
            waiters = [w for key in keys for w in self._waiters[key]]
        for waiter in waiters:
            waiter.event.set()

    def stop(self) -> None:
        """End every stream now (SIGTERM: gunicorn's graceful shutdown must not wait for them)."""
        self._stopping.set()
        self.wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=LISTEN_SLICE_SECONDS * 4)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._watch, name="chat-wake", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        watch(
            self._stopping,
            tick=self._catch_up,
            every=self.sqlite_poll_seconds if self.db.is_sqlite else self.safety_poll_seconds,
            on_note=lambda chat_id: self.wake({chat_id}),
            channel=CHANNEL,
            name=LISTENER_NAME,
            url=None if self.db.is_sqlite else listener_url(self.db.url),
        )

    def _catch_up(self) -> None:
        """Read the change log since the newest change seen and wake those chats."""
        with self.db.autocommit() as connection:
            if self._last_id is None:
                newest = select(func.coalesce(func.max(ChatChange.id), 0))
                self._last_id = connection.execute(newest).scalar_one()
                return
            rows = connection.execute(
                select(ChatChange.id, ChatChange.chat_id).where(ChatChange.id > self._last_id - LOOKBACK_IDS)
            ).all()
            fresh = [row for row in rows if row.id not in self._seen]
            if not fresh:
                return
            newest = max(row.id for row in rows)
            if newest // KEEP_IDS > self._last_id // KEEP_IDS:
                connection.execute(delete(ChatChange).where(ChatChange.id < newest - KEEP_IDS))
            self._last_id = max(self._last_id, newest)
            self._seen = {row.id for row in rows if row.id > self._last_id - LOOKBACK_IDS}
        self.wake({row.chat_id for row in fresh})
