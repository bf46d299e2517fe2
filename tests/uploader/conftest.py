"""Fixtures for the chat widget's tests: API clients with the CSRF header, a live stack, headless Chromium."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ferry import create_app
from ferry.config import Settings
from ferry.services import Services
from tests.uploader.live import LiveStack, live_stack

CSRF = {"X-Ferry-Chat": "1"}


@pytest.fixture
def make_app(settings: Settings) -> Iterator[Callable[..., Flask]]:
    """Build Ferry with some settings changed (rate limits, lifetimes); closed after the test."""
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        app = create_app(dataclasses.replace(settings, **overrides))
        apps.append(app)
        return app

    yield build
    for app in apps:
        services: Services = app.extensions["ferry"]
        services.close()


@pytest.fixture
def chat_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def api(chat_app: Flask) -> FlaskClient:
    """A test client of the chat API (cookies kept, like a browser)."""
    return chat_app.test_client()


def start_chat(client: FlaskClient, **details: Any) -> dict[str, Any]:
    answer = client.post("/chat/api/chats", json=details, headers=CSRF)
    assert answer.status_code == 201, answer.json
    result: dict[str, Any] = answer.json or {}
    return result


@pytest.fixture
def stack(database_url: str, tmp_path: Path, moto_reset: str) -> Iterator[LiveStack]:
    """The stand-in, Ferry over HTTP and the outbox worker."""
    with live_stack(database_url, tmp_path, moto_reset) as live:
        yield live


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context and page; fails the test on any dialog (markup must never run)."""
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs
    yield page
    context.close()
