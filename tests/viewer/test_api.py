"""GET /api/files/<id> with a Genesys bearer token: the viewer's checks, JSON answers, fresh URLs."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from ferry.models import AccessAudit, AttachmentStatus, AuditOutcome
from ferry.services import Services
from tests.viewer.conftest import running_app
from tests.viewer.seeding import add_attachment
from tests.viewer.world import PROGRAM_CLIENT_ID, World


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def last_audit(services: Services) -> AccessAudit:
    with services.db.session() as session:
        row = session.scalars(select(AccessAudit).order_by(AccessAudit.id.desc())).first()
    assert row is not None
    return row


def test_without_a_token_the_answer_is_401_json(client: FlaskClient, services: Services) -> None:
    attachment = add_attachment(services)

    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        answer = client.get(f"/api/files/{attachment.id}", headers=headers)
        assert answer.status_code == 401
        assert answer.json == {"error": "unauthorized"}
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="ferry"'


def test_a_reviewer_gets_metadata_and_a_fresh_url(
    client: FlaskClient, services: Services, world: World
) -> None:
    attachment = add_attachment(services, filename="x-ray.png", declared_type="image/png", content=b"p" * 10)

    answer = client.get(
        f"/api/files/{attachment.id}?disposition=inline", headers=bearer(world.token("reviewer"))
    )

    assert answer.status_code == 200
    body = answer.json
    assert body is not None
    assert {
        k: body[k] for k in ("id", "filename", "contentType", "size", "sha256", "status", "disposition")
    } == {
        "id": attachment.id,
        "filename": "x-ray.png",
        "contentType": "image/png",
        "size": 10,
        "sha256": attachment.sha256,
        "status": "clean",
        "disposition": "inline",
    }
    query = parse_qs(urlsplit(body["url"]).query)
    assert query["X-Amz-Expires"] == ["300"]
    assert query["response-content-disposition"][0].startswith("inline;")
    assert body["urlExpiresAt"].endswith("Z")
    assert (last_audit(services).action, last_audit(services).outcome) == ("api", AuditOutcome.ALLOWED)


def test_an_agent_gets_their_conversation_s_files_and_a_404_for_others(
    client: FlaskClient, services: Services, world: World
) -> None:
    mine = add_attachment(services, conversation_id=world.conversation("c-1", "agent"))
    theirs = add_attachment(services, conversation_id=world.conversation("c-2", "agent2"))
    token = world.token("agent")

    assert client.get(f"/api/files/{mine.id}", headers=bearer(token)).status_code == 200
    forbidden = client.get(f"/api/files/{theirs.id}", headers=bearer(token))
    missing = client.get("/api/files/00000000-0000-4000-8000-000000000000", headers=bearer(token))
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.json == missing.json == {"error": "not_found"}
    assert last_audit(services).reason == "not_found"


@pytest.mark.parametrize(
    ("user", "reason"),
    [("inactive", "user_inactive"), ("foreign", "foreign_organization"), ("norole", "no_role")],
)
def test_refused_users_get_403(
    user: str, reason: str, client: FlaskClient, services: Services, world: World
) -> None:
    attachment = add_attachment(services)

    answer = client.get(f"/api/files/{attachment.id}", headers=bearer(world.token(user)))

    assert answer.status_code == 403 and answer.json == {"error": "forbidden"}
    row = last_audit(services)
    assert (row.outcome, row.reason, row.user_id) == (AuditOutcome.DENIED, reason, world.users[user])


def test_garbage_and_client_credentials_tokens_are_refused(
    client: FlaskClient, services: Services, world: World
) -> None:
    attachment = add_attachment(services)

    for token in ("garbage", world.service_token()):
        answer = client.get(f"/api/files/{attachment.id}", headers=bearer(token))
        assert answer.status_code == 403
        assert last_audit(services).reason == "token_rejected"


def test_tokens_of_other_oauth_clients_are_refused_unless_configured(
    client: FlaskClient, services: Services, world: World
) -> None:
    token = world.token("reviewer", client_id=PROGRAM_CLIENT_ID)
    attachment = add_attachment(services)
    assert client.get(f"/api/files/{attachment.id}", headers=bearer(token)).status_code == 403
    assert last_audit(services).reason == "foreign_client"

    with running_app(
        dataclasses.replace(services.settings, api_oauth_client_ids=(PROGRAM_CLIENT_ID,))
    ) as app:
        answer = app.test_client().get(f"/api/files/{attachment.id}", headers=bearer(token))

    assert answer.status_code == 200


def test_a_file_that_is_not_clean_gets_its_status_and_no_url(
    client: FlaskClient, services: Services, world: World
) -> None:
    pending = add_attachment(services, status=AttachmentStatus.SCANNING)
    infected = add_attachment(services, status=AttachmentStatus.INFECTED)
    token = world.token("reviewer")

    first = client.get(f"/api/files/{pending.id}", headers=bearer(token))
    second = client.get(f"/api/files/{infected.id}", headers=bearer(token))

    assert first.status_code == second.status_code == 409
    assert first.json is not None and second.json is not None
    assert (first.json["error"], first.json["status"]) == ("pending", "scanning")
    assert (second.json["error"], second.json["status"]) == ("not_available", "infected")
    assert "url" not in first.json and "url" not in second.json


def test_a_checked_token_is_remembered_briefly(client: FlaskClient, services: Services, world: World) -> None:
    attachment = add_attachment(services)
    token = world.token("reviewer")
    world.clear_requests()

    for _ in range(5):
        assert client.get(f"/api/files/{attachment.id}", headers=bearer(token)).status_code == 200

    assert [r["path"] for r in world.requests()] == ["/api/v2/users/me", "/api/v2/tokens/me"]
