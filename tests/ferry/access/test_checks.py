"""ferry.access: identity checks, the token cache, ids, and the one gate in front of every presigned URL."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ferry.access import serving
from ferry.access.grants import parse_id
from ferry.access.identity import (
    Access,
    Identity,
    IdentityCache,
    access_for_roles,
    check_token,
    check_user,
    token_digest,
)
from ferry.access.refusals import AccessDenied, AccessUnavailable, Reason
from ferry.access.serving import MAX_URL_SECONDS, presigned_url, read_head
from ferry.config import DEV_OAUTH_CLIENT_ID, DEV_ORG_ID, Settings
from ferry.models import AttachmentStatus
from ferry.services import Services
from genesys.models import TokenInfo, UserMe
from tests.viewer.seeding import add_attachment

OTHER_ORG = "f0e16e00-0000-4000-8000-000000000002"


def user_me(**changes: Any) -> UserMe:
    data: dict[str, Any] = {
        "id": "u-1",
        "name": "Alex Agent",
        "email": "agent@example.com",
        "state": "active",
        "organization": {"id": DEV_ORG_ID},
        "authorization": {"roles": [{"id": "r-1", "name": "Agent"}]},
    }
    data.update(changes)
    return UserMe.from_json(data)


def token_info(**changes: Any) -> TokenInfo:
    data: dict[str, Any] = {
        "organization": {"id": DEV_ORG_ID},
        "homeOrganization": {"id": DEV_ORG_ID},
        "OAuthClient": {"id": DEV_OAUTH_CLIENT_ID},
    }
    data.update(changes)
    return TokenInfo.from_json(data)


@pytest.fixture
def cfg() -> Settings:
    return Settings.from_env({"FERRY_ENV": "test"})


def test_an_active_agent_of_our_organisation_is_identified(cfg: Settings) -> None:
    identity = check_user(user_me(), cfg)

    assert identity == Identity(
        user_id="u-1",
        name="Alex Agent",
        email="agent@example.com",
        org_id=DEV_ORG_ID,
        roles=("Agent",),
        access=frozenset({Access.AGENT}),
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"state": "inactive"}, Reason.USER_INACTIVE),
        ({"state": "deleted"}, Reason.USER_INACTIVE),
        ({"state": None}, Reason.USER_INACTIVE),
        ({"organization": {"id": OTHER_ORG}}, Reason.FOREIGN_ORGANIZATION),
        ({"organization": None}, Reason.FOREIGN_ORGANIZATION),
        ({"authorization": {"roles": []}}, Reason.NO_ROLE),
        ({"authorization": None}, Reason.NO_ROLE),
        ({"authorization": {"roles": [{"name": "agent"}, {"name": "Agent "}]}}, Reason.NO_ROLE),
    ],
)
def test_users_are_refused_with_the_reason(changes: dict[str, Any], reason: Reason, cfg: Settings) -> None:
    with pytest.raises(AccessDenied) as refused:
        check_user(user_me(**changes), cfg)

    assert refused.value.reason == reason


def test_roles_map_to_access_by_exact_name(cfg: Settings) -> None:
    roles, access = access_for_roles(["Quality Administrator", "Employee", "Agent"], cfg)

    assert roles == ("Agent", "Quality Administrator")
    assert access == {Access.AGENT, Access.REVIEWER, Access.AUDITOR}
    custom = dataclasses.replace(cfg, viewer_reviewer_roles=("QA",), viewer_auditor_roles=("Compliance",))
    assert access_for_roles(["Quality Administrator"], custom) == ((), frozenset())
    assert access_for_roles(["QA", "Compliance"], custom)[1] == {Access.REVIEWER, Access.AUDITOR}


def test_a_token_of_our_organisation_and_client_passes(cfg: Settings) -> None:
    check_token(token_info(), cfg)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"clonedUser": {"id": "u-9", "organization": {"id": OTHER_ORG}}}, Reason.TRUSTEE_CLONE),
        ({"homeOrganization": {"id": OTHER_ORG}}, Reason.TRUSTEE_CLONE),
        (
            {"organization": {"id": OTHER_ORG}, "homeOrganization": {"id": OTHER_ORG}},
            Reason.FOREIGN_ORGANIZATION,
        ),
        ({"OAuthClient": {"id": "someone-else"}}, Reason.FOREIGN_CLIENT),
        ({"OAuthClient": None}, Reason.FOREIGN_CLIENT),
    ],
)
def test_clones_foreign_tokens_and_other_clients_are_refused(
    changes: dict[str, Any], reason: Reason, cfg: Settings
) -> None:
    with pytest.raises(AccessDenied) as refused:
        check_token(token_info(**changes), cfg)

    assert refused.value.reason == reason


def test_extra_api_clients_can_be_accepted(cfg: Settings) -> None:
    check_token(
        token_info(OAuthClient={"id": "program"}), dataclasses.replace(cfg, api_oauth_client_ids=("program",))
    )


# -- the token cache -------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


IDENTITY = Identity("u-1", "A", None, DEV_ORG_ID, ("Agent",), frozenset({Access.AGENT}))


def test_the_cache_remembers_answers_and_refusals_by_digest_for_ttl_seconds() -> None:
    clock = Clock()
    cache = IdentityCache(60, clock=clock)
    calls: list[str] = []

    def check(token: str) -> Identity:
        calls.append(token)
        if token == "bad":
            raise AccessDenied(Reason.TOKEN_REJECTED)
        return IDENTITY

    for _ in range(3):
        assert cache.identify("good", check) is IDENTITY
        with pytest.raises(AccessDenied):
            cache.identify("bad", check)
    clock.now += 61
    cache.identify("good", check)

    assert calls == ["good", "bad", "good"]
    assert "good" not in repr(cache._entries) and token_digest("good") in cache._entries


def test_the_cache_never_remembers_an_unreachable_genesys() -> None:
    cache = IdentityCache(60)
    calls = 0

    def check(token: str) -> Identity:
        nonlocal calls
        calls += 1
        raise AccessUnavailable(Reason.GENESYS_UNAVAILABLE)

    for _ in range(2):
        with pytest.raises(AccessUnavailable):
            cache.identify("t", check)

    assert calls == 2


def test_the_cache_is_bounded() -> None:
    cache = IdentityCache(60, max_entries=2)
    for token in ("a", "b", "c"):
        cache.identify(token, lambda t: IDENTITY)

    assert set(cache._entries) == {token_digest("b"), token_digest("c")}


# -- ids -----------------------------------------------------------------------------------------------


def test_ids_are_canonical_uuids() -> None:
    assert parse_id("6F1C2A44-3F0E-4B8E-9A55-0D7F5B1C2E3A") == "6f1c2a44-3f0e-4b8e-9a55-0d7f5b1c2e3a"
    for tampered in (
        "6f1c2a443f0e4b8e9a550d7f5b1c2e3a",
        "urn:uuid:6f1c2a44-3f0e-4b8e-9a55-0d7f5b1c2e3a",
        "../x",
        "",
    ):
        with pytest.raises(AccessDenied) as refused:
            parse_id(tampered)
        assert refused.value.reason == Reason.MALFORMED_ID


# -- the gate in front of every URL -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [s for s in AttachmentStatus if s != AttachmentStatus.CLEAN])
def test_no_url_unless_the_database_says_clean(status: AttachmentStatus, services: Services) -> None:
    attachment = add_attachment(services, status=status, tag="clean")

    with pytest.raises(AccessDenied) as refused:
        presigned_url(services.storage, attachment, inline=False, seconds=60)

    assert refused.value.reason == Reason.NOT_CLEAN


@pytest.mark.parametrize("tag", ["pending", "infected", "CLEAN", "", None])
def test_no_url_unless_the_object_is_tagged_clean(tag: str | None, services: Services) -> None:
    attachment = add_attachment(services, tag=tag)

    for attempt in (
        lambda: presigned_url(services.storage, attachment, inline=True, seconds=60),
        lambda: read_head(services.storage, attachment, 16),
    ):
        with pytest.raises(AccessDenied) as refused:
            attempt()
        assert refused.value.reason == Reason.TAG_NOT_CLEAN


def test_a_clean_tag_is_trusted_briefly_and_then_read_again(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(serving, "_confirmed_clean", serving._TagConfirmations(30.0, clock=lambda: now[0]))
    attachment = add_attachment(services)
    assert presigned_url(services.storage, attachment, inline=False, seconds=60)

    services.storage.put_tags(attachment.object_key, {"scan-status": "infected"})
    now[0] += 29  # within the window a clean answer read 29 s ago still stands...
    assert presigned_url(services.storage, attachment, inline=False, seconds=60)

    now[0] += 2  # ...and after it the tag is read again
    with pytest.raises(AccessDenied):
        presigned_url(services.storage, attachment, inline=False, seconds=60)
    # A refusal is never remembered as anything but a refusal.
    with pytest.raises(AccessDenied):
        presigned_url(services.storage, attachment, inline=False, seconds=60)


def test_the_database_status_is_checked_at_every_call(services: Services) -> None:
    attachment = add_attachment(services)
    assert presigned_url(services.storage, attachment, inline=False, seconds=60)

    attachment.status = AttachmentStatus.INFECTED

    with pytest.raises(AccessDenied):
        presigned_url(services.storage, attachment, inline=False, seconds=60)


def test_urls_never_live_longer_than_five_minutes(services: Services) -> None:
    attachment = add_attachment(services)

    url = presigned_url(services.storage, attachment, inline=False, seconds=86_400)

    assert f"X-Amz-Expires={MAX_URL_SECONDS}" in url


def test_an_unreachable_bucket_is_unavailable_not_allowed(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ferry.storage import StorageUnavailable

    attachment = add_attachment(services)

    def down(key: str) -> dict[str, str]:
        raise StorageUnavailable("get_object_tagging: EndpointConnectionError")

    monkeypatch.setattr(services.storage, "get_tags", down)

    with pytest.raises(AccessUnavailable):
        presigned_url(services.storage, attachment, inline=False, seconds=60)
