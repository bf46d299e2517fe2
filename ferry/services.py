"""The external systems one Ferry process talks to, built once from settings and shared.

Flask code reaches them through `get_services()`; the scan worker and the Lambda handlers build
their own `Services` from the same settings, so every entry point runs the same core code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from flask import current_app

from ferry.antivirus import ClamdClient
from ferry.chatwake import ChatWake
from ferry.config import Settings
from ferry.db import Database
from ferry.queues import SqsQueue
from ferry.storage import S3Storage

if TYPE_CHECKING:
    from genesys.client import GenesysClient

EXTENSION_KEY = "ferry"


@dataclass
class Services:
    """Lazily built clients for the database, S3, SQS, ClamAV and Genesys."""

    settings: Settings
    _overrides: dict[str, object] = field(default_factory=dict, repr=False)

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    @cached_property
    def chat_wake(self) -> ChatWake:
        """This process's event-stream wake-ups (built lazily, so after gunicorn forks)."""
        return ChatWake(
            self.db,
            safety_poll_seconds=self.settings.chat_safety_poll_seconds,
            sqlite_poll_seconds=self.settings.chat_stream_poll_seconds,
            max_streams=self.settings.chat_max_streams,
        )

    @cached_property
    def storage(self) -> S3Storage:
        return S3Storage(
            bucket=self.settings.s3_bucket,
            region=self.settings.aws_region,
            endpoint_url=self.settings.s3_endpoint_url,
        )

    @cached_property
    def queue(self) -> SqsQueue:
        return SqsQueue(
            url=self.settings.sqs_queue_url,
            region=self.settings.aws_region,
            endpoint_url=self.settings.sqs_endpoint_url,
        )

    @cached_property
    def clamd(self) -> ClamdClient:
        return ClamdClient(self.settings.clamd_address, timeout=self.settings.clamd_timeout_seconds)

    @cached_property
    def genesys(self) -> GenesysClient:
        from genesys.client import GenesysClient

        return GenesysClient(
            api_base_url=self.settings.genesys_api_base_url,
            login_base_url=self.settings.genesys_login_base_url,
            client_id=self.settings.genesys_client_id,
            client_secret=self.settings.genesys_client_secret,
            timeout=self.settings.genesys_timeout_seconds,
        )

    @cached_property
    def genesys_probe(self) -> GenesysClient:
        """A client that tries once, quickly: `/readyz` must answer within seconds, not retry for them."""
        from genesys.client import GenesysClient

        return GenesysClient(
            api_base_url=self.settings.genesys_api_base_url,
            login_base_url=self.settings.genesys_login_base_url,
            client_id=self.settings.genesys_client_id,
            client_secret=self.settings.genesys_client_secret,
            timeout=min(3.0, self.settings.genesys_timeout_seconds),
            max_attempts=1,
        )

    def close(self) -> None:
        """Release pooled connections (database, Genesys HTTP session)."""
        if "chat_wake" in self.__dict__:
            self.chat_wake.stop()
        if "db" in self.__dict__:
            self.db.dispose()
        for name in ("genesys", "genesys_probe"):
            if name in self.__dict__:
                self.__dict__[name].close()


def get_services() -> Services:
    """The services of the current Flask app."""
    services: Services = current_app.extensions[EXTENSION_KEY]
    return services
