"""The local S3: moto, behind a Signature Version 4 check that refuses what S3 refuses.

moto checks no signature, expiry or signed header (and its own IAM mode fails on presigned URLs), so
no test could catch a presigning mistake. `SigV4Check` wraps moto's S3 app, inside moto's own
dispatcher (SQS and /moto-api/ are left to moto), and for every S3 request recomputes the signature
with botocore's canonicalisation from the request as received: presigned query auth or an
Authorization header, the one configured key pair (and session token, when there is one). A refusal
is S3's status, error code and XML body. `python -m devstack.s3 --host H --port P` serves it (what
`make run` starts), with the key pair from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN.

Bodies are never held here: a hex `x-amz-content-sha256` and an `x-amz-checksum-sha256`/`-crc32` are
checked while moto reads the body, and a mismatch at its end refuses the request before moto acts
(moto reads the whole body before it stores anything).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import logging
import os
import sys
import threading
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

log = logging.getLogger("devstack.s3")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP = "%Y%m%dT%H%M%SZ"
MAX_EXPIRES = 604_800  # presigned URLs live at most a week
MAX_SKEW = timedelta(minutes=15)  # how far a request's own time may be from S3's
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"  # aws-chunked, no chunk signatures: moto decodes it
UNSUPPORTED = f"The authorization mechanism you have provided is not supported. Please use {ALGORITHM}."
QUERY_AUTH = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders")


@dataclass(frozen=True)
class Credentials:
    """The one key pair the emulator knows; with a token, requests must carry that token."""

    access_key: str
    secret_key: str
    token: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | os._Environ[str] = os.environ) -> Credentials:
        return cls(
            environ["AWS_ACCESS_KEY_ID"],
            environ["AWS_SECRET_ACCESS_KEY"],
            environ.get("AWS_SESSION_TOKEN") or None,
        )


class Refusal(Exception):
    """An S3 error answer: status, code, message and the extra elements S3 puts in its XML."""

    def __init__(self, status: str, code: str, message: str, **details: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details

    def respond(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        request_id = uuid.uuid4().hex[:16].upper()
        elements = {"Code": self.code, "Message": self.message, **self.details, "RequestId": request_id}
        xml = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in elements.items())
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{xml}</Error>'.encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
        origin = environ.get("HTTP_ORIGIN")
        if origin:
            # moto (flask-cors) lets every origin read its S3 answers; a refusal is readable alike, so the
            # widget sees the 403 of an expired URL as it would from S3 with the bucket's CORS rule.
            headers += [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        if environ["REQUEST_METHOD"] == "HEAD":
            body = b""  # S3 answers a refused HEAD with the status alone
        start_response(self.status, [*headers, ("Content-Length", str(len(body)))])
        return [body]


def signature_mismatch(access_key: str, string_to_sign: str, canonical: str, provided: str) -> Refusal:
    return Refusal(
        "403 Forbidden",
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
        AWSAccessKeyId=access_key,
        StringToSign=string_to_sign,
        SignatureProvided=provided,
        CanonicalRequest=canonical,
    )


def malformed(query: bool, message: str) -> Refusal:
    code = "AuthorizationQueryParametersError" if query else "AuthorizationHeaderMalformed"
    return Refusal("400 Bad Request", code, message)


@dataclass(frozen=True)
class Signed:
    """What a request says about its own signature, header or query alike."""

    query: bool  # presigned (query-string auth) or an Authorization header
    access_key: str
    region: str
    service: str
    timestamp: str  # X-Amz-Date
    headers: tuple[str, ...]  # SignedHeaders, lower case
    signature: str
    expires: int | None = None  # X-Amz-Expires (query auth only)
    token: str | None = None


def parse_query_auth(params: list[tuple[str, str]]) -> Signed:
    values = dict(params)
    missing = [name for name in (*QUERY_AUTH, "X-Amz-Signature") if name not in values]
    if missing:
        raise malformed(
            True,
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
            "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        )
    if values["X-Amz-Algorithm"] != ALGORITHM:
        raise malformed(True, f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    try:
        expires = int(values["X-Amz-Expires"])
    except ValueError:
        raise malformed(True, "X-Amz-Expires should be a number") from None
    if expires < 0:
        raise malformed(True, "X-Amz-Expires must be non-negative")
    if expires > MAX_EXPIRES:
        raise malformed(True, f"X-Amz-Expires must be less than a week (in seconds) that is; {MAX_EXPIRES}")
    return _signed(
        True,
        values["X-Amz-Credential"],
        values["X-Amz-Date"],
        values["X-Amz-SignedHeaders"],
        values["X-Amz-Signature"],
        expires=expires,
        token=values.get("X-Amz-Security-Token"),
    )


def parse_header_auth(authorization: str, environ: Environ) -> Signed:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise Refusal(
            "400 Bad Request",
            "InvalidRequest",
            UNSUPPORTED,
        )
    fields = dict(part.strip().partition("=")[::2] for part in rest.split(","))
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        raise malformed(
            False,
            "The authorization header is malformed; it must name Credential, SignedHeaders and Signature.",
        )
    timestamp = environ.get("HTTP_X_AMZ_DATE")
    if not timestamp:
        raise Refusal(
            "403 Forbidden", "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"
        )
    return _signed(
        False,
        fields["Credential"],
        timestamp,
        fields["SignedHeaders"],
        fields["Signature"],
        token=environ.get("HTTP_X_AMZ_SECURITY_TOKEN"),
    )


def _signed(
    query: bool, credential: str, timestamp: str, headers: str, signature: str, **rest: Any
) -> Signed:
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise malformed(
            query,
            f"The credential is malformed; expecting <YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request: "
            f"{credential}",
        )
    access_key, date, region, service, _ = scope
    if service != "s3":
        raise malformed(query, f"The credential is mal-formed; wrong service '{service}'; expecting 's3'.")
    try:
        datetime.strptime(timestamp, TIMESTAMP)
    except ValueError:
        raise malformed(
            query, f"X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\": {timestamp}"
        ) from None
    if date != timestamp[:8]:
        raise malformed(query, "Invalid credential date. Date is not the same as X-Amz-Date.")
    return Signed(query, access_key, region, service, timestamp, tuple(headers.split(";")), signature, **rest)


class _Digest(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...
    def digest(self) -> bytes: ...


class _Crc32:
    """zlib's CRC32 with hashlib's update/digest (S3's x-amz-checksum-crc32 is its 4 big-endian bytes)."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes | memoryview) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


CHECKSUMS: dict[str, Callable[[], _Digest]] = {"sha256": hashlib.sha256, "crc32": _Crc32}


@dataclass
class BodyCheck:
    """One digest the body must have: refused with `refusal` if it has another."""

    algorithm: str
    expected: bytes
    refusal: Callable[[bytes], Refusal]


@dataclass
class CheckedInput:
    """wsgi.input that digests the body as moto reads it and raises the refusal at its end on a mismatch."""

    stream: Any
    length: int | None
    checks: list[BodyCheck]
    seen: int = 0
    digests: dict[str, _Digest] = field(default_factory=dict)
    done: bool = False

    def __post_init__(self) -> None:
        self.digests = {check.algorithm: CHECKSUMS[check.algorithm]() for check in self.checks}

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.stream.read(size)
        self.digest(data, end=not data and size != 0)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """What werkzeug reads the body with when the server's stream has it: no copy of each chunk."""
        if not hasattr(self.stream, "readinto"):
            data = self.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)
        count: int = self.stream.readinto(buffer) or 0
        self.digest(memoryview(buffer)[:count], end=not count and len(buffer) > 0)
        return count

    def digest(self, data: bytes | memoryview, *, end: bool) -> None:
        self.seen += len(data)
        for digest in self.digests.values():
            digest.update(data)
        if not self.done and (end or (self.length is not None and self.seen >= self.length)):
            self.done = True
            for check in self.checks:
                actual = self.digests[check.algorithm].digest()
                if not hmac.compare_digest(actual, check.expected):
                    raise check.refusal(actual)


