"""Genesys-shaped failures: `ErrorBody` for the platform API, OAuth error JSON for the login host."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Response, jsonify

# Messages are the ones Genesys publishes for these codes (x-inin-error-codes in the swagger).
MESSAGES = {
    "bad.request": "The request could not be understood by the server due to malformed syntax.",
    "not.a.user": (
        "This request requires a user context. Client credentials cannot be used for requests to this "
        "resource."
    ),
    "not.a.client": (
        "This request requires a non-user context. User token cannot be used for requests to this resource."
    ),
    "authentication.required": "No authentication bearer token specified in authorization header.",
    "bad.credentials": "Invalid login credentials.",
    "not.authorized": "You are not authorized to perform the requested action.",
    "not.found": "The requested resource was not found.",
    "method.not.allowed": "The requested method is not allowed for this resource.",
    "request.entity.too.large": "The request is over the size limit. Maximum bytes: %s",
    "unsupported.media.type": (
        "Unsupported Media Type - Unsupported or incorrect media type, such as an incorrect Content-Type "
        "value in the header."
    ),
    "too.many.requests.retry.after": "Rate limit exceeded the maximum. Retry the request in [%s] seconds",
    "internal.server.error": (
        "The server encountered an unexpected condition which prevented it from fulfilling the request."
    ),
    "service.unavailable": (
        "Service Unavailable - The server is currently unavailable (because it is overloaded or down for "
        "maintenance)."
    ),
    "bad.gateway": "The server received an invalid response from an upstream server.",
    "gateway.timeout": "The server did not receive a timely response from an upstream server.",
    "request.conflict": "The request conflicts with the current state of the target resource.",
}

# The code used for a status when nothing more specific is known (faults, unexpected errors).
CODE_FOR_STATUS = {
    400: "bad.request",
    401: "bad.credentials",
    403: "not.authorized",
    404: "not.found",
    405: "method.not.allowed",
    409: "request.conflict",
    413: "request.entity.too.large",
    415: "unsupported.media.type",
    429: "too.many.requests.retry.after",
    500: "internal.server.error",
    502: "bad.gateway",
    503: "service.unavailable",
    504: "gateway.timeout",
}


@dataclass
class ApiError(Exception):
    """A platform API failure; rendered as an `ErrorBody`."""

    status: int
    code: str
    message: str = ""
    details: list[dict[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.message:
            self.message = MESSAGES.get(self.code, self.code)

    def body(self, context_id: str) -> dict[str, Any]:
        """The `ErrorBody` JSON object."""
        return {
            "message": self.message,
            "code": self.code,
            "status": self.status,
            "contextId": context_id,
            "details": self.details,
            "errors": [],
        }

    def response(self) -> Response:
        """The JSON response, with the correlation id header Genesys sends."""
        context_id = str(uuid.uuid4())
        response = jsonify(self.body(context_id))
        response.status_code = self.status
        response.headers["ININ-Correlation-Id"] = context_id
        for name, value in self.headers.items():
            response.headers[name] = value
        return response


def error_for_status(status: int, message: str = "") -> ApiError:
    """An `ApiError` for a bare status (used by faults and the HTTP error handlers)."""
    code = CODE_FOR_STATUS.get(status, "bad.request" if status < 500 else "internal.server.error")
    return ApiError(status, code, message)


@dataclass
class OAuthError(Exception):
    """A login-host failure: `{"error": ..., "description": ..., "error_description": ...}`."""

    error: str
    description: str
    status: int = 400

    def response(self) -> Response:
        """The JSON response; `invalid_client` also names the Basic scheme as RFC 6749 asks."""
        response = jsonify(
            {"error": self.error, "description": self.description, "error_description": self.description}
        )
        response.status_code = self.status
        response.headers["Cache-Control"] = "no-store"
        if self.status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="oauth"'
        return response
