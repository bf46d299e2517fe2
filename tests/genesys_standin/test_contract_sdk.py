"""Contract of the stand-in with Genesys Cloud as published.

1. The official Python SDK (PureCloudPlatformClientV2) pointed at the stand-in: client-credentials login
   (the SDK derives the login host from the API host; for a host without `api.` it keeps the same host),
   an inbound open message, users/me with a user token, and a Genesys error turned into the SDK's exception.
2. The stand-in's JSON answers and webhook payloads validated against the published swagger definitions
   (tests/genesys/data/openapi-subset.json), with unknown properties refused too.
3. The hand-written request schemas of the stand-in compared with the published definitions.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import datetime
import json
from typing import Any

import jsonschema
import PureCloudPlatformClientV2 as gc
import pytest

from genesys_standin import schemas
from tests.genesys.published import published_definitions
from tests.genesys_standin.conftest import FAST, LocalHttp, Standin, message_body
from tests.serving import wait_for

# -- 1. the official SDK --------------------------------------------------------------------------------


def test_the_official_sdk_works_against_the_standin(standin: Standin, local_http: LocalHttp) -> None:
    client_id, secret = standin.client()
    api = gc.ApiClient(host=standin.url)
    assert api.get_conf_url("login", api.host) == standin.url  # no `api.` in the host: login on the same host
    api.get_client_credentials_token(client_id, secret)
    assert api.access_token

    conversations = gc.ConversationsApi(api)
    request = gc.OpenIntegrationRequest()
    request.name = "SDK"
    request.outbound_notification_webhook_url = f"{local_http.base_url}/hook"
    request.outbound_notification_webhook_signature_secret_token = "0123456789abcdef!"
    integration = conversations.post_conversations_messaging_integrations_open(request)
    assert integration.create_status == "Initiated"

    sender = gc.OpenMessagingFromRecipient()
    sender.id, sender.id_type, sender.nickname = "sdk-customer", "Email", "Sam"
    channel = gc.OpenInboundMessageMessagingChannel()
    channel.pcFrom = sender
    channel.time = datetime.datetime.now(datetime.UTC)
    channel.message_id = "sdk-1"
    body = gc.OpenInboundNormalizedMessage()
    body.channel, body.text = channel, "Hello from the SDK"
    answer = conversations.post_conversations_message_inbound_open_message(
        integration.id, body, prefetch_conversation_id=True
    )
    assert isinstance(answer, gc.OpenMessageNormalizedMessage)
    assert answer.type == "Text"
    assert answer.text == "Hello from the SDK"
    assert answer.channel.platform == "Open"
    assert answer.channel.pcFrom.id == "sdk-customer"
    [conversation] = standin.conversations()
    assert answer.conversation_id == conversation["id"]
    assert conversation["messages"][0]["id"] == answer.id

    with pytest.raises(gc.rest.ApiException) as refused:
        gc.UsersApi(api).get_users_me()
    assert refused.value.status == 400
    assert json.loads(refused.value.body)["code"] == "not.a.user"

    user_id = standin.user(name="Alex Agent", roles=["Agent"])
    user_api = gc.ApiClient(host=standin.url)
    user_api.access_token = standin.user_token(user_id)
    me = gc.UsersApi(user_api).get_users_me(expand=["authorization", "organization"])
    assert isinstance(me, gc.UserMe)
    assert (me.id, me.name, me.state) == (user_id, "Alex Agent", "active")
    assert [role.name for role in me.authorization.roles] == ["Agent"]
    assert me.organization.id == FAST.home_org_id
    info = gc.TokensApi(user_api).get_tokens_me()
    assert info.organization.id == FAST.home_org_id


# -- 2. answers against the published definitions -------------------------------------------------------


@pytest.fixture(scope="module")
def definitions() -> dict[str, Any]:
    return published_definitions()


def closed(definitions: dict[str, Any]) -> dict[str, Any]:
    """The definitions with unknown properties refused wherever a definition lists its properties."""
    strict = copy.deepcopy(definitions)
    for definition in strict.values():
        if "properties" in definition and "additionalProperties" not in definition:
            definition["additionalProperties"] = False
    return strict


def check(definitions: dict[str, Any], name: str, instance: Any, *, extra: tuple[str, ...] = ()) -> None:
    """Validate `instance` against definition `name`; `extra` top-level properties are checked separately."""
    instance = {k: v for k, v in instance.items() if k not in extra}
    schema = {"allOf": [{"$ref": f"#/definitions/{name}"}], "definitions": closed(definitions)}
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, f"{name}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, outbound_typing_events=True)])
def test_answers_and_webhook_payloads_match_the_published_definitions(
    definitions: dict[str, Any], standin: Standin, service_token: str, local_http: LocalHttp
) -> None:
    profile = standin.api(
        "POST",
        "/api/v2/conversations/messaging/supportedcontent",
        service_token,
        json={
            "name": "no pdf",
            "mediaTypes": {"allow": {"inbound": [{"type": "image/*"}], "outbound": [{"type": "image/png"}]}},
        },
    )
    check(definitions, "SupportedContent", profile.json())
    listing = standin.api("GET", "/api/v2/conversations/messaging/supportedcontent", service_token).json()
    check(definitions, "SupportedContentListing", listing)

    created = standin.api(
        "POST",
        "/api/v2/conversations/messaging/integrations/open",
        service_token,
        json={
            "name": "Contract",
            "outboundNotificationWebhookUrl": f"{local_http.base_url}/hook",
            "outboundNotificationWebhookSignatureSecretToken": "0123456789abcdef!",
            "supportedContent": {"id": profile.json()["id"]},
            "messagingSetting": {"id": "settings-1"},
            "webhookHeaders": {"X-Extra": "1"},
        },
    ).json()
    check(definitions, "OpenIntegration", created)
    integration_id = created["id"]
    path = f"/api/v2/conversations/messaging/integrations/open/{integration_id}"
    check(
        definitions,
        "OpenIntegration",
        standin.api("GET", path, service_token, params={"expand": "supportedContent"}).json(),
    )
    integrations = standin.api(
        "GET", "/api/v2/conversations/messaging/integrations/open", service_token
    ).json()
    check(definitions, "OpenIntegrationEntityListing", integrations)

    local_http.files["/a.png"] = ("image/png", b"png")
    body = message_body(
        "with files",
        metadata={"k": "v"},
        content=[
            {
                "attachment": {
                    "mediaType": "Image",
                    "url": f"{local_http.base_url}/a.png",
                    "mime": "image/png",
                    "filename": "a.png",
                    "id": "att-1",
                    "sha256": "00",
                    "text": "caption",
                }
            },
            {
                "attachment": {
                    "mediaType": "File",
                    "url": f"{local_http.base_url}/b.pdf",
                    "mime": "application/pdf",
                }
            },
        ],
    )
    message = standin.inbound(service_token, integration_id, body).json()
    check(definitions, "OpenMessageNormalizedMessage", message)

    base = f"/api/v2/conversations/messages/{integration_id}/inbound/open"
    event = {
        "channel": {"from": {"id": "customer-1", "idType": "Opaque"}, "time": "2026-05-01T13:01:15.000Z"},
        "events": [{"eventType": "Typing"}],
    }
    check(
        definitions,
        "OpenEventNormalizedMessage",
        standin.api("POST", f"{base}/event", service_token, json=event).json(),
    )

    agent_id = standin.user()
    files = [{"filename": "p.png", "mime": "image/png", "data_base64": base64.b64encode(b"png").decode()}]
    conversation_id = message["conversationId"]
    sent = standin.control(
        "POST",
        f"/conversations/{conversation_id}/messages",
        json={"user_id": agent_id, "text": "hi", "attachments": files},
    )
    standin.control("POST", f"/conversations/{conversation_id}/typing", json={"user_id": agent_id})
    receipt = {
        "id": sent.json()["id"],
        "channel": {"to": {"id": "customer-1"}, "time": "2026-05-01T13:02:00.000Z"},
        "status": "Delivered",
        "isFinalReceipt": True,
    }
    check(
        definitions,
        "OpenReceiptNormalizedMessage",
        standin.api("POST", f"{base}/receipt", service_token, json=receipt).json(),
    )

    conversation = standin.api(
        "GET", f"/api/v2/conversations/messages/{conversation_id}", service_token
    ).json()
    check(definitions, "MessageConversation", conversation)
    assert {p["purpose"] for p in conversation["participants"]} == {"customer", "agent"}

    deliveries = wait_for(lambda: (d := standin.deliveries()) and len(d) == 3 and d)
    by_kind = {d["kind"]: d["payload"] for d in deliveries}
    check(definitions, "OpenReceiptNormalizedMessage", by_kind["receipt"])
    assert by_kind["receipt"]["status"] == "Failed"
    # The webhook formats add one property each to the published models (see the reference, 3.2).
    check(definitions, "OpenNormalizedMessage", by_kind["message"], extra=("originatingEntity",))
    originating = definitions["ConversationNormalizedMessage"]["properties"]["originatingEntity"]["enum"]
    assert by_kind["message"]["originatingEntity"] in originating
    check(definitions, "OpenEventNormalizedMessage", by_kind["event"], extra=("direction",))


def test_identity_answers_match_the_published_definitions(
    definitions: dict[str, Any], standin: Standin
) -> None:
    token = standin.user_token(standin.user(roles=["Agent", "Quality Administrator"]))
    expand = "authorization,organization,token,dateLastLogin,presence"
    check(
        definitions, "UserMe", standin.api("GET", "/api/v2/users/me", token, params={"expand": expand}).json()
    )
    check(definitions, "UserMe", standin.api("GET", "/api/v2/users/me", token).json())
    check(definitions, "TokenInfo", standin.api("GET", "/api/v2/tokens/me", token).json())
    check(definitions, "Organization", standin.api("GET", "/api/v2/organizations/me", token).json())


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, rate_limit_per_minute=1)])
def test_errors_are_published_error_bodies(
    definitions: dict[str, Any], standin: Standin, service_token: str
) -> None:
    answers = [
        standin.api("GET", "/api/v2/users/me", None),
        standin.api("GET", "/api/v2/users/me", service_token),
        standin.api("GET", "/api/v2/users/me", service_token),  # over the limit of 1 a minute
        standin.api(
            "POST",
            "/api/v2/conversations/messaging/integrations/open",
            standin.user_token(standin.user()),
            json={"x": 1},
        ),
    ]
    assert [a.status_code for a in answers] == [401, 400, 429, 400]
    for answer in answers:
        check(definitions, "ErrorBody", answer.json())
    assert answers[3].json()["details"]


# -- 3. the hand-written request schemas --------------------------------------------------------------


def published_kind(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return "object"
    if prop.get("type") == "object" and "additionalProperties" in prop:
        return "map"
    return str(prop.get("type"))


def differences(schema: schemas.ObjectSchema, definitions: dict[str, Any], seen: set[str]) -> list[str]:
    """How a hand-written object schema differs from the published definition of the same name."""
    if schema.name in seen:
        return []
    seen.add(schema.name)
    published = definitions[schema.name]
    props: dict[str, Any] = published.get("properties", {})
    problems = []
    if set(props) != set(schema.properties):
        problems.append(f"{schema.name}: properties {sorted(set(props) ^ set(schema.properties))} differ")
    read_only = {name for name, prop in props.items() if prop.get("readOnly")}
    if set(schema.required) != set(published.get("required", [])) - read_only:
        problems.append(f"{schema.name}: required {sorted(schema.required)} vs {published.get('required')}")
    for name, field in schema.properties.items():
        prop = props.get(name)
        if prop is None:
            continue
        where = f"{schema.name}.{name}"
        if field.read_only != bool(prop.get("readOnly")):
            problems.append(f"{where}: readOnly differs")
        problems.extend(field_differences(where, field, prop, definitions, seen))
    return problems


def field_differences(
    where: str, field: schemas.Field, prop: dict[str, Any], definitions: dict[str, Any], seen: set[str]
) -> list[str]:
    problems = []
    if published_kind(prop) != field.kind:
        problems.append(f"{where}: kind {field.kind} vs {published_kind(prop)}")
    if tuple(prop.get("enum", ())) != field.enum:
        problems.append(f"{where}: enum {field.enum} vs {prop.get('enum')}")
    if (prop.get("format") == "date-time") != field.date_time:
        problems.append(f"{where}: date-time differs")
    if field.obj is not None:
        ref = prop.get("$ref", "").removeprefix("#/definitions/")
        if ref != field.obj.name:
            problems.append(f"{where}: refers to {ref}, the stand-in to {field.obj.name}")
        problems.extend(differences(field.obj, definitions, seen))
    if field.items is not None:
        problems.extend(
            field_differences(f"{where}[]", field.items, prop.get("items", {}), definitions, seen)
        )
    return problems


@pytest.mark.parametrize("name", sorted(schemas.REQUEST_SCHEMAS))
def test_hand_written_request_schemas_follow_the_published_ones(
    definitions: dict[str, Any], name: str
) -> None:
    assert differences(schemas.REQUEST_SCHEMAS[name], definitions, set()) == []