class SigV4Check:
    """WSGI middleware over moto's S3 app: authenticate, check the payload, then let moto answer."""

    def __init__(self, app: WSGIApp, credentials: Credentials) -> None:
        self.app = app
        self.credentials = credentials

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            self.authenticate(environ)
            return self.app(environ, start_response)
        except Refusal as refusal:
            log.info("refused %s %s: %s", environ["REQUEST_METHOD"], environ.get("PATH_INFO"), refusal)
            return refusal.respond(environ, start_response)

    def authenticate(self, environ: Environ) -> None:
        if environ["REQUEST_METHOD"] == "OPTIONS":
            return  # a CORS preflight: S3 answers it from the bucket's CORS rules, unauthenticated
        params = query_pairs(environ.get("QUERY_STRING", ""))
        names = {name for name, _ in params}
        authorization = environ.get("HTTP_AUTHORIZATION")
        query = "X-Amz-Credential" in names or "X-Amz-Signature" in names or "X-Amz-Algorithm" in names
        if authorization and query:
            raise Refusal(
                "400 Bad Request",
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
                "string parameter or the Authorization header should be specified",
            )
        if query:
            signed = parse_query_auth(params)
        elif authorization:
            signed = parse_header_auth(authorization, environ)
        elif "Signature" in names and "AWSAccessKeyId" in names:
            raise Refusal(
                "400 Bad Request",
                "InvalidRequest",
                UNSUPPORTED,
            )
        else:
            raise Refusal("403 Forbidden", "AccessDenied", "Access Denied")
        self.check_credentials(signed)
        self.check_time(signed)
        self.check_signature(signed, environ, params)
        self.check_payload(signed, environ)

    def check_credentials(self, signed: Signed) -> None:
        if signed.access_key != self.credentials.access_key:
            raise Refusal(
                "403 Forbidden",
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
                AWSAccessKeyId=signed.access_key,
            )
        if signed.token != self.credentials.token:
            raise Refusal(
                "400 Bad Request", "InvalidToken", "The provided token is malformed or otherwise invalid."
            )

    def check_time(self, signed: Signed) -> None:
        now = datetime.now(UTC)
        signed_at = datetime.strptime(signed.timestamp, TIMESTAMP).replace(tzinfo=UTC)
        server_time = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        if signed.expires is None:
            if abs(now - signed_at) > MAX_SKEW:
                raise Refusal(
                    "403 Forbidden",
                    "RequestTimeTooSkewed",
                    "The difference between the request time and the current time is too large.",
                    RequestTime=signed.timestamp,
                    ServerTime=server_time,
                    MaxAllowedSkewMilliseconds=str(int(MAX_SKEW.total_seconds() * 1000)),
                )
        elif signed_at - now > MAX_SKEW:
            raise Refusal("403 Forbidden", "AccessDenied", "Request is not valid yet")
        elif now > signed_at + timedelta(seconds=signed.expires):
            raise Refusal(
                "403 Forbidden",
                "AccessDenied",
                "Request has expired",
                **{"X-Amz-Expires": str(signed.expires)},
                Expires=(signed_at + timedelta(seconds=signed.expires)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                ServerTime=server_time,
            )

    def check_signature(self, signed: Signed, environ: Environ, params: list[tuple[str, str]]) -> None:
        # A signed header the request lacks is left out of the recomputation, which then differs.
        headers = {name: value for name in signed.headers if (value := header(environ, name)) is not None}
        unsigned = sorted(name for name in amz_headers(environ) if name not in headers)
        if unsigned:
            raise Refusal(
                "403 Forbidden",
                "AccessDenied",
                "There were headers present in the request which were not signed",
                HeadersNotSigned=", ".join(unsigned),
            )
        if not signed.query and "x-amz-content-sha256" not in headers:
            raise Refusal(
                "400 Bad Request",
                "InvalidRequest",
                "Missing required header for this request: x-amz-content-sha256",
            )
        scheme = environ.get("wsgi.url_scheme", "http")
        request = AWSRequest(
            method=environ["REQUEST_METHOD"],
            url=f"{scheme}://{environ.get('HTTP_HOST', '')}{raw_path(environ)}",
            headers=headers,
            # botocore's own encoding of every parameter but the signature: what the client signed.
            params=[
                (name, value) for name, value in params if not (signed.query and name == "X-Amz-Signature")
            ],
        )
        request.context["timestamp"] = signed.timestamp
        credentials = ReadOnlyCredentials(
            self.credentials.access_key, self.credentials.secret_key, self.credentials.token
        )
        signer: SigV4Auth = (S3SigV4QueryAuth if signed.query else S3SigV4Auth)(
            credentials, signed.service, signed.region
        )
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        expected = signer.signature(string_to_sign, request)
        if not hmac.compare_digest(expected.encode(), signed.signature.encode("utf-8", "surrogateescape")):
            raise signature_mismatch(signed.access_key, string_to_sign, canonical, signed.signature)

    def check_payload(self, signed: Signed, environ: Environ) -> None:
        content_sha256 = header(environ, "x-amz-content-sha256")
        if content_sha256 == UNSIGNED_TRAILER:
            return  # the checksum travels in the trailer, which moto reads and records
        if content_sha256 and content_sha256.startswith("STREAMING-"):
            raise Refusal(
                "501 Not Implemented",
                "NotImplemented",
                f"This local S3 does not verify chunk signatures ({content_sha256}); boto3 sends none.",
            )
        checks: list[BodyCheck] = []
        if content_sha256 is not None and content_sha256 != UNSIGNED_PAYLOAD:
            try:
                expected = bytes.fromhex(content_sha256)
            except ValueError:
                expected = b""
            if len(expected) != 32:
                raise Refusal(
                    "400 Bad Request",
                    "InvalidArgument",
                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                    "or a valid sha256 value.",
                )
            checks.append(
                BodyCheck("sha256", expected, lambda actual: content_mismatch(content_sha256, actual))
            )
        if environ["REQUEST_METHOD"] == "PUT":  # PutObject and UploadPart (and tagging's XML) carry the bytes
            for algorithm in CHECKSUMS:
                value = header(environ, f"x-amz-checksum-{algorithm}")
                if value is not None:
                    checks.append(
                        BodyCheck(algorithm, checksum_bytes(algorithm, value), checksum_mismatch(algorithm))
                    )
        if checks:
            length = environ.get("CONTENT_LENGTH")
            environ["wsgi.input"] = CheckedInput(
                environ["wsgi.input"], int(length) if length else None, checks
            )


def content_mismatch(claimed: str, actual: bytes) -> Refusal:
    return Refusal(
        "400 Bad Request",
        "XAmzContentSHA256Mismatch",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ClientComputedContentSHA256=claimed,
        S3ComputedContentSHA256=actual.hex(),
    )


def checksum_mismatch(algorithm: str) -> Callable[[bytes], Refusal]:
    return lambda actual: Refusal(
        "400 Bad Request",
        "BadDigest",
        f"The {algorithm.upper()} you specified did not match the calculated checksum.",
    )


def checksum_bytes(algorithm: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise Refusal(
            "400 Bad Request", "InvalidRequest", f"Value for x-amz-checksum-{algorithm} header is invalid."
        ) from None


def query_pairs(query_string: str) -> list[tuple[str, str]]:
    """The query's (name, value) pairs, decoded; "?uploads" is ("uploads", "")."""
    return [
        (unquote(name), unquote(value))
        for name, _, value in (pair.partition("=") for pair in query_string.split("&") if pair)
    ]


def raw_path(environ: Environ) -> str:
    """The path as the client sent (and signed) it, still percent-encoded."""
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    if raw:
        path = raw.split("?", 1)[0]
        return path if path.startswith("/") else "/" + path.split("/", 3)[-1]  # absolute-form request line
    return quote(environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8"), safe="/~")


def header(environ: Environ, name: str) -> str | None:
    """A request header by its lower-case name (WSGI keeps Content-Type/-Length without HTTP_)."""
    key = name.upper().replace("-", "_")
    value = environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}")
    return None if value is None else str(value)


def amz_headers(environ: Environ) -> list[str]:
    return [key[5:].lower().replace("_", "-") for key in environ if key.startswith("HTTP_X_AMZ_")]


def emulator_app(credentials: Credentials) -> WSGIApp:
    """moto's own dispatcher (S3, SQS, /moto-api/), its S3 app wrapped in `SigV4Check`."""

    def create_app(service: Any) -> Any:
        app = create_backend_app(service)
        return SigV4Check(app, credentials) if service == "s3" else app

    return DomainDispatcherApplication(create_app)


class S3Emulator:
    """The emulator on a loopback port in a thread (tests), like moto's ThreadedMotoServer."""

    def __init__(self, credentials: Credentials, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server: BaseWSGIServer = make_server(
            host, port, emulator_app(credentials), threaded=True, request_handler=MotoRequestHandler
        )
        self.endpoint = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="s3-emulator", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()


def command(host: str, port: int) -> list[str]:
    """How `make run` and the benches start the emulator (from the project root or with it on PYTHONPATH)."""
    return [sys.executable, "-m", "devstack.s3", "--host", host, "--port", str(port)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = make_server(
        args.host,
        args.port,
        emulator_app(Credentials.from_env()),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    log.info("local S3 (moto, signatures checked) on http://%s:%d", args.host, server.server_port)
    server.serve_forever()


if __name__ == "__main__":
    main()
