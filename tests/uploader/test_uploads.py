"""The upload API over HTTP (Flask test client, moto in-process): session binding, every refusal as
JSON {error, message}, the full create → sign → PUT → complete flow, and the OpenAPI document."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ferry.config import GIB, MIB
from ferry.db import utcnow
from ferry.models import Chat
from ferry.services import Services
from ferry.storage import ObjectNotFound, StorageUnavailable
from tests.uploader.conftest import CSRF, start_chat
from uploader.openapi import OPENAPI_PATH
from uploader.uploads import ATTACHMENTS, MAX_BODY_BYTES

Json = dict[str, Any]


def sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class Schemas:
    """Validates answers against the served OpenAPI document's component schemas."""

    def __init__(self, document: Json) -> None:
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource("urn:ferry:openapi", resource)

    def check(self, name: str, instance: Any) -> None:
        schema = {"$ref": f"urn:ferry:openapi#/components/schemas/{name}"}
        Draft202012Validator(schema, registry=self.registry).validate(instance)


@pytest.fixture
def schemas(client: FlaskClient) -> Schemas:
    return Schemas(client.get(OPENAPI_PATH).json or {})


@pytest.fixture
def chat(client: FlaskClient) -> Json:
    return start_chat(client)["chat"]


def create(client: FlaskClient, **declared: Any) -> Any:
    body = {"name": "clip.mp4", "size": 20 * MIB, "type": "video/mp4", **declared}
    return client.post(ATTACHMENTS, json=body, headers=CSRF)


def created(client: FlaskClient, **declared: Any) -> Json:
    answer = create(client, **declared)
    assert answer.status_code == 201, answer.json
    attachment: Json = answer.json["attachment"]
    return attachment


def sign(client: FlaskClient, attachment_id: str, parts: list[Json]) -> Any:
    return client.post(f"{ATTACHMENTS}/{attachment_id}/sign", json={"parts": parts}, headers=CSRF)


def upload(client: FlaskClient, attachment: Json, data: bytes, numbers: list[int] | None = None) -> None:
    """Send parts like the browser does: sign with checksums, PUT each to its URL with its headers."""
    size = attachment["part_size"]
    chunks = {n: data[(n - 1) * size : n * size] for n in numbers or range(1, attachment["part_count"] + 1)}
    answer = sign(client, attachment["id"], [{"number": n, "sha256": sha(c)} for n, c in chunks.items()])
    assert answer.status_code == 200, answer.json
    for part in answer.json["parts"]:
        requests.put(
            part["url"], data=chunks[part["number"]], headers=part["headers"], timeout=30
        ).raise_for_status()


def refused(answer: Any, status: int, code: str) -> Json:
    assert answer.status_code == status, answer.json
    body: Json = answer.json
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


# -- happy paths -------------------------------------------------------------------------------------


def test_upload_flow_from_declaration_to_scanning(
    client: FlaskClient, chat: Json, services: Services, schemas: Schemas
) -> None:
    data = b"\x00\x01" * (8 * MIB) + b"end"
    answer = create(client, name="../Holiday\u202e.mp4", size=len(data), fingerprint="v1-0123456789abcdef")
    assert answer.status_code == 201
    schemas.check("Created", answer.json)
    attachment = answer.json["attachment"]
    assert (attachment["name"], attachment["state"], attachment["strategy"]) == (
        "Holiday.mp4",
        "uploading",
        "multipart",
    )
    assert (attachment["part_size"], attachment["part_count"]) == (8 * MIB, 3)

    upload(client, attachment, data, [1, 3])
    parts = client.get(f"{ATTACHMENTS}/{attachment['id']}/parts")
    schemas.check("UploadedParts", parts.json)
    assert [p["number"] for p in parts.json["parts"]] == [1, 3]

    # The same file selected again (after a reload) resumes the same attachment.
    again = create(client, name="../Holiday\u202e.mp4", size=len(data), fingerprint="v1-0123456789abcdef")
    assert again.status_code == 200
    assert (again.json["resumed"], again.json["attachment"]["id"]) == (True, attachment["id"])

    refused(client.post(f"{ATTACHMENTS}/{attachment['id']}/complete", headers=CSRF), 409, "parts_missing")
    upload(client, attachment, data, [2])
    done = client.post(f"{ATTACHMENTS}/{attachment['id']}/complete", headers=CSRF)
    assert done.status_code == 200, done.json
    schemas.check("AttachmentAnswer", done.json)
    assert done.json["attachment"]["state"] == "scanning"
    assert done.json["attachment"]["status"] == "uploaded"

    key = services.settings.s3_incoming_prefix + attachment["id"]
    assert hashlib.sha256(b"".join(services.storage.read(key))).digest() == hashlib.sha256(data).digest()
    assert services.storage.get_tags(key) == {"scan-status": "pending"}

    shown = client.get(f"{ATTACHMENTS}/{attachment['id']}")
    schemas.check("AttachmentAnswer", shown.json)
    assert shown.json["attachment"]["state"] == "scanning"
    listed = client.get(ATTACHMENTS)
    schemas.check("AttachmentList", listed.json)
    assert [a["id"] for a in listed.json["attachments"]] == [attachment["id"]]


