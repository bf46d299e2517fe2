"""The scan queue's poller for `python -m ferry.worker` (development, and any host that runs clamd itself;
in production the scanner Lambda consumes the queue instead). Both call the same `ScanPipeline`.

Each loop takes one message at a time: done → deleted; retry → made visible again after the pipeline's
delay (backoff, or until another scanner's lease ends). While a scan runs, the message's visibility is
renewed with the attachment's lease, so a long scan keeps it and a killed worker's message comes back.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from ferry.queues import QueueError, QueueMessage, ScanQueue
from ferry.services import Services
from scanner.pipeline import Disposition, Result, ScanPipeline

log = logging.getLogger("scanner.worker")

# SQS refuses a visibility timeout over 12 hours.
MAX_VISIBILITY_SECONDS = 12 * 3600
# What a loop waits after receiving nothing (the receive itself long-polls).
IDLE_SECONDS = 0.05


@dataclass
class ScanConsumer:
    """Receives scan messages one at a time and hands each to the pipeline."""

    pipeline: ScanPipeline
    queue: ScanQueue
    visibility_seconds: int
    wait_seconds: int

    def run_once(self) -> int:
        """Handle at most one message; answers how many were handled."""
        messages = self.queue.receive(
            max_messages=1, wait_seconds=self.wait_seconds, visibility_timeout=self.visibility_seconds
        )
        for message in messages:
            self.handle(message)
        return len(messages)

    def handle(self, message: QueueMessage) -> Result:
        """Run the pipeline on one message, then delete it or schedule its return."""

        def keep_visible() -> None:
            self.queue.extend(message.receipt_handle, self.visibility_seconds)

        result = self.pipeline.handle_message(message.body, heartbeat=keep_visible)
        extra = {
            "message_id": message.message_id,
            "receive_count": message.receive_count,
            "attachment_id": result.attachment_id,
            "detail": result.detail,
        }
        try:
            if result.disposition is Disposition.DONE:
                self.queue.delete(message.receipt_handle)
                log.info("scan message done", extra=extra)
            else:
                delay = min(MAX_VISIBILITY_SECONDS, max(0, math.ceil(result.delay_seconds)))
                self.queue.extend(message.receipt_handle, delay)
                log.info("scan message will come back", extra={**extra, "delay_seconds": delay})
        except QueueError as exc:
            # The message comes back when its visibility runs out; the pipeline is idempotent.
            log.warning("could not settle the scan message", extra={**extra, "error": str(exc)})
        return result


def scan_consumer(services: Services) -> ScanConsumer:
    """The consumer configured from settings, over the services' database, S3, clamd and queue."""
    settings = services.settings
    pipeline = ScanPipeline(settings, services.db, services.storage, services.clamd)
    return ScanConsumer(
        pipeline=pipeline,
        queue=services.queue,
        visibility_seconds=settings.scan_visibility_seconds,
        wait_seconds=settings.scan_queue_wait_seconds,
    )
