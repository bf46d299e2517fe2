"""Every setting Ferry reads, from environment variables, validated in one place.

`Settings.from_env()` is the only reader of the environment. Development and test modes
(`FERRY_ENV=development|test`) fill in defaults that point at the local stack that `make run`
starts; production mode (the default, so that a forgotten variable can never silently run a
deployment on development secrets) requires every secret and names the one that is missing.

Each entry point (`Deployable`) reads only the variables it uses: the web app reads them all (its `flask`
commands run every part), the worker all but the web's own secrets, each Lambda a short list of its own.
A variable outside that list is neither read nor required there; its field keeps its default.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from genesys.regions import hosts_for_region

ENVIRONMENTS = ("development", "test", "production")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_PATH = PROJECT_ROOT / "instance"

# Identities that the local stand-in is seeded with by `make run` and the tests. They are only ever
# used when FERRY_ENV is development or test.
DEV_ORG_ID = "5a0c0ffe-0000-4000-8000-000000000001"
DEV_CLIENT_ID = "ferry-dev-messaging"
DEV_CLIENT_SECRET = "ferry-dev-messaging-secret"  # noqa: S105 - development-only default
DEV_OAUTH_CLIENT_ID = "ferry-dev-viewer"
DEV_OAUTH_CLIENT_SECRET = "ferry-dev-viewer-secret"  # noqa: S105 - development-only default
DEV_WEBHOOK_SECRET = "ferry-dev-webhook-secret-0123456789"  # noqa: S105 - development-only default

GIB = 1024**3
MIB = 1024**2

# Common office documents (also a filter of the QA list).
DOCUMENT_TYPES = (
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/rtf",
    "text/plain",
    "text/csv",
)
DEFAULT_ALLOWED_TYPES = (
    "video/*",
    "image/*",
    "audio/*",
    "application/pdf",
    "application/dicom",
    *DOCUMENT_TYPES,
)
DEFAULT_NATIVE_PREVIEW_TYPES = ("image/jpeg", "image/png", "image/gif", "application/pdf", "video/mp4")


class Deployable(StrEnum):
    """An entry point with settings of its own."""

    WEB = "web"  # create_app, and the `flask` commands
    WORKER = "worker"  # python -m ferry.worker
    SCANNER = "scanner"  # scanner.handler.lambda_handler
    AUTHORIZER = "authorizer"  # authorizer.handler.lambda_handler


_EVERY_ENTRY_POINT = frozenset({"FERRY_ENV", "FERRY_INSTANCE_PATH", "LOG_LEVEL"})
_GENESYS_HOSTS = frozenset(
    {"GENESYS_REGION", "GENESYS_API_BASE_URL", "GENESYS_LOGIN_BASE_URL", "GENESYS_TIMEOUT_SECONDS"}
)
# Secrets only the web app's requests use (chat and viewer sessions, the OAuth login, the webhook).
_WEB_SECRETS = frozenset({"SECRET_KEY", "GENESYS_OAUTH_CLIENT_SECRET", "GENESYS_WEBHOOK_SECRET"})
_SCANNER = frozenset(
    {
        "DATABASE_URL",
        "PUBLIC_BASE_URL",  # the stable link in the agent's announcement
        "AWS_REGION",
        "S3_BUCKET",
        "S3_ENDPOINT_URL",
        "S3_INCOMING_PREFIX",
        "S3_QUARANTINE_PREFIX",
        "S3_CLEAN_PREFIX",
        "SQS_QUEUE_URL",
        "SQS_ENDPOINT_URL",
        "CLAMD_ADDRESS",
        "CLAMD_TIMEOUT_SECONDS",
        "CLAMAV_MIRROR_URL",
        "SCAN_SEGMENT_MODE",
        "SCAN_ENGINE_CAP_BYTES",
        "SCAN_SEGMENT_WORKERS",
        "SCAN_MAX_ATTEMPTS",
        "SCAN_RETRY_BASE_SECONDS",
        "SCAN_RETRY_MAX_SECONDS",
        "SCAN_LEASE_SECONDS",
        "SCAN_VISIBILITY_SECONDS",
        "SCAN_QUARANTINE_MODE",
        "SCAN_MAX_SIGNATURE_AGE_DAYS",
        "SCAN_NOTIFY_AGENT_ON_REJECT",
        "UPLOAD_ALLOWED_TYPES",
        "NATIVE_PREVIEW_TYPES",
        "NATIVE_PREVIEW_MAX_BYTES",
        "PREVIEWS_ENABLED",
        "PREVIEW_TIMEOUT_SECONDS",
        "PREVIEW_MAX_INPUT_BYTES",
    }
)
# users/me and tokens/me answer with the caller's own token: no client secret, no database, no bucket.
_AUTHORIZER = _GENESYS_HOSTS | {
    "GENESYS_ORG_ID",
    "GENESYS_OAUTH_CLIENT_ID",  # with API_OAUTH_CLIENT_IDS: the clients whose tokens are accepted
    "API_OAUTH_CLIENT_IDS",
    "VIEWER_AGENT_ROLES",
    "VIEWER_REVIEWER_ROLES",
    "VIEWER_AUDITOR_ROLES",
    "AUTHORIZER_CACHE_SECONDS",
    "AUTHORIZER_POLICY_SCOPE",
}


def reads(deployable: Deployable, name: str) -> bool:
    """Whether `deployable` reads (and may require) the environment variable `name`."""
    if deployable is Deployable.WEB or name in _EVERY_ENTRY_POINT:
        return True
    if deployable is Deployable.WORKER:
        return name not in _WEB_SECRETS
    return name in (_SCANNER if deployable is Deployable.SCANNER else _AUTHORIZER)


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message names the environment variable."""


