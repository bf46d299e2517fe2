"""The local S3 refuses what S3 refuses (signature, expiry, signed headers, credentials, payload digests)
and accepts what boto3 and Ferry really send, over HTTP against the tests' emulator."""

from __future__ import annotations

import base64
import hashlib
import io
import xml.etree.ElementTree as ET
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import boto3
import botocore.auth
import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError

from ferry.storage import S3Storage, UploadedPart
from tests.conftest import REGION

BUCKET = "ferry-test"
ORIGIN = "http://ferry.test"
MIB = 1024 * 1024


@pytest.fixture
def storage(moto_reset: str) -> S3Storage:
    """Ferry's S3 adapter on the emulator, its bucket created and open to the widget's origin."""
    storage = S3Storage(bucket=BUCKET, region=REGION, endpoint_url=moto_reset)
    storage.ensure_bucket()
    storage.client.put_bucket_cors(
        Bucket=BUCKET,
        CORSConfiguration={
            "CORSRules": [
                {"AllowedOrigins": [ORIGIN], "AllowedMethods": ["PUT", "GET"], "AllowedHeaders": ["*"]}
            ]
        },
    )
    return storage


def put(storage: S3Storage, key: str, body: bytes) -> None:
    storage.client.put_object(Bucket=BUCKET, Key=key, Body=body)


def exists(storage: S3Storage, key: str) -> bool:
    return bool(storage.client.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount"))


def error(response: requests.Response, element: str = "Code") -> str:
    """An element of S3's XML error body."""
    return str(ET.fromstring(response.content).findtext(element))  # noqa: S314 - our own emulator's answer


def refused(response: requests.Response, status: int, code: str) -> bool:
    return response.status_code == status and error(response) == code


def signed_in_the_past(monkeypatch: pytest.MonkeyPatch, ago: timedelta) -> None:
    """Make botocore sign as if its clock were `ago` behind."""
    past = datetime.now(UTC).replace(tzinfo=None) - ago
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: past)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True)) | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def put_url(
    storage: S3Storage, key: str, body: bytes, content_length: int | None = None
) -> tuple[str, dict[str, str]]:
    """Ferry's presigned PUT as the widget gets it: the body's SHA-256 and the pending tag signed in."""
    checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return storage.presign_put(
        key,
        content_type="text/plain",
        tags={"scan-status": "pending"},
        expires=60,
        checksum_sha256=checksum,
        content_length=content_length,
    )


def get_url(storage: S3Storage, key: str, expires: int = 60) -> str:
    return storage.presign_get(key, expires=expires, filename=None, inline=True, content_type=None)


def client_with(endpoint: str, **credentials: str) -> object:
    return boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        **credentials,
    )


# -- refusals -------------------------------------------------------------------------------------


def test_put_url_used_as_get_is_refused(storage: S3Storage) -> None:
    put(storage, "incoming/a.png", b"png")
    url, _ = storage.presign_put("incoming/a.png", content_type="image/png", tags={}, expires=60)
    assert refused(requests.get(url, timeout=10), 403, "SignatureDoesNotMatch")


def test_key_swapped_in_url_is_refused(storage: S3Storage) -> None:
    put(storage, "incoming/mine.png", b"mine")
    put(storage, "incoming/theirs.png", b"theirs")
    url = get_url(storage, "incoming/mine.png")
    assert requests.get(url, timeout=10).content == b"mine"
    swapped = url.replace("mine.png", "theirs.png")
    assert refused(requests.get(swapped, timeout=10), 403, "SignatureDoesNotMatch")


