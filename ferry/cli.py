"""Operator commands: `flask db ...` (schema migrations), `flask storage ...` (bucket set-up) and
`flask audit ...` (the access audit's hash chain)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask.cli import AppGroup

from ferry.access import audit
from ferry.services import get_services
from ferry.storage import queue_policy

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SCAN_VISIBILITY_TIMEOUT = 900

db_cli = AppGroup("db", help="Database schema migrations (Alembic).")
storage_cli = AppGroup("storage", help="S3 bucket and scan queue set-up.")
audit_cli = AppGroup("audit", help="The access audit log.")


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for Ferry's migrations against `database_url` (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` (the Procfile's release phase runs this)."""
    command.upgrade(alembic_config(database_url), revision)


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    upgrade_database(get_services().settings.database_url, revision)
    click.echo(f"database at {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    command.downgrade(alembic_config(get_services().settings.database_url), revision)


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    command.revision(alembic_config(get_services().settings.database_url), message=message, autogenerate=True)


@storage_cli.command("init")
@click.option(
    "--create/--no-create",
    default=None,
    help="Create the bucket and queue if missing (default: only against a local emulator).",
)
@click.option(
    "--abort-after-days",
    default=2,
    show_default=True,
    help="Abort multipart uploads left unfinished this long.",
)
def storage_init(create: bool | None, abort_after_days: int) -> None:
    """Make the bucket ready: widget CORS, S3→SQS events for new uploads, abandoned-upload clean-up."""
    services = get_services()
    settings = services.settings
    if create is None:
        create = bool(settings.s3_endpoint_url)
    storage, queue = services.storage, services.queue
    if create:
        storage.ensure_bucket()
        queue.ensure(visibility_timeout=SCAN_VISIBILITY_TIMEOUT)
    queue_arn = queue.arn()
    if create:
        queue.ensure(
            visibility_timeout=SCAN_VISIBILITY_TIMEOUT, policy=queue_policy(queue_arn, storage.bucket)
        )
    storage.configure(
        widget_origins=settings.widget_origins,
        queue_arn=queue_arn,
        incoming_prefix=settings.s3_incoming_prefix,
        abort_after_days=abort_after_days,
    )
    click.echo(f"bucket {storage.bucket} ready: events for {settings.s3_incoming_prefix} → {queue_arn}")


@storage_cli.command("show")
def storage_show() -> None:
    """Print the bucket's CORS, notification and lifecycle configuration."""
    click.echo(json.dumps(get_services().storage.describe_configuration(), indent=2, default=str))


@audit_cli.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain: exit 1 naming the first row changed, removed or inserted out of
    order, else say it is intact and how many rows it holds."""
    report = audit.verify(get_services().db)
    if not report.intact:
        click.echo(
            f"audit log NOT intact: {report.problem} ({report.count} rows checked before it)", err=True
        )
        raise SystemExit(1)
    click.echo(f"audit log intact: {report.count} rows, newest hash {report.head_hash}")
