"""`python -m ferry.worker`: the Procfile's `worker:` process.

Runs Ferry's background loops, each in its own thread, until SIGTERM or SIGINT: the Genesys delivery
outbox (OUTBOX_THREADS threads sharing one delivery; the lease keeps them, and any other worker process,
off each other's entries; on PostgreSQL woken by `NOTIFY ferry_outbox`, one listening connection per
process, so an idle worker hardly reads the database), the webhook inbox's retries
(uploader/webhook_inbox.py), the fetching of files agents send (ferry/agent_files.py), housekeeping (rate
counters, sent outbox entries, finished webhook bodies, abandoned uploads), and, when CLAMD_ADDRESS is set,
SCAN_WORKER_THREADS scan-queue consumers (scanner/worker.py; in production the scanner Lambda consumes the
queue instead).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import FrameType

from ferry.agent_files import AgentFileFetcher, download_policy
from ferry.announcement import native_attachment_finisher
from ferry.attachments import UploadPolicy, expire_abandoned
from ferry.config import ConfigError, Deployable, Settings
from ferry.db import utcnow
from ferry.logs import configure_logging
from ferry.notifications import listener_url, watch
from ferry.outbox import CHANNEL as OUTBOX_CHANNEL
from ferry.outbox import OutboxDelivery, RetryPolicy, prune_sent
from ferry.ratelimit import prune
from ferry.services import Services
from genesys.client import GenesysClient
from scanner.worker import IDLE_SECONDS as IDLE_SCAN_SECONDS
from scanner.worker import scan_consumer
from uploader import webhook_inbox
from uploader.webhook import body_handler

log = logging.getLogger("ferry.worker")

HOUSEKEEPING_SECONDS = 600.0
INBOX_POLL_SECONDS = 1.0
AGENT_FILE_POLL_SECONDS = 0.5
# Rate counters older than the longest window (one hour) count nothing any more.
RATE_COUNTER_KEEP_SECONDS = 2 * 3600
ERROR_PAUSE_SECONDS = 5.0
OUTBOX_LISTENER_NAME = "ferry-outbox-wake"
# The outbox loops keep their own safety poll: the listener's tick only wakes them after a reconnection.
OUTBOX_WATCH_TICK_SECONDS = 60.0


def _nothing_due() -> float | None:
    return None


@dataclass(frozen=True)
class Loop:
    """A unit of background work: `run_once` answers how much it did; 0 means wait `idle_seconds`, or
    less when `due_in` says work the loop scheduled itself falls due sooner, or until `wake` is set."""

    name: str
    run_once: Callable[[], int]
    idle_seconds: float
    due_in: Callable[[], float | None] = _nothing_due
    wake: threading.Event = field(default_factory=threading.Event)


# Runs until the event is set: a thread beside the loops that wakes some of them (a notification).
Watcher = Callable[[threading.Event], None]


@dataclass
class Worker:
    """Runs loops (and watchers) in threads until `stop()`; a loop that raises is logged and carries on."""

    loops: list[Loop]
    watchers: list[Watcher] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        """Start one daemon thread per loop and per watcher."""
        for loop in self.loops:
            thread = threading.Thread(target=self._run, args=(loop,), name=f"ferry-{loop.name}", daemon=True)
            thread.start()
            self.threads.append(thread)
        for n, watcher in enumerate(self.watchers):
            thread = threading.Thread(
                target=watcher, args=(self.stopping,), name=f"ferry-watch-{n}", daemon=True
            )
            thread.start()
            self.threads.append(thread)
        log.info("worker started", extra={"loops": [loop.name for loop in self.loops]})

    def stop(self, timeout: float = 30.0) -> None:
        """Ask every loop to stop after its current unit of work, and wait for them."""
        self.stopping.set()
        for loop in self.loops:
            loop.wake.set()
        for thread in self.threads:
            thread.join(timeout)
        alive = [t.name for t in self.threads if t.is_alive()]
        if alive:
            log.warning("worker threads still busy at shutdown", extra={"threads": alive})

    def _run(self, loop: Loop) -> None:
        while True:
            loop.wake.clear()  # before the check and the work: a wake-up from now on ends the next wait
            if self.stopping.is_set():
                return
            try:
                done = loop.run_once()
            except Exception:
                log.exception("worker loop failed; carrying on", extra={"loop": loop.name})
                self.stopping.wait(ERROR_PAUSE_SECONDS)
                continue
            if done == 0:
                due = loop.due_in()
                loop.wake.wait(loop.idle_seconds if due is None else min(due, loop.idle_seconds))


def outbox_client(settings: Settings) -> GenesysClient:
    """A Genesys client that tries each call once: the outbox does the retrying (and keeps the order)."""
    return GenesysClient(
        api_base_url=settings.genesys_api_base_url,
        login_base_url=settings.genesys_login_base_url,
        client_id=settings.genesys_client_id,
        client_secret=settings.genesys_client_secret,
        timeout=settings.genesys_timeout_seconds,
        max_attempts=1,
    )


def outbox_delivery(services: Services, client: GenesysClient) -> OutboxDelivery:
    """The outbox delivery configured from settings.

    :raise ConfigError: without GENESYS_INTEGRATION_ID (nothing could be delivered).
    """
    settings = services.settings
    if not settings.genesys_integration_id:
        raise ConfigError(
            "GENESYS_INTEGRATION_ID is required by the worker "
            "(create the integration with `flask genesys create-integration`)"
        )
    return OutboxDelivery(
        db=services.db,
        client=client,
        integration_id=settings.genesys_integration_id,
        policy=RetryPolicy(settings.outbox_backoff_base_seconds, settings.outbox_backoff_max_seconds),
        lease_seconds=settings.outbox_lease_seconds,
        # A clean file's native attachment gets its presigned URL when it is sent, never earlier.
        finish_message=native_attachment_finisher(settings, services.db, services.storage),
        # A request that timed out may still be in flight: give it another timeout to land.
        in_doubt_settle_seconds=settings.genesys_timeout_seconds,
    )


def build_worker(services: Services, client: GenesysClient) -> Worker:
    """The worker with every loop it runs, and on PostgreSQL the outbox's listener."""
    settings = services.settings
    delivery = outbox_delivery(services, client)
    postgres = not services.db.is_sqlite
    idle = settings.outbox_safety_poll_seconds if postgres else settings.outbox_poll_seconds
    outbox = [
        Loop(f"outbox-{n + 1}", delivery.run_once, idle, due_in=delivery.due_in)
        for n in range(settings.outbox_threads)
    ]

    def wake_outbox(_payload: str = "") -> None:
        for loop in outbox:
            loop.wake.set()

    def watch_outbox(stopping: threading.Event) -> None:
        watch(
            stopping,
            tick=wake_outbox,
            every=OUTBOX_WATCH_TICK_SECONDS,
            on_note=wake_outbox,
            channel=OUTBOX_CHANNEL,
            name=OUTBOX_LISTENER_NAME,
            url=listener_url(services.db.url),
        )

    return Worker([*outbox, *other_loops(services, client)], watchers=[watch_outbox] if postgres else [])