def test_small_file_is_one_signed_put(client: FlaskClient, chat: Json, schemas: Schemas) -> None:
    data = b"%PDF-1.7 small"
    attachment = created(client, name="a.pdf", size=len(data), type="application/pdf")
    assert (attachment["strategy"], attachment["part_count"]) == ("single", 1)
    answer = sign(client, attachment["id"], [{"number": 1, "sha256": sha(data)}])
    schemas.check("SignedParts", answer.json)
    headers = answer.json["parts"][0]["headers"]
    assert headers["x-amz-checksum-sha256"] == sha(data)
    assert headers["x-amz-tagging"] == "scan-status=pending"
    upload(client, attachment, data)
    done = client.post(f"{ATTACHMENTS}/{attachment['id']}/complete", headers=CSRF)
    assert done.json["attachment"]["state"] == "scanning"
    # Once complete, no URL that could write the file again is issued.
    again = refused(
        sign(client, attachment["id"], [{"number": 1, "sha256": sha(data)}]), 409, "upload_complete"
    )
    assert again["message"] == "This file was already sent (scanning); it can no longer be changed."


def test_cancel_aborts_the_multipart_upload(
    client: FlaskClient, chat: Json, services: Services, schemas: Schemas
) -> None:
    data = b"a" * (8 * MIB + 1)
    attachment = created(client, size=len(data))
    upload(client, attachment, data, [1])
    answer = client.delete(f"{ATTACHMENTS}/{attachment['id']}", headers=CSRF)
    assert answer.status_code == 200
    schemas.check("AttachmentAnswer", answer.json)
    assert (answer.json["attachment"]["state"], answer.json["attachment"]["reason"]) == (
        "cancelled",
        "Cancelled by the customer.",
    )
    assert services.storage.list_multipart_uploads("") == []
    refused(sign(client, attachment["id"], [{"number": 1, "sha256": sha(b"")}]), 409, "not_uploading")


# -- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "status", "code"),
    [
        ({"size": 50 * GIB + 1}, 413, "too_large"),
        ({"name": "setup.exe", "type": "application/x-msdownload"}, 415, "type_not_allowed"),
        ({"name": "archive.zip", "type": "application/zip"}, 415, "type_not_allowed"),
        ({"size": 0}, 422, "empty_file"),
        ({"size": "20"}, 400, "invalid_request"),
        ({"size": True}, 400, "invalid_request"),
        ({"name": None}, 400, "invalid_request"),
        ({"name": "x" * 2000}, 400, "invalid_request"),
        ({"fingerprint": "no spaces allowed"}, 400, "invalid_request"),
    ],
)
def test_declarations_breaking_the_policy_are_refused_before_any_byte_moves(
    client: FlaskClient,
    chat: Json,
    services: Services,
    schemas: Schemas,
    declared: Json,
    status: int,
    code: str,
) -> None:
    body = refused(create(client, **declared), status, code)
    schemas.check("Error", body)
    assert client.get(ATTACHMENTS).json["attachments"] == []
    assert services.storage.list_multipart_uploads("") == []


def test_too_many_files(make_app: Any, aws: None) -> None:
    client = make_app(upload_max_files_per_chat=2).test_client()
    start_chat(client)
    created(client, name="a.mp4")
    created(client, name="b.mp4")
    body = refused(create(client, name="c.mp4"), 409, "too_many_files")
    assert "2 files" in body["message"]


