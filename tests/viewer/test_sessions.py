"""The viewer's session reads: a click on an attachment reads the session, the attachment and only the
session user's grant in one select, with the same answers as reading them apart."""

from __future__ import annotations

from ferry.access.grants import load_attachment
from ferry.access.identity import Access, Identity
from ferry.config import DEV_ORG_ID
from ferry.db import utcnow
from ferry.models import ConversationGrant
from ferry.services import Services
from tests.viewer.seeding import add_attachment
from viewer import sessions, tokens


def agent(user_id: str) -> Identity:
    return Identity(user_id, user_id.title(), None, DEV_ORG_ID, ("Agent",), frozenset({Access.AGENT}))


def grant(services: Services, user_id: str, conversation_id: str, *, allowed: bool) -> None:
    with services.db.session() as session:
        session.add(
            ConversationGrant(
                user_id=user_id, conversation_id=conversation_id, allowed=allowed, checked_at=utcnow()
            )
        )


def test_the_attachment_comes_with_the_session_and_only_its_users_grant(services: Services) -> None:
    attachment = add_attachment(services, conversation_id="conv-1", store=False)
    grant(services, "alice", "conv-1", allowed=True)
    grant(services, "bob", "conv-1", allowed=False)
    cookie = sessions.start(services.db, agent("bob"), "token-b", 3600, services.settings)

    found = sessions.find_with_attachment(services.db, cookie, attachment.id)

    assert found is not None
    row, loaded = found
    assert row.user_id == "bob" and row.access_token != "token-b"  # kept sealed, even once read
    assert tokens.unseal(services.settings.secret_key, row.access_token) == "token-b"
    assert loaded is not None
    read, bobs_grant = loaded
    assert (read.id, read.object_key, read.filename) == (attachment.id, attachment.object_key, "clip.mp4")
    assert read.status == attachment.status and read.conversation_id == "conv-1"
    assert bobs_grant is not None and bobs_grant.user_id == "bob" and bobs_grant.allowed is False
    # The same answer the API's separate read gives.
    alone = load_attachment(services.db, attachment.id, "bob")
    assert alone is not None and alone[1] is not None and alone[1].allowed is False


def test_no_grant_no_attachment_and_no_live_session(services: Services) -> None:
    attachment = add_attachment(services, conversation_id="conv-2", store=False)
    grant(services, "alice", "conv-2", allowed=True)
    cookie = sessions.start(services.db, agent("carol"), "token-c", 3600, services.settings)

    found = sessions.find_with_attachment(services.db, cookie, attachment.id)
    assert found is not None and found[1] is not None and found[1][1] is None  # alice's grant is not carol's

    missing = sessions.find_with_attachment(services.db, cookie, "00000000-0000-4000-8000-000000000000")
    assert missing is not None and missing[1] is None

    assert sessions.find_with_attachment(services.db, "not-a-session", attachment.id) is None
    row = sessions.find(services.db, cookie, services.settings)
    assert row is not None
    sessions.end(services.db, row.id)
    assert sessions.find_with_attachment(services.db, cookie, attachment.id) is None
