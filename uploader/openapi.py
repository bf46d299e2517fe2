"""The OpenAPI 3.1 document of the widget's upload API, served at /api/openapi.json.

Its schemas are JSON Schema 2020-12 (as OpenAPI 3.1 has it); the tests validate real answers of the
API against them, and check that every upload route is described and every description is a route.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from ferry.attachments import MAX_SIGN_BATCH
from ferry.errors import CODES
from ferry.services import get_services
from uploader.blueprint import bp
from uploader.session import COOKIE_NAME
from uploader.uploads import ATTACHMENTS, MAX_BODY_BYTES

OPENAPI_PATH = "/api/openapi.json"

_STATES = ["uploading", "scanning", "delivered", "rejected", "cancelled", "expired"]
_STATUSES = [
    "created",
    "uploaded",
    "scanning",
    "clean",
    "infected",
    "rejected",
    "too_large",
    "failed",
    "aborted",
    "expired",
]
_SESSION_CODES = ["no_session", "session_invalid", "session_expired"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str, session: bool = True, csrf: bool = False) -> dict[str, Any]:
    """Error answers by HTTP status (from the registry), each with the enum of `error` codes it can carry."""
    every = [*codes, *(_SESSION_CODES if session else []), *(["csrf"] if csrf else [])]
    by_status: dict[str, list[str]] = {}
    for code in [*every, "body_too_large", "storage_unavailable"]:
        by_status.setdefault(str(CODES[code].status), []).append(code)
    return {
        status: _json(
            {"allOf": [_ref("Error"), {"properties": {"error": {"enum": names}}}]},
            "Refused: " + ", ".join(f"`{c}`" for c in names),
        )
        for status, names in sorted(by_status.items())
    }


def _operation(
    summary: str,
    operation_id: str,
    responses: dict[str, Any],
    *,
    body: str | None = None,
    csrf: bool = False,
    with_id: bool = False,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "operationId": operation_id, "tags": ["uploads"]}
    parameters = []
    if with_id:
        parameters.append({"$ref": "#/components/parameters/AttachmentId"})
    if csrf:
        parameters.append({"$ref": "#/components/parameters/Csrf"})
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    operation["responses"] = responses
    return operation


def _schemas() -> dict[str, Any]:
    nullable_int = {"type": ["integer", "null"]}
    return {
        "Error": {
            "type": "object",
            "description": "A refusal, with the values its message names (a limit, a wait in seconds).",
            "required": ["error", "message", "retryable"],
            "properties": {
                "error": {
                    "enum": sorted(CODES),
                    "description": "Stable code for programs (ferry/errors.py).",
                },
                "message": {"type": "string", "description": "Human text the widget shows."},
                "retryable": {
                    "type": "boolean",
                    "description": "Trying again may succeed (after Retry-After, or once parts are sent).",
                },
                "attachment": _ref("Attachment"),
            },
        },
        "Attachment": {
            "type": "object",
            "required": [
                "id",
                "name",
                "size",
                "type",
                "state",
                "status",
                "reason",
                "strategy",
                "part_size",
                "part_count",
                "created_at",
                "uploaded_at",
                "sha256",
            ],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "name": {"type": "string", "description": "Sanitised display name."},
                "size": {"type": "integer", "minimum": 1, "description": "Declared size in bytes."},
                "type": {"type": "string", "description": "Declared media type."},
                "state": {"enum": _STATES, "description": "What the widget shows."},
                "status": {"enum": _STATUSES, "description": "The attachment's lifecycle status."},
                "reason": {
                    "type": ["string", "null"],
                    "description": "Why it was refused, for the customer.",
                },
                "strategy": {"enum": ["single", "multipart"]},
                "part_size": nullable_int,
                "part_count": {"type": "integer", "minimum": 1, "maximum": 10000},
                "created_at": {"type": "string", "format": "date-time"},
                "uploaded_at": {"type": ["string", "null"], "format": "date-time"},
                "sha256": {
                    "type": ["string", "null"],
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "The whole file's SHA-256 as the customer's browser declared it (the "
                    "scanner's matched when the file is delivered).",
                },
            },
        },
        "CompleteRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "sha256": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "The whole file's SHA-256 (hex) as the browser read it while sending. "
                    "The scanner hashes what storage holds; a different hash rejects the file (reason: the "
                    "file changed while it was being sent) and it is never served.",
                },
            },
        },
        "FileDeclaration": {
            "type": "object",
            "required": ["name", "size"],
            "properties": {
                "name": {
                    "type": "string",
                    "maxLength": 1024,
                    "description": "The file's name (kept for display).",
                },
                "size": {"type": "integer", "minimum": 1},
                "type": {"type": "string", "maxLength": 255, "description": "Media type; may be empty."},
                "fingerprint": {
                    "type": "string",
                    "pattern": "^[A-Za-z0-9._:-]{8,128}$",
                    "description": "Identifies the same file on re-selection (resume after a reload).",
                },
            },
        },
        "Created": {
            "type": "object",
            "required": ["attachment", "resumed", "max_sign_batch"],
            "properties": {
                "attachment": _ref("Attachment"),
                "resumed": {"type": "boolean"},
                "max_sign_batch": {"type": "integer", "const": MAX_SIGN_BATCH},
            },
        },
        "AttachmentAnswer": {
            "type": "object",
            "required": ["attachment"],
            "properties": {"attachment": _ref("Attachment")},
        },
        "AttachmentList": {
            "type": "object",
            "required": ["attachments"],
            "properties": {"attachments": {"type": "array", "items": _ref("Attachment")}},
        },
        "SignRequest": {
            "type": "object",
            "required": ["parts"],
            "properties": {
                "parts": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_SIGN_BATCH,
                    "items": {
                        "type": "object",
                        "required": ["number", "sha256"],
                        "properties": {
                            "number": {"type": "integer", "minimum": 1, "maximum": 10000},
                            "sha256": {
                                "type": "string",
                                "pattern": "^[A-Za-z0-9+/]{43}=$",
                                "description": "Base64 SHA-256 of the part's bytes; S3 checks it.",
                            },
                        },
                    },
                }
            },
        },
        "SignedParts": {
            "type": "object",
            "required": ["parts", "expires_at"],
            "properties": {
                "parts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["number", "url", "headers"],
                        "properties": {
                            "number": {"type": "integer"},
                            "url": {
                                "type": "string",
                                "format": "uri",
                                "description": "PUT the part's bytes here.",
                            },
                            "headers": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                                "description": "Send exactly these headers with the PUT.",
                            },
                        },
                    },
                },
                "expires_at": {"type": "string", "format": "date-time"},
            },
        },
        "UploadedParts": {
            "type": "object",
            "required": ["parts"],
            "properties": {
                "parts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["number", "size"],
                        "properties": {"number": {"type": "integer"}, "size": {"type": "integer"}},
                    },
                }
            },
        },
    }


def document(server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document; `server_url` is Ferry's public base URL."""
    item = f"{ATTACHMENTS}/{{attachment_id}}"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ferry widget API",
            "version": "1",
            "description": (
                "File uploads from the customer's chat widget straight to S3. Ferry never receives file "
                "content: it plans the upload, signs each part (with its SHA-256 and length signed in), "
                "lists what storage holds, completes and aborts. Request bodies are at most "
                f"{MAX_BODY_BYTES} bytes. Every call is bound to the chat session (HttpOnly cookie on the "
                "standalone page, bearer token in the embed); state changes need the header "
                "`X-Ferry-Chat: 1`."
            ),
        },
        "servers": [{"url": server_url}],
        "security": [{"chatCookie": []}, {"chatBearer": []}],
        "tags": [{"name": "uploads", "description": "Attachments sent from the chat widget."}],
        "paths": {
            ATTACHMENTS: {
                "post": _operation(
                    "Declare a file and get its upload plan (or resume the same unfinished file)",
                    "createAttachment",
                    {
                        "201": _json(_ref("Created"), "A new upload."),
                        "200": _json(_ref("Created"), "This chat's unfinished upload of the same file."),
                        **_errors(
                            "invalid_request",
                            "empty_file",
                            "too_large",
                            "type_not_allowed",
                            "too_many_files",
                            "chat_closed",
                            "rate_limited",
                            csrf=True,
                        ),
                    },
                    body="FileDeclaration",
                    csrf=True,
                ),
                "get": _operation(
                    "This chat's attachments",
                    "listAttachments",
                    {"200": _json(_ref("AttachmentList"), "Oldest first."), **_errors()},
                ),
            },
            item: {
                "get": _operation(
                    "An attachment's state (uploading, scanning, delivered, rejected, ...)",
                    "getAttachment",
                    {"200": _json(_ref("AttachmentAnswer"), "The attachment."), **_errors("not_found")},
                    with_id=True,
                ),
                "delete": _operation(
                    "Cancel the upload; storage drops every part",
                    "abortAttachment",
                    {
                        "200": _json(_ref("AttachmentAnswer"), "Cancelled (also when it already was)."),
                        **_errors("not_found", "not_cancellable", csrf=True),
                    },
                    csrf=True,
                    with_id=True,
                ),
            },
            f"{item}/sign": {
                "post": _operation(
                    "Presigned PUT URLs for a batch of parts, each with its checksum signed in",
                    "signParts",
                    {
                        "200": _json(_ref("SignedParts"), "One URL per part."),
                        **_errors(
                            "invalid_request",
                            "not_found",
                            "not_uploading",
                            "upload_complete",
                            "part_out_of_range",
                            "invalid_checksum",
                            csrf=True,
                        ),
                    },
                    body="SignRequest",
                    csrf=True,
                    with_id=True,
                ),
            },
            f"{item}/parts": {
                "get": _operation(
                    "Parts storage already holds (resume sends only the others)",
                    "listParts",
                    {
                        "200": _json(_ref("UploadedParts"), "In part-number order."),
                        **_errors("not_found", "not_uploading", "upload_expired"),
                    },
                    with_id=True,
                ),
            },
            f"{item}/complete": {
                "post": _operation(
                    "Assemble the file, check its size, and hand it to the virus scan",
                    "completeAttachment",
                    {
                        "200": _json(_ref("AttachmentAnswer"), "Uploaded; now `scanning`."),
                        **_errors(
                            "not_found",
                            "not_uploading",
                            "parts_missing",
                            "upload_expired",
                            "size_mismatch",
                            "assembly_failed",
                            "invalid_request",
                            csrf=True,
                        ),
                    },
                    body="CompleteRequest",
                    csrf=True,
                    with_id=True,
                ),
            },
        },
        "components": {
            "schemas": _schemas(),
            "parameters": {
                "AttachmentId": {
                    "name": "attachment_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                },
                "Csrf": {
                    "name": "X-Ferry-Chat",
                    "in": "header",
                    "required": True,
                    "schema": {"const": "1"},
                    "description": "Proves the request comes from the widget's own scripts.",
                },
            },
            "securitySchemes": {
                "chatCookie": {"type": "apiKey", "in": "cookie", "name": COOKIE_NAME},
                "chatBearer": {"type": "http", "scheme": "bearer", "description": "The embed's chat token."},
            },
        },
    }


@bp.get(OPENAPI_PATH)
def openapi_json() -> Response:
    """The upload API's OpenAPI document."""
    return jsonify(document(get_services().settings.public_base_url))