@dataclass(frozen=True)
class Settings:
    """Ferry's configuration. Field names are the lower-cased environment variable names."""

    ferry_env: str = "production"
    secret_key: str = ""
    database_url: str = ""
    public_base_url: str = ""
    instance_path: str = str(DEFAULT_INSTANCE_PATH)
    log_level: str = "INFO"

    # AWS: S3 and SQS (endpoints only for the local emulator; credentials come from boto3's usual chain)
    aws_region: str = "eu-west-1"
    s3_bucket: str = ""
    s3_endpoint_url: str | None = None
    s3_incoming_prefix: str = "incoming/"
    s3_quarantine_prefix: str = "quarantine/"
    s3_clean_prefix: str = "clean/"  # where the scanner copies what it read clean: the only bytes served
    sqs_queue_url: str = ""
    sqs_endpoint_url: str | None = None
    widget_origins: tuple[str, ...] = ()

    # ClamAV
    clamd_address: str = ""
    clamd_timeout_seconds: float = 600.0
    clamav_mirror_url: str = ""  # s3://bucket/prefix/ the scanner Lambda loads signatures from at cold start

    # Scanning (scanner/pipeline.py): S3 event -> scan -> verdict -> tags -> outbox
    scan_segment_mode: str = "segment"  # files over the engine cap: "segment" (overlapping) or "refuse"
    scan_engine_cap_bytes: int = 2000 * MIB  # must not exceed clamd's StreamMaxLength/MaxFileSize
    scan_segment_workers: int = 2
    scan_max_attempts: int = 3  # scans that end in an error before the file is failed
    scan_retry_base_seconds: float = 30.0
    scan_retry_max_seconds: float = 900.0
    scan_lease_seconds: float = 300.0  # a scanner's claim on an attachment, renewed while it scans
    scan_visibility_seconds: int = 900  # the worker's SQS visibility timeout, renewed while it scans
    scan_queue_wait_seconds: int = 1  # SQS long poll of the worker's scan loop
    scan_worker_threads: int = 1  # scan loops in `python -m ferry.worker` (only when CLAMD_ADDRESS is set)
    scan_quarantine_mode: str = "quarantine"  # infected objects: "quarantine" (moved) or "delete"
    scan_max_signature_age_days: float = 3.0  # production: older signatures make files wait
    scan_notify_agent_on_reject: bool = True  # tell the agent (no link) when a file is refused

    # Genesys Cloud
    genesys_region: str = ""
    genesys_api_base_url: str = ""
    genesys_login_base_url: str = ""
    genesys_org_id: str = ""
    genesys_client_id: str = ""
    genesys_client_secret: str = ""
    genesys_oauth_client_id: str = ""
    genesys_oauth_client_secret: str = ""
    genesys_integration_id: str = ""
    genesys_webhook_secret: str = ""
    genesys_host_origins: tuple[str, ...] = ()
    genesys_timeout_seconds: float = 10.0

    # Viewer roles (Genesys role names)
    viewer_agent_roles: tuple[str, ...] = ("Agent",)
    viewer_reviewer_roles: tuple[str, ...] = ("Quality Evaluator", "Quality Administrator")
    viewer_auditor_roles: tuple[str, ...] = ("Quality Administrator",)

    # Viewer sessions, caches and URLs (README: The agent viewer)
    viewer_recheck_seconds: int = 120
    viewer_grant_seconds: int = 300
    viewer_session_hours: int = 8
    viewer_url_seconds: int = 300
    viewer_cookie_samesite: str = "Lax"
    viewer_cookie_partitioned: bool = False
    api_oauth_client_ids: tuple[str, ...] = ()

    # Lambda authorizer
    authorizer_cache_seconds: int = 60
    authorizer_policy_scope: str = "route"

    # Upload policy
    upload_max_bytes: int = 50 * GIB
    upload_allowed_types: tuple[str, ...] = DEFAULT_ALLOWED_TYPES
    upload_max_files_per_chat: int = 50
    upload_single_put_max_bytes: int = 8 * MIB  # larger files go multipart
    # Lifetime of a presigned part URL: about one part's upload, so a kept URL soon writes nothing (the
    # widget re-signs on expiry).
    upload_url_seconds: int = 300
    upload_abandon_after_hours: int = 24  # `flask uploads expire` aborts unfinished uploads this old
    native_preview_types: tuple[str, ...] = DEFAULT_NATIVE_PREVIEW_TYPES
    native_preview_max_bytes: int = 25 * 1000 * 1000
    previews_enabled: bool = True  # the scanner makes a preview image of every clean file
    preview_timeout_seconds: float = 20.0
    preview_max_input_bytes: int = 64 * MIB  # how much of a clean file the previewer reads

    # Chat
    chat_max_message_chars: int = 4000
    chat_session_hours: int = 24
    chat_rate_per_chat: int = 30  # messages (and retries) per chat per minute
    chat_rate_per_ip: int = 120  # chat API writes per client IP per minute
    chat_starts_per_ip: int = 20  # new chats per client IP per hour
    chat_typing_indicators: bool = True
    chat_stream_poll_seconds: float = 0.4  # SQLite: how often each process reads the change log
    chat_stream_seconds: float = 600.0
    chat_safety_poll_seconds: float = 5.0  # PostgreSQL: the change log, in case a notification was missed
    chat_max_streams: int = 1000  # open event streams per app process

    # Genesys delivery outbox (the worker)
    outbox_poll_seconds: float = 0.25  # SQLite: how often the worker reads the outbox
    outbox_safety_poll_seconds: float = 5.0  # PostgreSQL: the outbox, in case a notification was missed
    outbox_lease_seconds: float = 60.0
    outbox_backoff_base_seconds: float = 1.0
    outbox_backoff_max_seconds: float = 300.0
    outbox_threads: int = 2
    outbox_keep_days: int = 7  # housekeeping deletes entries Genesys accepted longer ago than this

    # Webhook inbox: signed bodies whose work cannot be done yet are retried this often, then given up
    webhook_retry_max_attempts: int = 20
    webhook_retry_base_seconds: float = 1.0

    # Files agents send: fetched from Genesys by the worker, bounded, then scanned like a customer's
    agent_file_max_bytes: int = 25 * 1000 * 1000
    agent_file_fetch_seconds: float = 60.0
    agent_file_max_attempts: int = 5
    agent_file_redirect_hosts: tuple[str, ...] = ()  # hosts beyond the region's a download may redirect to

    @property
    def is_production(self) -> bool:
        return self.ferry_env == "production"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        deployable: Deployable = Deployable.WEB,
        **overrides: Any,
    ) -> Settings:
        """Build `deployable`'s settings from `environ` (default: os.environ), then apply keyword overrides.

        :raise ConfigError: naming every variable that is missing or invalid.
        """
        env = dict(os.environ if environ is None else environ)
        reader = _Reader(env, deployable)
        mode = reader.choice("FERRY_ENV", ENVIRONMENTS, default="production")
        dev = mode != "production"
        instance = Path(reader.text("FERRY_INSTANCE_PATH", str(DEFAULT_INSTANCE_PATH)))
        public = reader.url("PUBLIC_BASE_URL", "http://127.0.0.1:8000" if dev else None).rstrip("/")

        api_base, login_base, host_origins = _genesys_hosts(reader, dev)

        values: dict[str, Any] = dict(
            ferry_env=mode,
            secret_key=reader.secret(
                "SECRET_KEY", "development-only-secret-key" if dev else None, min_len=16
            ),
            database_url=reader.database_url("DATABASE_URL", f"sqlite:///{instance / 'ferry.sqlite3'}"),
            public_base_url=public,
            instance_path=str(instance),
            log_level=reader.choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), default="INFO"),
            aws_region=reader.text("AWS_REGION", "eu-west-1"),
            s3_bucket=reader.required("S3_BUCKET", "ferry-dev" if dev else None),
            s3_endpoint_url=reader.optional_url("S3_ENDPOINT_URL", "http://127.0.0.1:8200" if dev else None),
            s3_incoming_prefix=reader.prefix("S3_INCOMING_PREFIX", "incoming/"),
            s3_quarantine_prefix=reader.prefix("S3_QUARANTINE_PREFIX", "quarantine/"),
            s3_clean_prefix=reader.prefix("S3_CLEAN_PREFIX", "clean/"),
            sqs_queue_url=reader.url(
                "SQS_QUEUE_URL", "http://127.0.0.1:8200/123456789012/ferry-dev-scan" if dev else None
            ),
            sqs_endpoint_url=reader.optional_url(
                "SQS_ENDPOINT_URL", "http://127.0.0.1:8200" if dev else None
            ),
            widget_origins=reader.origins("WIDGET_ORIGINS", public if dev else None),
            # Optional in production: where the scanner Lambda scans, the web and worker dynos need no clamd.
            clamd_address=reader.text("CLAMD_ADDRESS", str(instance / "clamd" / "clamd.sock") if dev else ""),
            clamd_timeout_seconds=reader.number("CLAMD_TIMEOUT_SECONDS", 600.0),
            clamav_mirror_url=reader.s3_url("CLAMAV_MIRROR_URL"),
            scan_segment_mode=reader.choice("SCAN_SEGMENT_MODE", ("segment", "refuse"), default="segment"),
            scan_engine_cap_bytes=reader.integer(
                "SCAN_ENGINE_CAP_BYTES", 2000 * MIB, minimum=4 * MIB, maximum=2000 * MIB
            ),
            scan_segment_workers=reader.integer("SCAN_SEGMENT_WORKERS", 2, minimum=1, maximum=8),
            scan_max_attempts=reader.integer("SCAN_MAX_ATTEMPTS", 3, minimum=1),
            scan_retry_base_seconds=reader.number("SCAN_RETRY_BASE_SECONDS", 30.0),
            scan_retry_max_seconds=reader.number("SCAN_RETRY_MAX_SECONDS", 900.0),
            scan_lease_seconds=reader.number("SCAN_LEASE_SECONDS", 300.0),
            # SQS caps a message's visibility timeout at 12 hours.
            scan_visibility_seconds=reader.integer("SCAN_VISIBILITY_SECONDS", 900, minimum=1, maximum=43200),
            scan_queue_wait_seconds=reader.integer("SCAN_QUEUE_WAIT_SECONDS", 1, minimum=0, maximum=20),
            scan_worker_threads=reader.integer("SCAN_WORKER_THREADS", 1, minimum=0),
            scan_quarantine_mode=reader.choice(
                "SCAN_QUARANTINE_MODE", ("quarantine", "delete"), default="quarantine"
            ),
            scan_max_signature_age_days=reader.number("SCAN_MAX_SIGNATURE_AGE_DAYS", 3.0),
            scan_notify_agent_on_reject=reader.flag("SCAN_NOTIFY_AGENT_ON_REJECT", True),
            genesys_region=reader.text("GENESYS_REGION", ""),
            genesys_api_base_url=api_base,
            genesys_login_base_url=login_base,
            genesys_org_id=reader.required("GENESYS_ORG_ID", DEV_ORG_ID if dev else None),
            genesys_client_id=reader.required("GENESYS_CLIENT_ID", DEV_CLIENT_ID if dev else None),
            genesys_client_secret=reader.secret("GENESYS_CLIENT_SECRET", DEV_CLIENT_SECRET if dev else None),
            genesys_oauth_client_id=reader.required(
                "GENESYS_OAUTH_CLIENT_ID", DEV_OAUTH_CLIENT_ID if dev else None
            ),
            genesys_oauth_client_secret=reader.secret(
                "GENESYS_OAUTH_CLIENT_SECRET", DEV_OAUTH_CLIENT_SECRET if dev else None
            ),
            genesys_integration_id=reader.text("GENESYS_INTEGRATION_ID", ""),
            genesys_webhook_secret=reader.secret(
                "GENESYS_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET if dev else None, min_len=16
            ),
            genesys_host_origins=reader.origins("GENESYS_HOST_ORIGINS", ",".join(host_origins)),
            genesys_timeout_seconds=reader.number("GENESYS_TIMEOUT_SECONDS", 10.0),
            viewer_agent_roles=reader.names("VIEWER_AGENT_ROLES", "Agent"),
            viewer_reviewer_roles=reader.names(
                "VIEWER_REVIEWER_ROLES", "Quality Evaluator,Quality Administrator"
            ),
            viewer_auditor_roles=reader.names("VIEWER_AUDITOR_ROLES", "Quality Administrator"),
            # Deactivation and role removal must bite within five minutes: no cached answer may be older.
            viewer_recheck_seconds=reader.integer("VIEWER_RECHECK_SECONDS", 120, minimum=1, maximum=300),
            viewer_grant_seconds=reader.integer("VIEWER_GRANT_SECONDS", 300, minimum=0, maximum=3600),
            viewer_session_hours=reader.integer("VIEWER_SESSION_HOURS", 8, minimum=1, maximum=48),
            viewer_url_seconds=reader.integer("VIEWER_URL_SECONDS", 300, minimum=1, maximum=300),
            viewer_cookie_samesite=_samesite(reader, public),
            viewer_cookie_partitioned=reader.flag("VIEWER_COOKIE_PARTITIONED", False),
            api_oauth_client_ids=reader.names("API_OAUTH_CLIENT_IDS", ""),
            authorizer_cache_seconds=reader.integer("AUTHORIZER_CACHE_SECONDS", 60, minimum=0, maximum=300),
            authorizer_policy_scope=reader.choice(
                "AUTHORIZER_POLICY_SCOPE", ("route", "api"), default="route"
            ),
            upload_max_bytes=reader.integer("UPLOAD_MAX_BYTES", 50 * GIB, minimum=1),
            upload_allowed_types=reader.names("UPLOAD_ALLOWED_TYPES", ",".join(DEFAULT_ALLOWED_TYPES)),
            upload_max_files_per_chat=reader.integer("UPLOAD_MAX_FILES_PER_CHAT", 50, minimum=1),
            upload_single_put_max_bytes=reader.integer(
                "UPLOAD_SINGLE_PUT_MAX_BYTES", 8 * MIB, minimum=0, maximum=5 * 1000**3
            ),
            upload_url_seconds=reader.integer("UPLOAD_URL_SECONDS", 300, minimum=60, maximum=7 * 24 * 3600),
            upload_abandon_after_hours=reader.integer("UPLOAD_ABANDON_AFTER_HOURS", 24, minimum=1),
            native_preview_types=reader.names("NATIVE_PREVIEW_TYPES", ",".join(DEFAULT_NATIVE_PREVIEW_TYPES)),
            native_preview_max_bytes=reader.integer("NATIVE_PREVIEW_MAX_BYTES", 25 * 1000 * 1000, minimum=0),
            previews_enabled=reader.flag("PREVIEWS_ENABLED", True),
            preview_timeout_seconds=reader.number("PREVIEW_TIMEOUT_SECONDS", 20.0),
            preview_max_input_bytes=reader.integer(
                "PREVIEW_MAX_INPUT_BYTES", 64 * MIB, minimum=MIB, maximum=2000 * MIB
            ),
            chat_max_message_chars=reader.integer("CHAT_MAX_MESSAGE_CHARS", 4000, minimum=1),
            chat_session_hours=reader.integer("CHAT_SESSION_HOURS", 24, minimum=1),
            chat_rate_per_chat=reader.integer("CHAT_RATE_PER_CHAT", 30, minimum=1),
            chat_rate_per_ip=reader.integer("CHAT_RATE_PER_IP", 120, minimum=1),
            chat_starts_per_ip=reader.integer("CHAT_STARTS_PER_IP", 20, minimum=1),
            chat_typing_indicators=reader.flag("CHAT_TYPING_INDICATORS", True),
            chat_stream_poll_seconds=reader.number("CHAT_STREAM_POLL_SECONDS", 0.4),
            chat_stream_seconds=reader.number("CHAT_STREAM_SECONDS", 600.0),
            chat_safety_poll_seconds=reader.number("CHAT_SAFETY_POLL_SECONDS", 5.0),
            chat_max_streams=reader.integer("CHAT_MAX_STREAMS", 1000, minimum=1),
            outbox_poll_seconds=reader.number("OUTBOX_POLL_SECONDS", 0.25),
            outbox_safety_poll_seconds=reader.number("OUTBOX_SAFETY_POLL_SECONDS", 5.0),
            outbox_lease_seconds=reader.number("OUTBOX_LEASE_SECONDS", 60.0),
            outbox_backoff_base_seconds=reader.number("OUTBOX_BACKOFF_BASE_SECONDS", 1.0),
            outbox_backoff_max_seconds=reader.number("OUTBOX_BACKOFF_MAX_SECONDS", 300.0),
            outbox_threads=reader.integer("OUTBOX_THREADS", 2, minimum=1),
            outbox_keep_days=reader.integer("OUTBOX_KEEP_DAYS", 7, minimum=1),
            webhook_retry_max_attempts=reader.integer("WEBHOOK_RETRY_MAX_ATTEMPTS", 20, minimum=1),
            webhook_retry_base_seconds=reader.number("WEBHOOK_RETRY_BASE_SECONDS", 1.0),
            agent_file_max_bytes=reader.integer("AGENT_FILE_MAX_BYTES", 25 * 1000 * 1000, minimum=1),
            agent_file_fetch_seconds=reader.number("AGENT_FILE_FETCH_SECONDS", 60.0),
            agent_file_max_attempts=reader.integer("AGENT_FILE_MAX_ATTEMPTS", 5, minimum=1),
            agent_file_redirect_hosts=reader.names("AGENT_FILE_REDIRECT_HOSTS", ""),
        )
        if reader.errors:
            raise ConfigError("invalid configuration: " + "; ".join(reader.errors))
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values.update(overrides)
        return cls(**values)