def other_loops(services: Services, client: GenesysClient) -> list[Loop]:
    """The loops beside the outbox's: webhook retries, agents' files, housekeeping, scans."""
    settings = services.settings
    loops = []
    handler = body_handler(services.db, settings)
    loops.append(
        Loop(
            "webhook-inbox",
            lambda: webhook_inbox.retry_due(services.db, settings, handler),
            min(INBOX_POLL_SECONDS, settings.webhook_retry_base_seconds),
        )
    )
    fetcher = AgentFileFetcher(settings, services.db, services.storage, client, download_policy(settings))
    loops.append(Loop("agent-files", fetcher.run_once, AGENT_FILE_POLL_SECONDS))
    loops.append(Loop("housekeeping", lambda: _housekeeping(services), HOUSEKEEPING_SECONDS))
    if settings.clamd_address:  # where clamd runs beside the worker; otherwise the scanner Lambda scans
        consumer = scan_consumer(services)
        loops += [
            Loop(f"scan-{n + 1}", consumer.run_once, IDLE_SCAN_SECONDS)
            for n in range(settings.scan_worker_threads)
        ]
    return loops


def _housekeeping(services: Services) -> int:
    """Delete expired rate counters and old sent outbox entries, abort abandoned uploads; answers 0 so the
    loop then sleeps."""
    with services.db.session() as session:
        removed = prune(session, older_than_seconds=RATE_COUNTER_KEEP_SECONDS, now=utcnow())
    if removed:
        log.info("rate counters pruned", extra={"removed": removed})
    keep = timedelta(days=services.settings.outbox_keep_days)
    removed = prune_sent(services.db, older_than=keep)
    if removed:
        log.info("sent outbox entries pruned", extra={"removed": removed, "keep_days": keep.days})
    removed = webhook_inbox.prune(services.db, older_than=keep)
    if removed:
        log.info("finished webhook bodies pruned", extra={"removed": removed, "keep_days": keep.days})
    with services.db.session() as session:
        report = expire_abandoned(session, services.storage, UploadPolicy.from_settings(services.settings))
    if report.expired_attachments or report.aborted_uploads:
        log.info(
            "abandoned uploads expired",
            extra={"expired": report.expired_attachments, "aborted": report.aborted_uploads},
        )
    return 0


def main() -> int:
    """Run until SIGTERM/SIGINT; exit 2 on a configuration error."""
    try:
        settings = Settings.from_env(deployable=Deployable.WORKER)
        configure_logging(settings.log_level)
        services = Services(settings)
        client = outbox_client(settings)
        worker = build_worker(services, client)
    except ConfigError as exc:
        print(f"ferry.worker: {exc}", file=sys.stderr)
        return 2

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("worker stopping", extra={"signal": signum})
        worker.stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.start()
    worker.stopping.wait()
    worker.stop()
    client.close()
    services.close()
    log.info("worker stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
