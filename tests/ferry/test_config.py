"""Settings come from the environment, with development defaults and strict production checks."""

from __future__ import annotations

import pytest

from ferry.config import ConfigError, Deployable, Settings

PRODUCTION = {
    "FERRY_ENV": "production",
    "SECRET_KEY": "s" * 32,
    "DATABASE_URL": "postgres://u:p@db.example.com:5432/ferry",
    "PUBLIC_BASE_URL": "https://ferry.example.com",
    "S3_BUCKET": "evidence",
    "SQS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/ferry-scan",
    "CLAMD_ADDRESS": "127.0.0.1:3310",
    "GENESYS_REGION": "eu_west_1",
    "GENESYS_ORG_ID": "org-1",
    "GENESYS_CLIENT_ID": "cc-id",
    "GENESYS_CLIENT_SECRET": "cc-secret",
    "GENESYS_OAUTH_CLIENT_ID": "code-id",
    "GENESYS_OAUTH_CLIENT_SECRET": "code-secret",
    "GENESYS_INTEGRATION_ID": "integration-1",
    "GENESYS_WEBHOOK_SECRET": "w" * 20,
    "WIDGET_ORIGINS": "https://www.insurer.example",
}


def test_development_runs_on_embedded_defaults() -> None:
    settings = Settings.from_env({"FERRY_ENV": "development"})
    assert settings.public_base_url == "http://127.0.0.1:8000"
    assert settings.genesys_api_base_url == "http://127.0.0.1:8100"
    assert settings.s3_endpoint_url == "http://127.0.0.1:8200"
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("ferry.sqlite3")
    assert settings.viewer_agent_roles == ("Agent",)
    assert settings.viewer_reviewer_roles == ("Quality Evaluator", "Quality Administrator")


def test_production_is_the_default_mode() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env({})


def test_complete_production_configuration() -> None:
    settings = Settings.from_env(PRODUCTION)
    assert settings.is_production
    assert settings.database_url == "postgresql+psycopg://u:p@db.example.com:5432/ferry"
    assert settings.genesys_api_base_url == "https://api.mypurecloud.ie"
    assert settings.genesys_login_base_url == "https://login.mypurecloud.ie"
    assert settings.genesys_host_origins == ("https://apps.mypurecloud.ie",)
    assert settings.s3_endpoint_url is None


@pytest.mark.parametrize(
    "missing",
    [
        "SECRET_KEY",
        "GENESYS_CLIENT_SECRET",
        "GENESYS_OAUTH_CLIENT_SECRET",
        "GENESYS_WEBHOOK_SECRET",
        "S3_BUCKET",
        "GENESYS_ORG_ID",
    ],
)
def test_production_names_the_missing_variable(missing: str) -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        Settings.from_env(environ)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FERRY_ENV", "staging", "FERRY_ENV must be one of"),
        ("GENESYS_REGION", "mars_1", "GENESYS_REGION 'mars_1' is not a known"),
        ("PUBLIC_BASE_URL", "ferry.example.com", "PUBLIC_BASE_URL must be an http"),
        ("UPLOAD_MAX_BYTES", "lots", "UPLOAD_MAX_BYTES must be a whole number"),
        ("GENESYS_WEBHOOK_SECRET", "short", "at least 16 characters"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL must be"),
        ("WIDGET_ORIGINS", "https://a.example/path", "WIDGET_ORIGINS must list origins"),
        ("S3_INCOMING_PREFIX", "incoming", "S3_INCOMING_PREFIX must be a key prefix"),
        ("OUTBOX_KEEP_DAYS", "0", "OUTBOX_KEEP_DAYS must be at least 1"),
        ("OUTBOX_KEEP_DAYS", "-3", "OUTBOX_KEEP_DAYS must be at least 1"),
    ],
)
def test_invalid_values_are_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**PRODUCTION, name: value})


