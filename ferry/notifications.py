"""PostgreSQL notifications (`LISTEN`/`NOTIFY`): how one process learns at once that another wrote.

A watcher holds one listening connection per process and channel, never one per waiting stream or
loop. The database stays the source of truth: notifications are lost when that connection drops (a
restart, a network blip), so whoever watches also reads the database every `every` seconds and once
more after each reconnection; a lost notification costs latency, never data. Without a URL (SQLite:
one machine, no notifications) the watcher only ticks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

RECONNECT_MAX_SECONDS = 5.0
# How long the listener blocks at a time (no query is sent): bounds how long a stop waits for it.
LISTEN_SLICE_SECONDS = 0.5


def listener_url(database_url: str) -> str:
    """The plain libpq URL of a SQLAlchemy one (psycopg connects without SQLAlchemy's driver name)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def watch(
    stopping: threading.Event,
    *,
    tick: Callable[[], None],
    every: float,
    on_note: Callable[[str], None],
    channel: str,
    name: str,
    url: str | None,
) -> None:
    """Until `stopping`: call `tick()` now and every `every` seconds, and with a PostgreSQL `url`,
    `on_note(payload)` for each notification on `channel` (the connection's application_name is `name`).

    An error (a lost connection, a restarted database) is logged and retried with back-off; after a
    reconnection `tick()` runs first, for what changed while nobody listened.
    """
    backoff = 0.1
    connection: psycopg.Connection | None = None
    try:
        while not stopping.is_set():
            try:
                if url is not None and connection is None:
                    connection = psycopg.connect(url, autocommit=True, application_name=name)
                    connection.execute(f"LISTEN {channel}")
                tick()
                until = time.monotonic() + every
                if connection is None:
                    stopping.wait(every)
                while connection is not None and not stopping.is_set() and time.monotonic() < until:
                    for note in connection.notifies(timeout=min(LISTEN_SLICE_SECONDS, every)):
                        on_note(note.payload)
                backoff = 0.1
            except Exception:  # retry: whoever waits keeps waiting, and the next tick reads what was missed
                log.warning(
                    "database notifications interrupted; retrying", extra={"channel": channel}, exc_info=True
                )
                _close(connection)
                connection = None
                stopping.wait(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)
    finally:
        _close(connection)


def _close(connection: psycopg.Connection | None) -> None:
    if connection is not None:
        try:
            connection.close()
        except psycopg.Error:
            pass
