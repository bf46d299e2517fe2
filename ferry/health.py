"""Liveness (`/healthz`) and readiness (`/readyz`): is every system Ferry depends on usable?"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, jsonify

from ferry.services import Services, get_services
from ferry.signatures import assess_signatures
from genesys.setup import PARTICIPANTS_ROUTE, access_check

bp = Blueprint("health", __name__)
log = logging.getLogger("ferry.health")

CHECK_TIMEOUT_SECONDS = 5.0
_executor = ThreadPoolExecutor(max_workers=5, thread_name_prefix="readyz")


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive (no dependency is touched)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """200 only when every dependency is usable; 503 naming what is not."""
    ok, checks = readiness(get_services())
    failing = [name for name, check in checks.items() if not check["ok"]]
    body = {"status": "ok" if ok else "unavailable", "failing": failing, "checks": checks}
    return jsonify(body), 200 if ok else 503


def readiness(services: Services) -> tuple[bool, dict[str, dict[str, Any]]]:
    """Run every check concurrently, each with a deadline, and report them all."""
    checks: dict[str, Callable[[], dict[str, Any]]] = {
        "database": _succeeds(lambda: services.db.ping()),
        "s3": _succeeds(lambda: services.storage.ping()),
        "sqs": _succeeds(lambda: services.queue.ping()),
        "clamd": lambda: clamd_status(services),
        "genesys": _succeeds(lambda: services.genesys_probe.service_token()),
        "genesys_access": lambda: genesys_access_status(services),
    }
    futures = {name: _executor.submit(check) for name, check in checks.items()}
    results: dict[str, dict[str, Any]] = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(timeout=CHECK_TIMEOUT_SECONDS)
        except FutureTimeout:
            results[name] = {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_SECONDS:.0f} s"}
        except Exception as exc:
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    for name, result in results.items():
        if not result["ok"]:
            log.warning("readiness check failed", extra={"check": name, "error": result.get("error")})
    return all(r["ok"] for r in results.values()), results


def _succeeds(call: Callable[[], object]) -> Callable[[], dict[str, Any]]:
    """A check that passes when `call` returns (its failure is an exception)."""

    def check() -> dict[str, Any]:
        call()
        return {"ok": True}

    return check


def genesys_access_status(services: Services) -> dict[str, Any]:
    """Ferry's token may still read a conversation's participants (every agent's click needs it); a
    refusal names the permission, as `flask genesys doctor` does for every route."""
    check = access_check(services.genesys_probe, PARTICIPANTS_ROUTE)
    return {"ok": True} if check.outcome == "OK" else {"ok": False, "error": check.detail}


def clamd_status(services: Services) -> dict[str, Any]:
    """clamd answers, and its signatures are real (and fresh) enough for the configured mode."""
    if not services.settings.clamd_address:
        return {"ok": True, "skipped": "CLAMD_ADDRESS is unset: files are scanned by the scanner Lambda"}

    version = services.clamd.version()
    settings = services.settings
    assessment = assess_signatures(
        version,
        production=settings.is_production,
        max_age=timedelta(days=settings.scan_max_signature_age_days),
    )
    status: dict[str, Any] = {"ok": assessment.usable, **assessment.as_dict()}
    if assessment.warning:
        log.warning(assessment.warning, extra={"check": "clamd"})
    return status
