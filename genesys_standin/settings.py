"""Settings of the Genesys Cloud stand-in, including switches for behaviour the reference marks UNSURE."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HOME_ORG_ID = "5a0c0ffe-0000-4000-8000-000000000001"
DEFAULT_FOREIGN_ORG_ID = "f0e16e00-0000-4000-8000-000000000002"


@dataclass(frozen=True)
class StandinSettings:
    """How the stand-in behaves. `python -m genesys_standin` reads each field from `STANDIN_<FIELD>`."""

    # Organizations: users and OAuth clients belong to "home" (Ferry's org) or "foreign" (another org).
    home_org_id: str = DEFAULT_HOME_ORG_ID
    home_org_name: str = "Ferry Development"
    foreign_org_id: str = DEFAULT_FOREIGN_ORG_ID
    foreign_org_name: str = "Some Other Organization"

    # Limits. rate_limit_per_minute applies to each client-credentials token (0 turns it off).
    rate_limit_per_minute: int = 300
    code_ttl_seconds: float = 60.0
    token_ttl_seconds: float = 86400.0
    max_attachment_bytes: int = 25_000_000
    attachment_fetch_timeout_seconds: float = 10.0
    max_request_body_bytes: int = 30_000_000
    request_log_size: int = 10_000

    # Download URLs (GET /api/v2/downloads/{id}): they need a bearer token, work this long after the file
    # was stored, and redirect (302) to the bytes at a one-off URL that works this long without a token.
    download_url_ttl_seconds: float = 3600.0
    download_redirect_ttl_seconds: float = 60.0

    # Outbound webhook delivery: attempts in total (first try included), timeout per attempt, and
    # exponential backoff between attempts (base, 2*base, 4*base, ...).
    webhook_timeout_seconds: float = 10.0
    webhook_max_attempts: int = 5
    webhook_backoff_base_seconds: float = 1.0
    # Whether a 4xx other than 429 is retried too (Genesys counts every non-2xx as a failed delivery; which
    # of them it retries is not documented), and whether a delivery that failed every attempt marks its
    # conversation's delivery failed.
    webhook_retry_client_errors: bool = True
    webhook_failure_fails_conversation: bool = True

    # Switches for what the reference marks UNSURE (defaults: what Genesys most likely does).
    fetch_attachments: bool = True  # GET each inbound attachment URL server-side at ingest
    rehost_attachments: bool = True  # keep a Genesys-hosted copy; agents see it, not the original URL
    conversation_id_without_prefetch: bool = False  # conversationId even without prefetch
    id_type_case_sensitive: bool = False  # refuse "email"/"opaque" (only "Email"/"Opaque" accepted)
    inbound_status_code: int = 202  # 200 or 202 for the inbound message/receipt/event answers
    inbound_receipt_direction: str = "Inbound"  # `direction` of receipts about inbound messages
    outbound_typing_events: bool = False  # agent typing → webhook (off by default)
    typing_duration_ms: int = 5000
    outbound_nickname: str = "agent"  # channel.from.nickname of outbound messages: "agent" or "integration"
    refresh_token_rotation: bool = False  # a refresh hands out a new refresh token and retires the old one
    # A repeated channel.messageId answers the first message instead of making a second one. Nothing
    # published says Genesys does this; off, every inbound message is a new one.
    deduplicate_messages: bool = True

    # Permissions the client-credentials clients lack (comma-separated, e.g. "conversation:message:view"):
    # a route needing one answers 403 missing.any.permissions to them, as Genesys does to a client whose
    # role lacks it (or lacks it in the conversation's division).
    revoked_client_permissions: str = ""

    # Stand-in conveniences (no Genesys equivalent to be faithful to).
    refuse_inactive_login: bool = False  # Genesys refuses; the default lets Ferry's own state check be tested
    remember_login: bool = False  # /oauth/authorize skips the picker after a login
    console_secret_key: str = ""  # signs the console cookie; random per process when empty
