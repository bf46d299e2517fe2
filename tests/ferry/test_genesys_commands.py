"""`flask genesys create-integration` and `flask genesys doctor` against the scripted server."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import Result
from flask import Flask

from ferry.config import Settings
from ferry.genesys_commands import genesys_cli
from ferry.services import EXTENSION_KEY
from genesys.client import GenesysClient
from genesys.setup import PRODUCT_ROUTES
from tests.genesys.conftest import Reply, ScriptedGenesys, error_body

INTEGRATIONS_PATH = "/api/v2/conversations/messaging/integrations/open"
WEBHOOK_SECRET = "a-webhook-secret-0123456789"


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "public_base_url": "https://ferry.example",
        "genesys_webhook_secret": WEBHOOK_SECRET,
        "genesys_integration_id": "int-1",
        "genesys_org_id": "org-1",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def run(genesys_client: GenesysClient) -> Any:
    """Invoke a `flask genesys` command in an app whose services are the test client and `settings`."""

    def invoke(*args: str, **setting_overrides: Any) -> Result:
        app = Flask(__name__)
        # The shape of ferry.services.Services that the commands use: `.genesys` and `.settings`.
        app.extensions[EXTENSION_KEY] = SimpleNamespace(
            genesys=genesys_client, settings=settings(**setting_overrides)
        )
        return app.test_cli_runner().invoke(genesys_cli, list(args))

    return invoke


def integration(status: str = "Completed", **extra: Any) -> dict[str, Any]:
    return {
        "id": "int-1",
        "name": "Ferry",
        "outboundNotificationWebhookUrl": "https://ferry.example/genesys/webhook",
        "createStatus": status,
        **extra,
    }


# -- create-integration ---------------------------------------------------------------------------


def test_create_integration_waits_for_completion_and_prints_the_setting(
    scripted: ScriptedGenesys, run: Any
) -> None:
    scripted.reply("POST", INTEGRATIONS_PATH, Reply(202, integration("Initiated")))
    scripted.reply(
        "GET",
        f"{INTEGRATIONS_PATH}/int-1",
        Reply(200, integration("Initiated")),
        Reply(200, integration("Completed")),
    )
    result = run("create-integration", "--poll-interval", "0.01")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "GENESYS_INTEGRATION_ID=int-1"
    assert scripted.seen("POST", INTEGRATIONS_PATH)[0].json() == {
        "name": "Ferry",
        "outboundNotificationWebhookUrl": "https://ferry.example/genesys/webhook",
        "outboundNotificationWebhookSignatureSecretToken": WEBHOOK_SECRET,
    }
    assert len(scripted.seen("GET", f"{INTEGRATIONS_PATH}/int-1")) == 2
    assert WEBHOOK_SECRET not in result.output


def test_create_integration_takes_name_url_and_secret_options(scripted: ScriptedGenesys, run: Any) -> None:
    scripted.reply("POST", INTEGRATIONS_PATH, Reply(200, integration("Completed")))
    result = run(
        "create-integration",
        "--name",
        "Ferry staging",
        "--webhook-url",
        "https://staging.ferry.example/genesys/webhook",
        "--secret",
        "another-secret-of-16+",
    )
    assert result.exit_code == 0, result.output
    assert scripted.seen("POST", INTEGRATIONS_PATH)[0].json() == {
        "name": "Ferry staging",
        "outboundNotificationWebhookUrl": "https://staging.ferry.example/genesys/webhook",
        "outboundNotificationWebhookSignatureSecretToken": "another-secret-of-16+",
    }


def test_create_integration_refuses_a_short_secret_before_calling_genesys(
    scripted: ScriptedGenesys, run: Any
) -> None:
    result = run("create-integration", "--secret", "too-short")
    assert result.exit_code == 2
    assert "at least 16 characters" in result.output
    assert scripted.seen() == []


def test_create_integration_reports_a_creation_error(scripted: ScriptedGenesys, run: Any) -> None:
    scripted.reply("POST", INTEGRATIONS_PATH, Reply(202, integration("Initiated")))
    failed = integration(
        "Error", createError={"message": "Webhook URL is not reachable", "code": "invalid.value"}
    )
    scripted.reply("GET", f"{INTEGRATIONS_PATH}/int-1", Reply(200, failed))
    result = run("create-integration", "--poll-interval", "0.01")
    assert result.exit_code == 1
    assert "Webhook URL is not reachable (invalid.value)" in result.output
    assert "GENESYS_INTEGRATION_ID=" not in result.output


def test_create_integration_gives_up_after_the_deadline(scripted: ScriptedGenesys, run: Any) -> None:
    scripted.reply("POST", INTEGRATIONS_PATH, Reply(202, integration("Initiated")))
    scripted.always("GET", f"{INTEGRATIONS_PATH}/int-1", Reply(200, integration("Initiated")))
    result = run("create-integration", "--wait", "0.05", "--poll-interval", "0.01")
    assert result.exit_code == 1
    assert "still Initiated" in result.output and "flask genesys doctor" in result.output


def test_create_integration_reports_a_refusal(scripted: ScriptedGenesys, run: Any) -> None:
    scripted.reply(
        "POST",
        INTEGRATIONS_PATH,
        Reply(403, error_body(403, "missing.permissions", "Missing messaging:integration:add")),
    )
    result = run("create-integration")
    assert result.exit_code == 1
    assert "Missing messaging:integration:add" in result.output


# -- doctor ---------------------------------------------------------------------------------------


def healthy(scripted: ScriptedGenesys) -> None:
    scripted.always("GET", "/api/v2/organizations/me", Reply(200, {"id": "org-1", "name": "Insurer"}))
    scripted.always("GET", f"{INTEGRATIONS_PATH}/int-1", Reply(200, integration()))


def lines(result: Result) -> dict[str, str]:
    """Check name → outcome, from lines like `OK   organization: ...`."""
    out = {}
    for line in result.output.strip().splitlines():
        outcome, rest = line.split(maxsplit=1)
        out[rest.split(":", 1)[0]] = outcome
    return out


def test_doctor_passes_a_good_set_up(scripted: ScriptedGenesys, run: Any) -> None:
    healthy(scripted)
    result = run("doctor")
    assert result.exit_code == 0, result.output
    assert lines(result) == {
        "credentials": "OK",
        "organization": "OK",
        "integration": "OK",
        "integration status": "OK",
        "webhook URL": "OK",
        **{f"access to {route.name}": "OK" for route in PRODUCT_ROUTES},
    }


def test_doctor_names_the_permission_a_route_lacks(scripted: ScriptedGenesys, run: Any) -> None:
    healthy(scripted)
    refused = Reply(403, error_body(403, "missing.any.permissions", "no"))
    scripted.always("POST", "/api/v2/conversations/messages/int-1/inbound/open/message", refused)
    result = run("doctor")
    assert result.exit_code == 1
    failing = [name for name, outcome in lines(result).items() if outcome == "FAIL"]
    assert failing == ["access to inbound messages"]
    assert "lacks conversation:message:receive" in result.output


def test_doctor_fails_on_another_organization(scripted: ScriptedGenesys, run: Any) -> None:
    healthy(scripted)
    result = run("doctor", genesys_org_id="org-2")
    assert result.exit_code == 1
    assert lines(result)["organization"] == "FAIL"
    assert "GENESYS_ORG_ID is org-2" in result.output


def test_doctor_says_when_the_organization_cannot_be_discovered(scripted: ScriptedGenesys, run: Any) -> None:
    healthy(scripted)
    scripted.always("GET", "/api/v2/organizations/me", Reply(403, error_body(403, "not.authorized", "no")))
    result = run("doctor")
    assert result.exit_code == 0, result.output
    assert lines(result)["organization"] == "SKIP"
    assert "not discoverable" in result.output


@pytest.mark.parametrize(
    ("script", "settings_overrides", "failing", "says"),
    [
        (lambda s: None, {"genesys_integration_id": ""}, "integration", "GENESYS_INTEGRATION_ID is not set"),
        (
            lambda s: s.always(
                "GET", f"{INTEGRATIONS_PATH}/int-1", Reply(404, error_body(404, "not.found", "no"))
            ),
            {},
            "integration",
            "does not exist",
        ),
        (
            lambda s: s.always("GET", f"{INTEGRATIONS_PATH}/int-1", Reply(200, integration("Initiated"))),
            {},
            "integration status",
            "createStatus is Initiated",
        ),
        (lambda s: None, {"public_base_url": "https://new.ferry.example"}, "webhook URL", "Ferry listens at"),
    ],
    ids=["no-integration-id", "integration-missing", "not-completed", "webhook-elsewhere"],
)
def test_doctor_fails_on_integration_problems(
    scripted: ScriptedGenesys,
    run: Any,
    script: Any,
    settings_overrides: dict[str, Any],
    failing: str,
    says: str,
) -> None:
    healthy(scripted)
    script(scripted)
    result = run("doctor", **settings_overrides)
    assert result.exit_code == 1
    assert lines(result)[failing] == "FAIL"
    assert says in result.output
    assert [name for name, outcome in lines(result).items() if outcome == "FAIL"] == [failing]


def test_doctor_with_bad_credentials_fails_and_skips_the_rest(
    scripted: ScriptedGenesys, make_genesys_client: Any
) -> None:
    client = make_genesys_client(client_secret="wrong-secret")
    app = Flask(__name__)
    app.extensions[EXTENSION_KEY] = SimpleNamespace(genesys=client, settings=settings())
    result = app.test_cli_runner().invoke(genesys_cli, ["doctor"])
    assert result.exit_code == 1
    assert lines(result) == {"credentials": "FAIL", "organization": "SKIP", "integration": "SKIP"}
    assert "wrong-secret" not in result.output