def _samesite(reader: _Reader, public_base_url: str) -> str:
    """The viewer cookie's SameSite; `None` (for pages framed by Genesys) needs an https PUBLIC_BASE_URL."""
    value = reader.choice("VIEWER_COOKIE_SAMESITE", ("Lax", "Strict", "None"), default="Lax")
    if value == "None" and not public_base_url.startswith("https://"):
        reader.errors.append(
            "VIEWER_COOKIE_SAMESITE=None needs an https:// PUBLIC_BASE_URL (browsers require Secure)"
        )
    return value


def _genesys_hosts(reader: _Reader, dev: bool) -> tuple[str, str, tuple[str, ...]]:
    """API and login base URLs, and the agent UI origins, from GENESYS_REGION or explicit URLs."""
    region = reader.text("GENESYS_REGION", "")
    if region:
        try:
            api, login, apps = hosts_for_region(region)
        except KeyError:
            reader.errors.append(f"GENESYS_REGION {region!r} is not a known Genesys Cloud region")
            return "", "", ()
        return (
            reader.url("GENESYS_API_BASE_URL", api).rstrip("/"),
            reader.url("GENESYS_LOGIN_BASE_URL", login).rstrip("/"),
            (apps,),
        )
    standin = "http://127.0.0.1:8100" if dev else None
    if not reader.reads("GENESYS_API_BASE_URL"):
        return "", "", ()
    if not dev and reader.text("GENESYS_API_BASE_URL", "") == "":
        reader.errors.append(
            "GENESYS_REGION (or GENESYS_API_BASE_URL and GENESYS_LOGIN_BASE_URL) is required"
        )
        return "", "", ()
    api = reader.url("GENESYS_API_BASE_URL", standin).rstrip("/")
    login = reader.url("GENESYS_LOGIN_BASE_URL", standin).rstrip("/")
    return api, login, (api,)


