"""Operator commands: `flask genesys create-integration` and `flask genesys doctor` (genesys/setup.py)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ferry.services import get_services
from genesys.errors import GenesysError
from genesys.setup import SetupError, WeakSecret, create_integration, run_checks, webhook_url_for

genesys_cli = AppGroup("genesys", help="Genesys Cloud set-up and checks.")


@genesys_cli.command("create-integration")
@click.option("--name", default="Ferry", show_default=True, help="Name of the integration in Genesys Cloud.")
@click.option(
    "--webhook-url", default=None, help="Outbound webhook [default: {PUBLIC_BASE_URL}/genesys/webhook]."
)
@click.option("--secret", default=None, help="Webhook signature secret [default: GENESYS_WEBHOOK_SECRET].")
@click.option(
    "--wait", default=120.0, show_default=True, help="Seconds to wait for Genesys to finish creating it."
)
@click.option("--poll-interval", default=2.0, show_default=True, help="Seconds between status checks.")
def create_integration_command(
    name: str, webhook_url: str | None, secret: str | None, wait: float, poll_interval: float
) -> None:
    """Create the Open Messaging integration whose webhook is Ferry, and print its id."""
    services = get_services()
    settings = services.settings
    try:
        integration = create_integration(
            services.genesys,
            name=name,
            webhook_url=webhook_url or webhook_url_for(settings.public_base_url),
            secret=secret if secret is not None else settings.genesys_webhook_secret,
            wait=wait,
            poll_interval=poll_interval,
            progress=click.echo,
        )
    except WeakSecret as exc:
        raise click.UsageError(str(exc)) from None
    except SetupError as exc:
        raise click.ClickException(str(exc)) from None
    except GenesysError as exc:
        raise click.ClickException(f"Genesys refused: {exc}") from None
    click.echo(f"integration {integration.id} is ready. Put this in the environment:")
    click.echo(f"GENESYS_INTEGRATION_ID={integration.id}")


@genesys_cli.command("doctor")
def doctor() -> None:
    """Check the Genesys set-up: credentials, organization, integration and its webhook."""
    services = get_services()
    checks = run_checks(
        services.genesys,
        public_base_url=services.settings.public_base_url,
        org_id=services.settings.genesys_org_id,
        integration_id=services.settings.genesys_integration_id,
    )
    for check in checks:
        click.echo(f"{check.outcome:<4} {check.name}: {check.detail}")
    if any(check.outcome == "FAIL" for check in checks):
        raise click.exceptions.Exit(1)
