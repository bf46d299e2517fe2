"""Why access was refused, and the two ways a check ends without an answer to serve."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why access was refused (the `reason` of an audit row)."""

    NO_TOKEN = "no_token"  # noqa: S105 - a reason's name, not a secret
    # garbage, expired, revoked, or not a user's token
    TOKEN_REJECTED = "token_rejected"  # noqa: S105 - a reason's name, not a secret
    USER_INACTIVE = "user_inactive"
    FOREIGN_ORGANIZATION = "foreign_organization"
    TRUSTEE_CLONE = "trustee_clone"
    FOREIGN_CLIENT = "foreign_client"
    NO_ROLE = "no_role"
    STATE_MISMATCH = "state_mismatch"
    CODE_REJECTED = "code_rejected"
    LOGIN_ERROR = "login_error"
    SESSION_ENDED = "session_ended"
    MALFORMED_ID = "malformed_id"
    NOT_FOUND = "not_found"
    NO_CONVERSATION = "no_conversation"
    NOT_PARTICIPANT = "not_participant"
    NOT_CLEAN = "not_clean"
    TAG_NOT_CLEAN = "tag_not_clean"
    OBJECT_MISSING = "object_missing"
    OBJECT_CHANGED = "object_changed"  # the served object is not the one the scanner copied
    NO_PREVIEW = "no_preview"  # clean, but the scanner could not make a preview image of it
    BAD_HOST_ORIGIN = "bad_host_origin"
    GENESYS_UNAVAILABLE = "genesys_unavailable"
    # Genesys refused Ferry's own token (401/403): a permission or division is missing, nothing is known
    GENESYS_FORBIDDEN = "genesys_forbidden"
    STORAGE_UNAVAILABLE = "storage_unavailable"


class AccessDenied(Exception):
    """The request is refused; `reason` says why (for the audit log, never shown to the refused user).
    `user_id` and `user_name` name the refused user when Genesys told us who they are."""

    def __init__(
        self, reason: Reason, detail: str = "", *, user_id: str | None = None, user_name: str | None = None
    ) -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail
        self.user_id = user_id
        self.user_name = user_name


class AccessUnavailable(Exception):
    """A check could not be made (Genesys or S3 unreachable). Callers refuse: they fail closed."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
