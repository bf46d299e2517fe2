"""The chat API's errors: a status, a stable `error` code for code, and a human `message` the widget shows.

Every text a customer can read from the server is in MESSAGES, in one place for translation.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

MESSAGES: dict[str, str] = {
    "bad_request": "The request could not be understood. Please reload the page and try again.",
    "csrf": "This request was refused to protect your chat. Please reload the page and try again.",
    "no_session": "Start a new chat to send messages.",
    "session_invalid": "This chat session is not valid here. Please start a new chat.",
    "session_expired": "This chat has ended. Please start a new chat.",
    "empty_message": "Type a message before sending.",
    "message_too_long": "Messages can be at most {limit} characters long (this one has {length}).",
    "bad_client_id": "The message could not be sent. Please reload the page and try again.",
    "name_too_long": "Your name can be at most {limit} characters long.",
    "bad_email": "Please enter a valid email address, or leave it empty.",
    "not_found": "That message was not found in this chat.",
    "not_retryable": "Only messages that were not delivered can be sent again.",
    "rate_limited": "You are sending messages too quickly. Please wait {seconds} seconds and try again.",
    "too_many_chats": (
        "Too many chats were started from your network. Please wait {seconds} seconds and try again."
    ),
}


class ApiError(Exception):
    """A refusal the widget explains to the customer."""

    def __init__(
        self, status: int, code: str, *, headers: dict[str, str] | None = None, **params: Any
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.headers = headers or {}
        self.params = params

    @property
    def message(self) -> str:
        return MESSAGES[self.code].format(**self.params)

    def response(self) -> tuple[Response, int, dict[str, str]]:
        """The JSON answer: `{"error": code, "message": human text, ...params}`."""
        body: dict[str, Any] = {"error": self.code, "message": self.message, **self.params}
        return jsonify(body), self.status, self.headers