@dataclass
class _Reader:
    """Typed access to the environment; collects an error naming each variable that is wrong."""

    env: Mapping[str, str]
    deployable: Deployable = Deployable.WEB
    errors: list[str] = field(default_factory=list)

    def _fail(self, message: str) -> str:
        self.errors.append(message)
        return ""

    def reads(self, name: str) -> bool:
        return reads(self.deployable, name)

    def _get(self, name: str) -> str | None:
        """The variable's value; None when it is unset, blank, or not one this entry point reads."""
        value = self.env.get(name) if self.reads(name) else None
        return value.strip() if value is not None and value.strip() != "" else None

    def text(self, name: str, default: str) -> str:
        return self._get(name) or default

    def required(self, name: str, default: str | None) -> str:
        value = self._get(name) or default
        if not value:
            return self._fail(f"{name} is required (set it in the environment)") if self.reads(name) else ""
        return value

    def secret(self, name: str, default: str | None, min_len: int = 1) -> str:
        value = self.required(name, default)
        if value and len(value) < min_len:
            return self._fail(f"{name} must be at least {min_len} characters long")
        return value

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self._get(name) or default
        if value not in allowed:
            self._fail(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
            return default
        return value

    def url(self, name: str, default: str | None) -> str:
        value = self.required(name, default)
        if value and not re.match(r"^https?://[^\s/]+", value):
            return self._fail(f"{name} must be an http(s) URL (got {value!r})")
        return value

    def optional_url(self, name: str, default: str | None) -> str | None:
        value = self._get(name) or default
        return self.url(name, value) if value else None

    def prefix(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if not value.endswith("/") or value.startswith("/"):
            return self._fail(f"{name} must be a key prefix ending in '/' (got {value!r})")
        return value

    def s3_url(self, name: str) -> str:
        value = self.text(name, "")
        if value and not re.match(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", value):
            return self._fail(f"{name} must be an s3://bucket/prefix/ URL (got {value!r})")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self._get(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        self._fail(f"{name} must be true or false (got {raw!r})")
        return default

    def integer(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        raw = self._get(name)
        try:
            value = int(raw) if raw is not None else default
        except ValueError:
            self._fail(f"{name} must be a whole number (got {raw!r})")
            return default
        if value < minimum:
            self._fail(f"{name} must be at least {minimum} (got {value})")
        if maximum is not None and value > maximum:
            self._fail(f"{name} must be at most {maximum} (got {value})")
        return value

    def number(self, name: str, default: float) -> float:
        raw = self._get(name)
        try:
            value = float(raw) if raw is not None else default
        except ValueError:
            self._fail(f"{name} must be a number (got {raw!r})")
            return default
        if value <= 0:
            self._fail(f"{name} must be positive (got {value})")
        return value

    def names(self, name: str, default: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.text(name, default).split(",") if part.strip())

    def origins(self, name: str, default: str | None) -> tuple[str, ...]:
        values = self.names(name, default or "")
        for origin in values:
            if not re.match(r"^https?://[^/\s]+$", origin):
                self._fail(f"{name} must list origins like https://example.com (got {origin!r})")
        return values

    def database_url(self, name: str, default: str) -> str:
        """Accept Heroku's `postgres://` spelling and pick the psycopg 3 driver for PostgreSQL."""
        url = self.text(name, default)
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        if not url.startswith(("sqlite:///", "postgresql+psycopg://")):
            return self._fail(f"{name} must be a postgres://, postgresql:// or sqlite:/// URL")
        return url
