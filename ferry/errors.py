"""Every refusal the chat and upload APIs can answer, in one table: code → HTTP status → message.

A `Refusal` names its code and the values its message needs; the blueprint's one handler
(uploader/errors.py) turns it into `{"error": code, "message": text, "retryable": bool, ...values}`,
and the OpenAPI document's error enums are generated from CODES. Every text a customer can read from
the server is here, in one place for translation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorCode:
    """An HTTP status, a message a person can act on (a `str.format` template over the refusal's
    values), and whether trying again may succeed: after the wait the answer names, or once what is
    missing was sent. The widget offers Retry only then."""

    status: int
    message: str
    retryable: bool = False


CODES: dict[str, ErrorCode] = {
    # -- any call
    "invalid_request": ErrorCode(400, "{problem} Please reload the page and try again."),
    "body_too_large": ErrorCode(413, "This request is too large; file content goes straight to storage."),
    "csrf": ErrorCode(
        403, "This request was refused to protect your chat. Please reload the page and try again."
    ),
    "no_session": ErrorCode(401, "Start a new chat to send messages."),
    "session_invalid": ErrorCode(401, "This chat session is not valid here. Please start a new chat."),
    "session_expired": ErrorCode(401, "This chat has ended. Please start a new chat."),
    "not_found": ErrorCode(404, "That {what} was not found in this chat."),
    "rate_limited": ErrorCode(
        429, "You are sending too quickly. Please wait {seconds} seconds and try again.", True
    ),
    # -- chats and messages
    "streams_busy": ErrorCode(
        503, "Live updates are busy right now. Reconnecting in {seconds} seconds; nothing is lost.", True
    ),
    "too_many_chats": ErrorCode(
        429,
        "Too many chats were started from your network. Please wait {seconds} seconds and try again.",
        True,
    ),
    "empty_message": ErrorCode(400, "Type a message before sending."),
    "message_too_long": ErrorCode(
        400, "Messages can be at most {limit} characters long (this one has {length})."
    ),
    "bad_client_id": ErrorCode(400, "The message could not be sent. Please reload the page and try again."),
    "name_too_long": ErrorCode(400, "Your name can be at most {limit} characters long."),
    "bad_email": ErrorCode(400, "Please enter a valid email address, or leave it empty."),
    "not_retryable": ErrorCode(409, "Only messages that were not delivered can be sent again."),
    "not_a_choice": ErrorCode(409, "That choice is not offered by this message."),
    # -- uploads
    "chat_closed": ErrorCode(409, "This chat has ended; files can no longer be sent."),
    "too_many_files": ErrorCode(409, "This chat already has {limit} files, the most it can take."),
    "not_uploading": ErrorCode(409, "This upload is no longer in progress ({state})."),
    "upload_complete": ErrorCode(409, "This file was already sent ({state}); it can no longer be changed."),
    "not_cancellable": ErrorCode(409, "This file can no longer be cancelled ({state})."),
    "parts_missing": ErrorCode(
        409,
        "{missing} of {total} parts have not reached storage yet ({numbers}); send them, then finish.",
        True,
    ),
    "upload_expired": ErrorCode(410, "This upload was discarded; please send the file again."),
    "too_large": ErrorCode(413, "This file is {size}; files up to {limit} can be sent."),
    "type_not_allowed": ErrorCode(
        415,
        "Files of this type can't be sent here. Videos, images, audio, PDF, DICOM and office documents can.",
    ),
    "empty_file": ErrorCode(422, "This file is empty."),
    "part_out_of_range": ErrorCode(422, "Part {number} is out of range: this file has {total}."),
    "invalid_checksum": ErrorCode(422, "Part {number} needs a base64 SHA-256 checksum."),
    "size_mismatch": ErrorCode(422, "The stored file has {stored} bytes but {declared} were announced."),
    "assembly_failed": ErrorCode(422, "Storage refused to assemble the uploaded parts."),
    "storage_unavailable": ErrorCode(
        503, "File storage can't be reached right now. The upload will retry.", True
    ),
    # -- the Genesys webhook (read by whoever runs the integration)
    "bad_signature": ErrorCode(401, "The webhook signature is missing or wrong."),
}


class Refusal(Exception):
    """A refused request: a registered `code`, the values its message names, and extra headers."""

    def __init__(self, code: str, *, headers: dict[str, str] | None = None, **values: Any) -> None:
        self.code = code
        self.spec = CODES[code]
        self.values = values
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}")

    @property
    def status(self) -> int:
        return self.spec.status

    @property
    def message(self) -> str:
        return self.spec.message.format(**self.values)

    def body(self) -> dict[str, Any]:
        """The JSON answer's fields."""
        return {"error": self.code, "message": self.message, "retryable": self.spec.retryable, **self.values}
