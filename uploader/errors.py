"""The one handler for every refusal of the chat, upload and webhook routes (codes in ferry/errors.py)."""

from __future__ import annotations

from flask import Response, jsonify

from ferry.errors import Refusal
from uploader.blueprint import bp


@bp.errorhandler(Refusal)
def refusal_response(refusal: Refusal) -> tuple[Response, int, dict[str, str]]:
    """`{"error": code, "message": human text, "retryable": bool, ...values}` with the code's status."""
    return jsonify(refusal.body()), refusal.status, refusal.headers