def test_explicit_base_urls_instead_of_a_region() -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != "GENESYS_REGION"}
    with pytest.raises(ConfigError, match="GENESYS_REGION"):
        Settings.from_env(environ)
    settings = Settings.from_env(
        {
            **environ,
            "GENESYS_API_BASE_URL": "https://api.example",
            "GENESYS_LOGIN_BASE_URL": "https://login.example",
        }
    )
    assert settings.genesys_login_base_url == "https://login.example"


def test_heroku_postgres_spelling_is_accepted() -> None:
    settings = Settings.from_env({"FERRY_ENV": "development", "DATABASE_URL": "postgres://a:b@h/d"})
    assert settings.database_url == "postgresql+psycopg://a:b@h/d"


def test_role_lists_are_parsed() -> None:
    settings = Settings.from_env({"FERRY_ENV": "development", "VIEWER_AGENT_ROLES": " Agent , Supervisor ,"})
    assert settings.viewer_agent_roles == ("Agent", "Supervisor")


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.from_env({"FERRY_ENV": "development"}, not_a_setting=1)


# -- per entry point --------------------------------------------------------------------------------


def _missing(environ: dict[str, str], deployable: Deployable) -> set[str]:
    """The variables the one ConfigError names."""
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(environ, deployable=deployable)
    message = str(refused.value).removeprefix("invalid configuration: ")
    return {problem.split()[0] for problem in message.split("; ")}


def test_the_authorizer_requires_only_its_own_variables_and_names_them_all() -> None:
    assert _missing({"FERRY_ENV": "production"}, Deployable.AUTHORIZER) == {
        "GENESYS_REGION",
        "GENESYS_ORG_ID",
        "GENESYS_OAUTH_CLIENT_ID",
    }


def test_the_authorizer_neither_reads_nor_needs_the_apps_secrets() -> None:
    own = {
        "FERRY_ENV": "production",
        "GENESYS_REGION": "eu_west_1",
        "GENESYS_ORG_ID": "org-1",
        "GENESYS_OAUTH_CLIENT_ID": "code-id",
        "VIEWER_AGENT_ROLES": "Agent,Supervisor",
    }
    # Values the web app would refuse are not even looked at.
    settings = Settings.from_env(
        {**own, "SECRET_KEY": "short", "DATABASE_URL": "mysql://x/y"}, deployable=Deployable.AUTHORIZER
    )
    assert (settings.genesys_api_base_url, settings.genesys_org_id) == ("https://api.mypurecloud.ie", "org-1")
    assert settings.viewer_agent_roles == ("Agent", "Supervisor")
    assert (settings.secret_key, settings.genesys_client_secret, settings.s3_bucket) == ("", "", "")


def test_the_scanner_requires_its_storage_and_clamd_but_no_genesys_setting() -> None:
    assert _missing({"FERRY_ENV": "production"}, Deployable.SCANNER) == {
        "PUBLIC_BASE_URL",
        "S3_BUCKET",
        "SQS_QUEUE_URL",
    }
    own = {
        k: v
        for k, v in PRODUCTION.items()
        if k
        in {"FERRY_ENV", "DATABASE_URL", "PUBLIC_BASE_URL", "S3_BUCKET", "SQS_QUEUE_URL", "CLAMD_ADDRESS"}
    }
    settings = Settings.from_env(own, deployable=Deployable.SCANNER)
    assert (settings.s3_bucket, settings.clamd_address) == ("evidence", "127.0.0.1:3310")
    assert (settings.secret_key, settings.genesys_org_id, settings.genesys_api_base_url) == ("", "", "")


def test_the_worker_does_without_the_web_apps_secrets() -> None:
    web_only = {"SECRET_KEY", "GENESYS_OAUTH_CLIENT_SECRET", "GENESYS_WEBHOOK_SECRET"}
    environ = {k: v for k, v in PRODUCTION.items() if k not in web_only}
    settings = Settings.from_env(environ, deployable=Deployable.WORKER)
    assert (settings.genesys_client_secret, settings.secret_key) == ("cc-secret", "")
    assert _missing(environ, Deployable.WEB) == web_only