def test_creates_are_rate_limited_per_chat(make_app: Any, aws: None) -> None:
    client = make_app(chat_rate_per_chat=2).test_client()
    start_chat(client)
    created(client, name="a.mp4")
    created(client, name="b.mp4")
    refused(create(client, name="c.mp4"), 429, "rate_limited")


def test_a_json_body_is_required(client: FlaskClient, chat: Json) -> None:
    refused(client.post(ATTACHMENTS, data="name=x", headers=CSRF), 400, "invalid_request")
    refused(client.post(ATTACHMENTS, json=["x"], headers=CSRF), 400, "invalid_request")


def test_no_route_takes_a_body_over_a_few_kilobytes(client: FlaskClient, chat: Json) -> None:
    attachment = created(client)
    bulky = {"name": "clip.mp4", "size": 1, "type": "video/mp4", "padding": "x" * MAX_BODY_BYTES}
    for path in (
        ATTACHMENTS,
        f"{ATTACHMENTS}/{attachment['id']}/sign",
        f"{ATTACHMENTS}/{attachment['id']}/complete",
    ):
        refused(client.post(path, json=bulky, headers=CSRF), 413, "body_too_large")
    # Flask itself refuses anything over MAX_CONTENT_LENGTH before reading it.
    assert client.post(ATTACHMENTS, data=b"x" * (65 * 1024), headers=CSRF).status_code == 413


@pytest.mark.parametrize(
    ("parts", "status", "code"),
    [
        ([{"number": 0, "sha256": sha(b"")}], 422, "part_out_of_range"),
        ([{"number": 4, "sha256": sha(b"")}], 422, "part_out_of_range"),
        ([{"number": 1, "sha256": "not base64"}], 422, "invalid_checksum"),
        ([{"number": 1}], 400, "invalid_request"),
        ([{"number": "1", "sha256": sha(b"")}], 400, "invalid_request"),
        ([{"number": n, "sha256": sha(b"")} for n in range(1, 102)], 400, "invalid_request"),
        ("all", 400, "invalid_request"),
        ([], 400, "invalid_request"),
    ],
)
def test_bad_sign_requests(client: FlaskClient, chat: Json, parts: Any, status: int, code: str) -> None:
    attachment = created(client, size=2 * 8 * MIB + 1)
    refused(sign(client, attachment["id"], parts), status, code)


def test_a_size_mismatch_rejects_the_attachment_with_a_reason(
    client: FlaskClient, chat: Json, services: Services
) -> None:
    attachment = created(client, name="a.pdf", size=10, type="application/pdf")
    answer = sign(client, attachment["id"], [{"number": 1, "sha256": sha(b"0123456789")}])
    part = answer.json["parts"][0]
    # moto ignores the signed Content-Length that would make real S3 refuse this PUT outright.
    requests.put(
        part["url"], data=b"0123456789 and then some", headers=part["headers"], timeout=10
    ).raise_for_status()
    body = refused(
        client.post(f"{ATTACHMENTS}/{attachment['id']}/complete", headers=CSRF), 422, "size_mismatch"
    )
    assert body["attachment"]["state"] == "rejected"
    shown = client.get(f"{ATTACHMENTS}/{attachment['id']}").json["attachment"]
    assert shown["state"] == "rejected"
    assert "24 bytes" in shown["reason"]
    with pytest.raises(ObjectNotFound):
        services.storage.head(services.settings.s3_incoming_prefix + attachment["id"])


def test_another_chats_attachment_is_404_everywhere(app: Flask, client: FlaskClient, chat: Json) -> None:
    attachment = created(client)
    other = app.test_client()
    start_chat(other)
    base = f"{ATTACHMENTS}/{attachment['id']}"
    for answer in (
        other.get(base),
        other.get(f"{base}/parts"),
        sign(other, attachment["id"], [{"number": 1, "sha256": sha(b"")}]),
        other.post(f"{base}/complete", headers=CSRF),
        other.delete(base, headers=CSRF),
    ):
        refused(answer, 404, "not_found")
    assert other.get(ATTACHMENTS).json["attachments"] == []
    assert client.get(base).json["attachment"]["state"] == "uploading"


