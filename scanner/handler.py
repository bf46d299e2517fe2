"""`scanner.handler.lambda_handler`: the scanner Lambda, fed by the scan queue (SQS event source with
ReportBatchItemFailures).

Each record's body is an S3 event notification, handled by the same `ScanPipeline` as the worker's poller.
A record the pipeline wants back (a scan error's backoff, stale signatures, another scanner's lease) is
reported in `batchItemFailures`, after its visibility is set to the pipeline's delay; every other record
is done and SQS deletes it. The settings, clients and clamd live as long as the Lambda sandbox.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ferry.config import Deployable, Settings
from ferry.logs import configure_logging
from ferry.queues import QueueError
from ferry.services import Services
from scanner.daemon import ClamdStartError, ensure_lambda_clamd
from scanner.pipeline import Disposition, ScanPipeline
from scanner.signature_updater import SignatureMirrorError
from scanner.worker import MAX_VISIBILITY_SECONDS

log = logging.getLogger("scanner.handler")


@dataclass
class Runtime:
    """What one Lambda sandbox builds once and reuses for every invocation."""

    services: Services

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @cached_property
    def pipeline(self) -> ScanPipeline:
        return ScanPipeline(self.settings, self.services.db, self.services.storage, self.services.clamd)


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The sandbox's runtime, built from the environment on first use."""
    global _runtime
    if _runtime is None:
        settings = Settings.from_env(deployable=Deployable.SCANNER)
        configure_logging(settings.log_level)
        _runtime = Runtime(Services(settings))
    return _runtime


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Scan every record of an SQS batch; answer the records SQS must deliver again."""
    return handle_batch(runtime(), event)


def handle_batch(rt: Runtime, event: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """The handler's work for a given runtime (tests pass their own)."""
    records = [r for r in event.get("Records", []) if isinstance(r, dict)]
    try:
        ensure_lambda_clamd(rt.settings)
    except (ClamdStartError, SignatureMirrorError) as exc:
        log.error("clamd is not available; the whole batch will be retried", extra={"error": str(exc)})
        return _failures(records)
    failed = []
    for record in records:
        try:
            result = rt.pipeline.handle_message(str(record["body"]))
        except Exception:
            # Unexpected (the database unreachable, a bug): SQS redelivers it; the pipeline is idempotent.
            log.exception("scan record failed", extra={"message_id": record.get("messageId")})
            failed.append(record)
            continue
        extra = {
            "message_id": record.get("messageId"),
            "detail": result.detail,
            "attachment_id": result.attachment_id,
        }
        if result.disposition is Disposition.DONE:
            log.info("scan record done", extra=extra)
            continue
        delay = min(MAX_VISIBILITY_SECONDS, max(0, math.ceil(result.delay_seconds)))
        try:
            rt.services.queue.extend(str(record["receiptHandle"]), delay)
        except (QueueError, KeyError) as exc:
            # It comes back after the queue's own visibility timeout instead.
            log.warning("could not set the record's retry delay", extra={**extra, "error": str(exc)})
        log.info("scan record will come back", extra={**extra, "delay_seconds": delay})
        failed.append(record)
    return _failures(failed)


def _failures(records: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    return {"batchItemFailures": [{"itemIdentifier": str(r.get("messageId", ""))} for r in records]}