def test_bucket_swapped_in_url_is_refused(storage: S3Storage) -> None:
    storage.client.create_bucket(
        Bucket="other-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    storage.client.put_object(Bucket="other-bucket", Key="k", Body=b"other")
    url = get_url(storage, "k").replace(f"/{BUCKET}/", "/other-bucket/")
    assert refused(requests.get(url, timeout=10), 403, "SignatureDoesNotMatch")


@pytest.mark.parametrize("signature", ["0" * 64, "tampered"])
def test_tampered_signature_is_refused(storage: S3Storage, signature: str) -> None:
    put(storage, "k", b"x")
    url = with_query(get_url(storage, "k"), **{"X-Amz-Signature": signature})
    assert refused(requests.get(url, timeout=10), 403, "SignatureDoesNotMatch")


def test_changed_signed_parameter_is_refused(storage: S3Storage) -> None:
    put(storage, "k", b"x")
    url = storage.presign_get("k", expires=60, filename="a.txt", inline=True, content_type="text/plain")
    changed = with_query(url, **{"response-content-type": "text/html"})
    assert refused(requests.get(changed, timeout=10), 403, "SignatureDoesNotMatch")
    longer = with_query(url, **{"X-Amz-Expires": "600"})
    assert refused(requests.get(longer, timeout=10), 403, "SignatureDoesNotMatch")


def test_expired_url_is_refused(storage: S3Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    put(storage, "k", b"x")
    signed_in_the_past(monkeypatch, timedelta(minutes=2))
    expired = get_url(storage, "k", expires=60)
    alive = get_url(storage, "k", expires=600)
    answer = requests.get(expired, timeout=10)
    assert refused(answer, 403, "AccessDenied")
    assert error(answer, "Message") == "Request has expired"
    assert requests.get(alive, timeout=10).content == b"x"


def test_url_living_over_a_week_is_refused(storage: S3Storage) -> None:
    put(storage, "k", b"x")
    credentials = storage._session.get_credentials().get_frozen_credentials()
    request = AWSRequest(method="GET", url=f"{storage.endpoint_url}/{BUCKET}/k")
    S3SigV4QueryAuth(credentials, "s3", REGION, expires=604_801).add_auth(request)
    assert refused(requests.get(request.prepare().url, timeout=10), 400, "AuthorizationQueryParametersError")


def test_missing_or_changed_signed_header_is_refused(storage: S3Storage) -> None:
    body = b"the scanned bytes"
    url, headers = put_url(storage, "incoming/f", body)
    for name in ("x-amz-checksum-sha256", "Content-Type", "x-amz-tagging"):
        lacking = {k: v for k, v in headers.items() if k != name}
        assert refused(
            requests.put(url, data=body, headers=lacking, timeout=10), 403, "SignatureDoesNotMatch"
        )
    changed = headers | {"x-amz-tagging": "scan-status=clean"}
    assert refused(requests.put(url, data=body, headers=changed, timeout=10), 403, "SignatureDoesNotMatch")
    # Host is signed too: the URL at another host name of the same server is someone else's URL.
    elsewhere = url.replace("127.0.0.1", "localhost")
    assert refused(
        requests.put(elsewhere, data=body, headers=headers, timeout=10), 403, "SignatureDoesNotMatch"
    )
    assert not exists(storage, "incoming/f")
    assert requests.put(url, data=body, headers=headers, timeout=10).status_code == 200


def test_unsigned_amz_header_is_refused(storage: S3Storage) -> None:
    url, headers = storage.presign_put("incoming/f", content_type="text/plain", tags={}, expires=60)
    extra = headers | {"x-amz-meta-owner": "someone"}
    assert refused(requests.put(url, data=b"x", headers=extra, timeout=10), 403, "AccessDenied")
    assert not exists(storage, "incoming/f")


def test_unknown_key_wrong_secret_and_wrong_token_are_refused(moto_reset: str, storage: S3Storage) -> None:
    def code(**credentials: str) -> str:
        with pytest.raises(ClientError) as refusal:
            client_with(moto_reset, **credentials).list_objects_v2(Bucket=BUCKET)  # type: ignore[attr-defined]
        return str(refusal.value.response["Error"]["Code"])

    assert code(aws_access_key_id="AKIAUNKNOWN", aws_secret_access_key="testing") == "InvalidAccessKeyId"
    assert (
        code(aws_access_key_id="testing", aws_secret_access_key="wrong", aws_session_token="testing")
        == "SignatureDoesNotMatch"
    )
    assert (
        code(aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="other")
        == "InvalidToken"
    )


def test_unsigned_request_is_refused(moto_reset: str, storage: S3Storage) -> None:
    put(storage, "k", b"x")
    assert refused(requests.get(f"{moto_reset}/{BUCKET}/k", timeout=10), 403, "AccessDenied")
    assert refused(requests.put(f"{moto_reset}/{BUCKET}/new", data=b"x", timeout=10), 403, "AccessDenied")
    assert not exists(storage, "new")


def test_request_signed_too_long_ago_is_refused(storage: S3Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    signed_in_the_past(monkeypatch, timedelta(minutes=16))
    with pytest.raises(ClientError) as refusal:
        storage.client.list_objects_v2(Bucket=BUCKET)
    assert refusal.value.response["Error"]["Code"] == "RequestTimeTooSkewed"


def test_body_other_than_its_signed_hash_is_refused(storage: S3Storage) -> None:
    credentials = storage._session.get_credentials().get_frozen_credentials()
    request = AWSRequest(method="PUT", url=f"{storage.endpoint_url}/{BUCKET}/k", data=b"signed bytes")
    S3SigV4Auth(credentials, "s3", REGION).add_auth(request)
    headers = dict(request.headers)
    answer = requests.put(request.url, data=b"other bytes!", headers=headers, timeout=10)
    assert refused(answer, 400, "XAmzContentSHA256Mismatch")
    assert not exists(storage, "k")
    assert requests.put(request.url, data=b"signed bytes", headers=headers, timeout=10).status_code == 200


def test_body_other_than_its_signed_checksum_is_refused(storage: S3Storage) -> None:
    url, headers = put_url(storage, "incoming/f", b"what the customer hashed")
    assert refused(requests.put(url, data=b"different bytes", headers=headers, timeout=10), 400, "BadDigest")
    assert not exists(storage, "incoming/f")


def header_signed(storage: S3Storage, key: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    """A PUT signed in its Authorization header over `headers` (x-amz-content-sha256 among them)."""
    credentials = storage._session.get_credentials().get_frozen_credentials()
    request = AWSRequest(method="PUT", url=f"{storage.endpoint_url}/{BUCKET}/{key}", headers=headers)
    # botocore's S3 signer always sets the payload hash itself; SigV4Auth signs what it is given.
    botocore.auth.SigV4Auth(credentials, "s3", REGION).add_auth(request)
    return requests.put(request.url, data=body, headers=dict(request.headers), timeout=10)


def test_unsigned_streaming_payload_with_trailer_is_accepted(storage: S3Storage) -> None:
    checksum = base64.b64encode(zlib.crc32(b"hello").to_bytes(4, "big")).decode()
    body = f"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:{checksum}\r\n\r\n".encode()
    headers = {
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": "5",
        "x-amz-trailer": "x-amz-checksum-crc32",
    }
    assert header_signed(storage, "k", body, headers).status_code == 200
    assert b"".join(storage.read("k")) == b"hello"


def test_chunk_signed_payload_is_not_taken_unchecked(storage: S3Storage) -> None:
    headers = {
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-decoded-content-length": "5",
    }
    assert refused(header_signed(storage, "k", b"whatever", headers), 501, "NotImplemented")
    assert not exists(storage, "k")


def test_refusal_is_readable_by_the_widget(storage: S3Storage) -> None:
    """The widget re-signs on a 403: the browser must be let to read it."""
    url = with_query(get_url(storage, "k"), **{"X-Amz-Signature": "0" * 64})
    answer = requests.get(url, headers={"Origin": ORIGIN}, timeout=10)
    assert answer.status_code == 403
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN


# -- what boto3 and Ferry really send -------------------------------------------------------------


def test_presigned_put_with_checksum_tags_and_length(storage: S3Storage) -> None:
    body = b"%PDF- a small document"
    url, headers = put_url(storage, "incoming/doc.pdf", body, content_length=len(body))
    # The length is signed: S3 refuses a body of another size before looking at its checksum.
    longer = requests.put(url, data=body + b"!", headers=headers, timeout=10)
    assert refused(longer, 403, "SignatureDoesNotMatch")
    answer = requests.put(url, data=body, headers=headers | {"Origin": ORIGIN}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert storage.get_tags("incoming/doc.pdf") == {"scan-status": "pending"}
    assert b"".join(storage.read("incoming/doc.pdf")) == body


def test_multipart_with_presigned_parts(storage: S3Storage) -> None:
    parts = [b"a" * (5 * MIB), b"b" * 1000]
    upload_id = storage.create_multipart(
        "incoming/big", content_type="video/mp4", tags={"scan-status": "pending"}, checksum_algorithm="SHA256"
    )
    for number, body in enumerate(parts, 1):
        checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
        url, headers = storage.presign_part(
            "incoming/big", upload_id, number, expires=60, checksum_sha256=checksum, content_length=len(body)
        )
        assert requests.put(url, data=body, headers=headers, timeout=30).status_code == 200
    listed = storage.list_parts("incoming/big", upload_id)
    assert [part.size for part in listed] == [len(body) for body in parts]
    storage.complete_multipart("incoming/big", upload_id, listed)
    assert b"".join(storage.read("incoming/big")) == b"".join(parts)


def test_presigned_get_with_range_and_disposition(storage: S3Storage) -> None:
    put(storage, "clean/photo.png", b"0123456789")
    url = storage.presign_get(
        "clean/photo.png", expires=300, filename="ünïcode photo.png", inline=False, content_type="image/png"
    )
    answer = requests.get(url, headers={"Range": "bytes=2-5", "Origin": ORIGIN}, timeout=10)
    assert answer.status_code == 206
    assert answer.content == b"2345"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="_n_code photo.png"')
    assert answer.headers["Content-Type"] == "image/png"


def test_key_with_characters_that_need_encoding(storage: S3Storage) -> None:
    key = "incoming/a b+c=d&é(1)!'*~.txt"
    put(storage, key, b"odd")
    assert requests.get(get_url(storage, key), timeout=10).content == b"odd"
    assert storage.get_tags(key) == {}


def test_virtual_host_url_verifies(storage: S3Storage) -> None:
    """A bucket-in-the-host-name URL (what AWS hands out) is checked against that host name."""
    put(storage, "k", b"virtual")
    host = f"{BUCKET}.s3.{REGION}.amazonaws.com"
    credentials = storage._session.get_credentials().get_frozen_credentials()
    request = AWSRequest(method="GET", url=f"http://{host}/k")
    S3SigV4QueryAuth(credentials, "s3", REGION, expires=60).add_auth(request)
    path = urlsplit(request.prepare().url)
    local = f"{storage.endpoint_url}{path.path}?{path.query}"
    assert requests.get(local, headers={"Host": host}, timeout=10).content == b"virtual"
    other_bucket = {"Host": f"other.s3.{REGION}.amazonaws.com"}
    assert refused(requests.get(local, headers=other_bucket, timeout=10), 403, "SignatureDoesNotMatch")


def test_boto3_calls(storage: S3Storage) -> None:
    client = storage.client
    client.put_object(Bucket=BUCKET, Key="incoming/k", Body=b"hello", ContentType="text/plain")
    client.put_object(Bucket=BUCKET, Key="incoming/sha", Body=b"hello", ChecksumAlgorithm="SHA256")
    client.upload_fileobj(
        io.BytesIO(b"x" * (6 * MIB)),
        BUCKET,
        "incoming/multi",
        Config=TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB),
    )
    storage.put_tags("incoming/k", {"scan-status": "clean", "engine": "ClamAV 1.4.2"})
    storage.move("incoming/k", "clean/k")
    assert storage.get_tags("clean/k") == {"scan-status": "clean", "engine": "ClamAV 1.4.2"}
    assert b"".join(storage.read("clean/k", 1, 3)) == b"ell"
    assert storage.head("incoming/multi").size == 6 * MIB
    storage.delete("incoming/multi")
    assert not exists(storage, "incoming/multi")


def test_multipart_copy(moto_reset: str) -> None:
    storage = S3Storage(
        bucket=BUCKET, region=REGION, endpoint_url=moto_reset, copy_threshold=5 * MIB, copy_part_size=5 * MIB
    )
    storage.ensure_bucket()
    put(storage, "incoming/big", b"z" * (6 * MIB))
    storage.move("incoming/big", "clean/big")
    assert storage.head("clean/big").size == 6 * MIB


def test_completed_part_list_from_boto3_uploads(storage: S3Storage) -> None:
    upload_id = storage.create_multipart("m", content_type="text/plain", tags={}, checksum_algorithm="SHA256")
    answer = storage.client.upload_part(
        Bucket=BUCKET, Key="m", UploadId=upload_id, PartNumber=1, Body=b"y" * 10, ChecksumAlgorithm="SHA256"
    )
    part = UploadedPart(1, answer["ETag"], 10, answer["ChecksumSHA256"])
    storage.complete_multipart("m", upload_id, [part])
    assert b"".join(storage.read("m")) == b"y" * 10


def test_cors_preflight_needs_no_signature(storage: S3Storage) -> None:
    url, _ = storage.presign_put("incoming/f", content_type="text/plain", tags={}, expires=60)
    answer = requests.options(
        url,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type,x-amz-tagging",
        },
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_sqs_and_control_routes_are_left_to_moto(moto_reset: str) -> None:
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_reset)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hi")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["hi"]
    assert requests.get(f"{moto_reset}/moto-api/", timeout=10).status_code == 200