def test_every_call_needs_the_chat_session(
    app: Flask, client: FlaskClient, chat: Json, services: Services
) -> None:
    attachment = created(client)
    stranger = app.test_client()
    base = f"{ATTACHMENTS}/{attachment['id']}"
    for answer in (
        stranger.get(ATTACHMENTS),
        stranger.get(base),
        stranger.get(f"{base}/parts"),
        create(stranger),
        sign(stranger, attachment["id"], [{"number": 1, "sha256": sha(b"")}]),
        stranger.post(f"{base}/complete", headers=CSRF),
        stranger.delete(base, headers=CSRF),
    ):
        refused(answer, 401, "no_session")


def test_an_expired_session_is_refused(client: FlaskClient, chat: Json, services: Services) -> None:
    attachment = created(client)
    with services.db.session() as session:
        session.get_one(Chat, chat["id"]).expires_at = utcnow() - timedelta(seconds=1)
    refused(client.get(f"{ATTACHMENTS}/{attachment['id']}"), 401, "session_expired")
    refused(create(client), 401, "session_expired")


def test_state_changes_need_the_csrf_header(client: FlaskClient, chat: Json) -> None:
    attachment = created(client)
    base = f"{ATTACHMENTS}/{attachment['id']}"
    for answer in (
        client.post(ATTACHMENTS, json={"name": "a.mp4", "size": 1, "type": "video/mp4"}),
        client.post(f"{base}/sign", json={"parts": [{"number": 1, "sha256": sha(b"")}]}),
        client.post(f"{base}/complete"),
        client.delete(base),
    ):
        refused(answer, 403, "csrf")


def test_storage_trouble_is_a_503_the_widget_retries(
    client: FlaskClient, chat: Json, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*_args: Any, **_kwargs: Any) -> str:
        raise StorageUnavailable("create_multipart_upload: EndpointConnectionError")

    monkeypatch.setattr(services.storage, "create_multipart", unreachable)
    answer = create(client)
    refused(answer, 503, "storage_unavailable")
    assert answer.headers["Retry-After"] == "5"
    assert client.get(ATTACHMENTS).json["attachments"] == []  # nothing half-made


# -- the OpenAPI document -------------------------------------------------------------------------------


def test_openapi_document_is_valid_and_describes_every_upload_route(app: Flask, client: FlaskClient) -> None:
    answer = client.get(OPENAPI_PATH)
    assert answer.status_code == 200
    document = answer.json
    validate_openapi(document)
    assert document["openapi"].startswith("3.1")

    described = {
        (path, method.upper())
        for path, item in document["paths"].items()
        if path.startswith(ATTACHMENTS)
        for method in item
    }
    routed = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(ATTACHMENTS)
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    assert described == routed
    assert len(routed) == 7


def test_the_whole_files_sha256_is_declared_at_completion(
    client: FlaskClient, chat: Json, schemas: Schemas
) -> None:
    data = b"\x00\x01" * (8 * MIB) + b"end"
    attachment = created(client, name="clip.mp4", size=len(data))
    upload(client, attachment, data)
    url = f"{ATTACHMENTS}/{attachment['id']}/complete"
    for wrong in ("ABC", "g" * 64, hashlib.sha256(data).hexdigest().upper(), 64):
        refused(client.post(url, json={"sha256": wrong}, headers=CSRF), 400, "invalid_request")
    done = client.post(url, json={"sha256": hashlib.sha256(data).hexdigest()}, headers=CSRF)
    assert done.status_code == 200, done.json
    schemas.check("AttachmentAnswer", done.json)
    assert done.json["attachment"]["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_single_puts_signed_checksum_is_its_declared_sha256(client: FlaskClient, chat: Json) -> None:
    data = b"%PDF-1.7 small"
    attachment = created(client, name="a.pdf", size=len(data), type="application/pdf")
    upload(client, attachment, data)
    url = f"{ATTACHMENTS}/{attachment['id']}/complete"
    # Known from the signing, before S3's event can start the scan: a different declaration is refused.
    other = hashlib.sha256(b"other").hexdigest()
    refused(client.post(url, json={"sha256": other}, headers=CSRF), 400, "invalid_request")
    done = client.post(url, json={"sha256": hashlib.sha256(data).hexdigest()}, headers=CSRF)
    assert done.json["attachment"]["sha256"] == hashlib.sha256(data).hexdigest()
