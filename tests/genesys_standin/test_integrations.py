"""Open messaging integrations and supported-content profiles."""

from __future__ import annotations

from tests.genesys_standin.conftest import WEBHOOK_SECRET, Standin, assert_error_body

PATH = "/api/v2/conversations/messaging/integrations/open"


def request_body(**fields: object) -> dict[str, object]:
    return {
        "name": "Ferry",
        "outboundNotificationWebhookUrl": "https://ferry.example/genesys/webhook",
        "outboundNotificationWebhookSignatureSecretToken": WEBHOOK_SECRET,
        **fields,
    }


def test_create_is_initiated_then_completed(standin: Standin, service_token: str) -> None:
    created = standin.api("POST", PATH, service_token, json=request_body(webhookHeaders={"X-A": "b"}))
    assert created.status_code == 202
    integration = created.json()
    assert integration["createStatus"] == "Initiated"
    assert integration["name"] == "Ferry"
    assert integration["outboundNotificationWebhookUrl"] == "https://ferry.example/genesys/webhook"
    assert integration["outboundNotificationWebhookSignatureSecretToken"] != WEBHOOK_SECRET
    assert integration["webhookHeaders"] == {"X-A": "b"}
    assert integration["supportedContent"]["name"] == "Default Supported Content Profile"
    again = standin.api("GET", f"{PATH}/{integration['id']}", service_token)
    assert again.status_code == 200
    assert again.json()["createStatus"] == "Completed"


def test_list_pages_and_delete(standin: Standin, service_token: str) -> None:
    ids = [
        standin.api("POST", PATH, service_token, json=request_body(name=f"i{n}")).json()["id"]
        for n in range(3)
    ]
    page = standin.api("GET", PATH, service_token, params={"pageSize": 2, "pageNumber": 2}).json()
    assert [e["id"] for e in page["entities"]] == ids[2:]
    assert (page["total"], page["pageCount"], page["pageNumber"], page["pageSize"]) == (3, 2, 2, 2)
    assert "previousUri" in page
    assert "nextUri" not in page
    assert all(e["createStatus"] == "Completed" for e in page["entities"])

    assert standin.api("DELETE", f"{PATH}/{ids[0]}", service_token).status_code == 204
    assert_error_body(standin.api("GET", f"{PATH}/{ids[0]}", service_token), 404, "not.found")
    assert standin.api("GET", PATH, service_token).json()["total"] == 2
    assert_error_body(
        standin.api("GET", PATH, service_token, params={"pageSize": "0"}), 400, "invalid.query.param.value"
    )


def test_integrations_belong_to_the_caller_organization(standin: Standin, service_token: str) -> None:
    integration_id = standin.api("POST", PATH, service_token, json=request_body()).json()["id"]
    foreign = standin.user_token(standin.user(organization="foreign"))
    assert_error_body(standin.api("GET", f"{PATH}/{integration_id}", foreign), 404, "not.found")
    assert standin.api("GET", PATH, foreign).json()["entities"] == []


def test_create_validates_the_request(standin: Standin, service_token: str) -> None:
    short = standin.api(
        "POST",
        PATH,
        service_token,
        json=request_body(outboundNotificationWebhookSignatureSecretToken="short"),
    )
    error = assert_error_body(short, 400, "constraint.validation")
    assert error["details"][0]["fieldName"] == "outboundNotificationWebhookSignatureSecretToken"
    missing = standin.api("POST", PATH, service_token, json={"name": "x"})
    assert {d["fieldName"] for d in assert_error_body(missing, 400, "constraint.validation")["details"]} == {
        "outboundNotificationWebhookUrl",
        "outboundNotificationWebhookSignatureSecretToken",
    }
    unknown_profile = standin.api(
        "POST", PATH, service_token, json=request_body(supportedContent={"id": "nope"})
    )
    assert_error_body(unknown_profile, 400, "invalid.value")
    extra = standin.api("POST", PATH, service_token, json=request_body(colour="blue"))
    assert_error_body(extra, 400, "invalid.property")


def test_update_an_integration(standin: Standin, service_token: str) -> None:
    integration_id = standin.api("POST", PATH, service_token, json=request_body()).json()["id"]
    patched = standin.api(
        "PATCH",
        f"{PATH}/{integration_id}",
        service_token,
        json={"name": "Renamed", "outboundNotificationWebhookUrl": "https://n/h"},
    )
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["outboundNotificationWebhookUrl"]) == (
        "Renamed",
        "https://n/h",
    )
    assert_error_body(
        standin.api("PATCH", f"{PATH}/{integration_id}", service_token, json={}), 400, "constraint.validation"
    )


def test_supported_content_profiles(standin: Standin, service_token: str) -> None:
    default = standin.api(
        "GET", "/api/v2/conversations/messaging/supportedcontent/default", service_token
    ).json()
    assert default["mediaTypes"]["allow"]["inbound"] == [{"type": "*/*"}]
    created = standin.api(
        "POST",
        "/api/v2/conversations/messaging/supportedcontent",
        service_token,
        json={"name": "video", "mediaTypes": {"allow": {"inbound": [{"type": "video/*"}]}}},
    ).json()
    assert created["mediaTypes"]["allow"] == {"inbound": [{"type": "video/*"}], "outbound": []}
    listing = standin.api("GET", "/api/v2/conversations/messaging/supportedcontent", service_token).json()
    assert {p["id"] for p in listing["entities"]} == {default["id"], created["id"]}
    integration = standin.api(
        "POST", PATH, service_token, json=request_body(supportedContent={"id": created["id"]})
    ).json()
    expanded = standin.api(
        "GET", f"{PATH}/{integration['id']}", service_token, params={"expand": "supportedContent"}
    ).json()
    assert expanded["supportedContent"]["mediaTypes"]["allow"]["inbound"] == [{"type": "video/*"}]
