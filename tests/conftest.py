"""Fixtures shared by the whole suite: settings, a migrated database (SQLite by default, PostgreSQL
when DATABASE_URL says so), AWS (moto in-process or a moto server), the Genesys stand-in and clamd."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from flask import Flask
from flask.testing import FlaskClient
from moto import mock_aws
from sqlalchemy import create_engine, text, update

from devstack.browser import CHROMIUM, CHROMIUM_ARGS
from devstack.clamd import TEST_SIGNATURES, ClamdProcess, ensure_clamd
from devstack.s3 import Credentials, S3Emulator
from ferry import create_app
from ferry.access.audit import CHAIN_ID, GENESIS
from ferry.cli import upgrade_database
from ferry.config import Settings
from ferry.db import Base, Database, table_of
from ferry.models import AuditChain
from ferry.queues import SqsQueue
from ferry.services import Services
from ferry.storage import S3Storage, queue_policy

REGION = "eu-west-1"
BUCKET = "ferry-test"
QUEUE_NAME = "ferry-test-scan"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session", autouse=True)
def _aws_credentials() -> None:
    """Fake credentials so that nothing can ever reach a real AWS account from the tests."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SECURITY_TOKEN="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION=REGION,
    )


# -- database -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _migrated_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per session: a PostgreSQL database from DATABASE_URL, or an SQLite template file."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        url = Settings.from_env({"FERRY_ENV": "test", "DATABASE_URL": url}).database_url
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        upgrade_database(url)
        return url
    template = tmp_path_factory.mktemp("db") / "template.sqlite3"
    upgrade_database(f"sqlite:///{template}")
    return f"sqlite:///{template}"


@pytest.fixture
def database_url(_migrated_database: str, tmp_path: Path) -> str:
    """An empty, migrated database for one test."""
    if _migrated_database.startswith("sqlite:///"):
        copy = tmp_path / "ferry.sqlite3"
        shutil.copyfile(_migrated_database[len("sqlite:///") :], copy)
        return f"sqlite:///{copy}"
    engine = create_engine(_migrated_database)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables if table.name != "audit_chain")
    with engine.begin() as connection:
        # TRUNCATE does not fire the audit log's row triggers, so it can empty that table too; the chain's
        # head goes back to where the migration leaves an empty log.
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        connection.execute(
            update(table_of(AuditChain)).values(seq=0, last_hash=GENESIS).where(AuditChain.id == CHAIN_ID)
        )
    engine.dispose()
    return _migrated_database


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The Database adapter over this test's empty database, disposed (and so checked for leaks) after it."""
    database = Database(database_url)
    yield database
    database.dispose()


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


# -- settings and app -----------------------------------------------------------------------------


def base_environ(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "FERRY_ENV": "test",
        "DATABASE_URL": database_url,
        "FERRY_INSTANCE_PATH": str(tmp_path / "instance"),
        "AWS_REGION": REGION,
        "S3_BUCKET": BUCKET,
        "SQS_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/{QUEUE_NAME}",
        "PUBLIC_BASE_URL": "http://ferry.test",
        "WIDGET_ORIGINS": "http://ferry.test",
    }


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Test settings against moto's in-process AWS (no endpoint URLs)."""
    base = Settings.from_env(base_environ(database_url, tmp_path))
    return dataclasses.replace(base, s3_endpoint_url=None, sqs_endpoint_url=None)


@pytest.fixture
def aws(settings: Settings) -> Iterator[None]:
    """moto's in-process AWS with Ferry's bucket and scan queue ready, as `flask storage init` leaves them."""
    with mock_aws():
        prepare_bucket(settings)
        yield


def moto_environ(endpoint: str) -> dict[str, str]:
    """Settings for S3 and SQS on the moto server at `endpoint` (the development defaults would reach
    whatever listens on `make run`'s port)."""
    return {
        "S3_ENDPOINT_URL": endpoint,
        "SQS_ENDPOINT_URL": endpoint,
        "SQS_QUEUE_URL": f"{endpoint}/123456789012/{QUEUE_NAME}",
    }


def prepare_bucket(settings: Settings) -> None:
    storage = S3Storage(
        bucket=settings.s3_bucket, region=settings.aws_region, endpoint_url=settings.s3_endpoint_url
    )
    queue = SqsQueue(
        url=settings.sqs_queue_url, region=settings.aws_region, endpoint_url=settings.sqs_endpoint_url
    )
    storage.ensure_bucket()
    queue.ensure(visibility_timeout=60)
    queue.ensure(visibility_timeout=60, policy=queue_policy(queue.arn(), storage.bucket))

    storage.configure(
        widget_origins=settings.widget_origins or ("http://ferry.test",),
        queue_arn=queue.arn(),
        incoming_prefix=settings.s3_incoming_prefix,
        abort_after_days=2,
    )


@pytest.fixture
def app(settings: Settings, aws: None) -> Iterator[Flask]:
    application = create_app(settings)
    yield application
    services: Services = application.extensions["ferry"]
    services.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def services(app: Flask) -> Services:
    result: Services = app.extensions["ferry"]
    return result


# -- a moto server (for browsers and separate processes) -------------------------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real HTTP moto server on a free loopback port, checking S3 signatures against the tests' fake
    credentials as S3 would (devstack/s3.py); yields its endpoint URL."""
    server = S3Emulator(Credentials.from_env())
    server.start()
    yield server.endpoint
    server.stop()


@pytest.fixture
def moto_reset(moto_server: str) -> str:
    """Empty the moto server before a test."""
    import requests

    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    return moto_server


def s3_client(endpoint: str | None = None) -> object:
    return boto3.client("s3", region_name=REGION, endpoint_url=endpoint)


# -- a browser -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Chromium (Debian's, which make test's bootstrap installs), shared by the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# -- clamd ------------------------------------------------------------------------------------------


def start_test_clamd(
    tmp_path_factory: pytest.TempPathFactory, name: str, **kwargs: object
) -> Iterator[ClamdProcess]:
    run_dir = tmp_path_factory.mktemp(name)
    # Always Ferry's test signatures, whatever is in /var/lib/clamav: the tests expect their names.
    process = ensure_clamd(run_dir, database_dir=TEST_SIGNATURES, tcp_port=free_port(), **kwargs)  # type: ignore[arg-type]
    yield process
    process.stop()


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamdProcess]:
    """A clamd on the project's configuration, unix socket and TCP."""
    yield from start_test_clamd(tmp_path_factory, "clamd")
