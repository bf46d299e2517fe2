"""Object storage: S3 (or the local moto server) behind a small interface.

Nothing above this module imports botocore: errors become `StorageError` subclasses here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

import boto3
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Presigned URLs are bearer credentials: keep them short. Downloads live minutes; upload parts are
# re-signed on demand by the widget, so they need not outlive a slow part.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
READ_CHUNK = 1024 * 1024  # bounded: the scanner holds a few chunks at a time, whatever the object size

MIB = 1024 * 1024
GIB = 1024 * MIB
# S3's limits: CopyObject refuses a source over 5 GiB; multipart parts are 5 MiB..5 GiB, at most 10,000.
MAX_COPY_OBJECT_BYTES = 5 * GIB
MIN_COPY_PART_BYTES = 5 * MIB
MAX_COPY_PART_BYTES = 5 * GIB
MAX_COPY_PARTS = 10_000
# 256 MiB parts: a 50 GiB upload is 200 UploadPartCopy calls, each well inside the client's read timeout.
COPY_PART_BYTES = 256 * MIB
COPY_WORKERS = 4  # parts copied at once (S3 does the copying; below the client's 10 pooled connections)
# What CopyObject carries over by itself and a multipart copy must be told (besides the tags).
_COPIED_HEADERS = (
    "ContentType",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "CacheControl",
    "Metadata",
)


class StorageError(RuntimeError):
    """S3 refused or failed a request."""


class ObjectNotFound(StorageError):
    """The key (or multipart upload) does not exist."""


class StorageUnavailable(StorageError):
    """S3 could not be reached."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str  # unquoted, as GetObjectAttributes answers


@dataclass(frozen=True)
class UploadedPart:
    number: int
    etag: str
    size: int
    # Base64 SHA-256 S3 verified for the part (uploads created with checksum_algorithm="SHA256").
    checksum_sha256: str | None = None


@dataclass(frozen=True)
class MultipartUpload:
    key: str
    upload_id: str
    initiated: datetime


class ObjectStorage(Protocol):
    """What Ferry needs from object storage."""

    bucket: str

    @cached_property
    def origin(self) -> str: ...
    def ping(self) -> None: ...
    def presign_put(
        self,
        key: str,
        *,
        content_type: str,
        tags: Mapping[str, str],
        expires: int,
        checksum_sha256: str | None = None,
        content_length: int | None = None,
    ) -> tuple[str, dict[str, str]]: ...
    def create_multipart(
        self, key: str, *, content_type: str, tags: Mapping[str, str], checksum_algorithm: str | None = None
    ) -> str: ...
    def presign_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        expires: int,
        checksum_sha256: str | None = None,
        content_length: int | None = None,
    ) -> tuple[str, dict[str, str]]: ...
    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]: ...
    def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None: ...
    def abort_multipart(self, key: str, upload_id: str) -> None: ...
    def list_multipart_uploads(self, prefix: str) -> list[MultipartUpload]: ...
    def put(self, key: str, data: bytes, *, content_type: str, tags: Mapping[str, str]) -> ObjectInfo: ...
    def head(self, key: str) -> ObjectInfo: ...
    def get_tags(self, key: str) -> dict[str, str]: ...
    def put_tags(self, key: str, tags: Mapping[str, str]) -> None: ...
    def read(
        self, key: str, start: int | None = None, end: int | None = None, *, if_match: str | None = None
    ) -> Iterator[bytes]: ...
    def presign_get(
        self, key: str, *, expires: int, filename: str | None, inline: bool, content_type: str | None
    ) -> str: ...
    def copy(
        self, key: str, new_key: str, *, if_match: str | None = None, tags: Mapping[str, str] | None = None
    ) -> str: ...
    def move(self, key: str, new_key: str) -> None: ...
    def delete(self, key: str) -> None: ...


class S3Storage:
    """`ObjectStorage` over boto3; `endpoint_url` points it at the local emulator in development."""

    def __init__(
        self,
        *,
        bucket: str,
        region: str,
        endpoint_url: str | None = None,
        copy_threshold: int = MAX_COPY_OBJECT_BYTES,
        copy_part_size: int = COPY_PART_BYTES,
    ) -> None:
        if not 0 <= copy_threshold <= MAX_COPY_OBJECT_BYTES:
            raise ValueError(f"copy_threshold must be 0..{MAX_COPY_OBJECT_BYTES} (CopyObject's limit)")
        if not MIN_COPY_PART_BYTES <= copy_part_size <= MAX_COPY_PART_BYTES:
            raise ValueError(f"copy_part_size must be {MIN_COPY_PART_BYTES}..{MAX_COPY_PART_BYTES}")
        self.bucket = bucket
        self.region = region
        self.endpoint_url = endpoint_url
        # Objects above copy_threshold are moved by a multipart copy (tests lower both to a few MiB).
        self.copy_threshold = copy_threshold
        self.copy_part_size = copy_part_size
        # Our own session (same credential chain as boto3's default) so presign_get can ask it for the
        # credentials the client signs with.
        self._session = boto3.session.Session()
        self.client = self._session.client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(
                signature_version="s3v4",
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
                # Path-style works against moto and every real S3 region.
                s3={"addressing_style": "path" if endpoint_url else "virtual"},
            ),
        )

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NoSuchUpload", "NotFound", "NoSuchBucket"):
                raise ObjectNotFound(f"{method}: {code}") from exc
            raise StorageError(f"{method}: {code or exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"{method}: {type(exc).__name__}") from exc

    def ping(self) -> None:
        """Check that the bucket exists and is reachable."""
        self._call("head_bucket", Bucket=self.bucket)

    def presign_put(
        self,
        key: str,
        *,
        content_type: str,
        tags: Mapping[str, str],
        expires: int,
        checksum_sha256: str | None = None,
        content_length: int | None = None,
    ) -> tuple[str, dict[str, str]]:
        """A presigned single PUT; returns the URL and the headers the browser must send with it.

        A signed `content_length` makes S3 refuse a body of any other size (the browser sets the
        header itself, so it is not among the returned headers).
        """
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "ContentType": content_type,
            "Tagging": urlencode(dict(tags)),
        }
        headers = {"Content-Type": content_type, "x-amz-tagging": urlencode(dict(tags))}
        if checksum_sha256:
            params["ChecksumSHA256"] = checksum_sha256
            headers["x-amz-checksum-sha256"] = checksum_sha256
        if content_length is not None:
            params["ContentLength"] = content_length
        return self._presign("put_object", params, expires), headers

    def create_multipart(
        self, key: str, *, content_type: str, tags: Mapping[str, str], checksum_algorithm: str | None = None
    ) -> str:
        """Start a multipart upload; the object is born with `tags` (e.g. scan-status=pending).

        With `checksum_algorithm` ("SHA256") every part must carry its checksum, which S3 verifies.
        """
        kwargs: dict[str, Any] = {}
        if checksum_algorithm:
            kwargs["ChecksumAlgorithm"] = checksum_algorithm
        answer = self._call(
            "create_multipart_upload",
            Bucket=self.bucket,
            Key=key,
            ContentType=content_type,
            Tagging=urlencode(dict(tags)),
            **kwargs,
        )
        return str(answer["UploadId"])

    def presign_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        expires: int,
        checksum_sha256: str | None = None,
        content_length: int | None = None,
    ) -> tuple[str, dict[str, str]]:
        """A presigned URL for one part; a checksum signed into it makes S3 refuse a corrupted part."""
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": part_number,
        }
        headers: dict[str, str] = {}
        if checksum_sha256:
            params["ChecksumSHA256"] = checksum_sha256
            headers["x-amz-checksum-sha256"] = checksum_sha256
        if content_length is not None:
            params["ContentLength"] = content_length
        return self._presign("upload_part", params, expires), headers

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """Every part S3 holds for the upload, in part-number order."""
        parts: list[UploadedPart] = []
        marker = 0
        while True:
            answer = self._call(
                "list_parts",
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumberMarker=marker,
                MaxParts=1000,
            )
            parts.extend(
                UploadedPart(
                    number=int(p["PartNumber"]),
                    etag=str(p["ETag"]),
                    size=int(p["Size"]),
                    checksum_sha256=p.get("ChecksumSHA256"),
                )
                for p in answer.get("Parts", [])
            )
            if not answer.get("IsTruncated"):
                return parts
            marker = int(answer["NextPartNumberMarker"])

    def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        self._call(
            "complete_multipart_upload",
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [_completed_part(p) for p in parts]},
        )

    def abort_multipart(self, key: str, upload_id: str) -> None:
        self._call("abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id)

    def list_multipart_uploads(self, prefix: str) -> list[MultipartUpload]:
        uploads: list[MultipartUpload] = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            answer = self._call("list_multipart_uploads", **kwargs)
            uploads.extend(
                MultipartUpload(key=str(u["Key"]), upload_id=str(u["UploadId"]), initiated=u["Initiated"])
                for u in answer.get("Uploads", [])
            )
            if not answer.get("IsTruncated"):
                return uploads
            kwargs["KeyMarker"] = answer["NextKeyMarker"]
            kwargs["UploadIdMarker"] = answer["NextUploadIdMarker"]

    def put(self, key: str, data: bytes, *, content_type: str, tags: Mapping[str, str]) -> ObjectInfo:
        """Store a small object Ferry made or fetched (a preview, an agent's file), born with `tags`."""
        answer = self._call(
            "put_object",
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            Tagging=_tagging(tags),
            ChecksumAlgorithm="SHA256",
        )
        return ObjectInfo(key=key, size=len(data), etag=str(answer.get("ETag", "")).strip('"'))

    def head(self, key: str) -> ObjectInfo:
        """Size and ETag of an object. Uses GetObjectAttributes, not HeadObject: the bucket policy
        denies GetObject (and so HeadObject) on every object not yet scanned clean."""
        answer = self._call(
            "get_object_attributes", Bucket=self.bucket, Key=key, ObjectAttributes=["ETag", "ObjectSize"]
        )
        return ObjectInfo(key=key, size=int(answer["ObjectSize"]), etag=str(answer.get("ETag", "")))

    def get_tags(self, key: str) -> dict[str, str]:
        answer = self._call("get_object_tagging", Bucket=self.bucket, Key=key)
        return {str(t["Key"]): str(t["Value"]) for t in answer.get("TagSet", [])}

    def put_tags(self, key: str, tags: Mapping[str, str]) -> None:
        self._call(
            "put_object_tagging",
            Bucket=self.bucket,
            Key=key,
            Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]},
        )

    def read(
        self, key: str, start: int | None = None, end: int | None = None, *, if_match: str | None = None
    ) -> Iterator[bytes]:
        """Stream the object (or bytes start..end inclusive) in chunks; never the whole object at once.
        With `if_match` (an ETag) S3 refuses the read once the object is another one."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if if_match is not None:
            kwargs["IfMatch"] = _quoted(if_match)
        if start is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end}"
        body = self._call("get_object", **kwargs)["Body"]
        try:
            yield from body.iter_chunks(READ_CHUNK)
        except BotoCoreError as exc:
            raise StorageUnavailable(f"get_object stream: {type(exc).__name__}") from exc
        finally:
            body.close()

    @cached_property
    def _object_url_prefix(self) -> str:
        """Where this bucket's keys live, as the client resolves it: "https://bucket.s3…/" in AWS,
        "http://host:port/bucket/" against the emulator (path style)."""
        probe = "origin-probe"
        url = self._presign("get_object", {"Bucket": self.bucket, "Key": probe}, 60).split("?", 1)[0]
        return url[: -len(probe)]

    @cached_property
    def origin(self) -> str:
        """The scheme://host browsers reach this bucket at, as boto3 signs it (for the CSP)."""
        parts = urlsplit(self._object_url_prefix)
        return f"{parts.scheme}://{parts.netloc}"

    def presign_get(
        self, key: str, *, expires: int, filename: str | None, inline: bool, content_type: str | None
    ) -> str:
        """A presigned GET that makes S3 answer with our Content-Disposition and Content-Type.

        Every viewer click makes one, so it is signed by botocore's own SigV4 query signer over the
        bucket URL resolved once, without the client's per-call endpoint resolution (a third of the
        click's cost). A test checks the URL is byte for byte the one `generate_presigned_url` makes.
        """
        if not 1 <= expires <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"presigned URL lifetime must be 1..{MAX_PRESIGN_SECONDS} s")
        query: dict[str, str] = {}
        if filename is not None:
            query["response-content-disposition"] = content_disposition(filename, inline=inline)
        if content_type:
            query["response-content-type"] = content_type
        request = AWSRequest(method="GET", url=self._object_url_prefix + quote(key, safe="/~"), params=query)
        credentials = self._session.get_credentials()
        if credentials is None:
            raise StorageError("presign get_object: no AWS credentials")
        try:
            frozen = credentials.get_frozen_credentials()
            S3SigV4QueryAuth(frozen, "s3", self.region, expires=expires).add_auth(request)
        except BotoCoreError as exc:
            raise StorageError(f"presign get_object: {type(exc).__name__}") from exc
        return str(request.prepare().url)

    def copy(
        self, key: str, new_key: str, *, if_match: str | None = None, tags: Mapping[str, str] | None = None
    ) -> str:
        """Copy the object (content, content type, metadata, and its tags or `tags`) to `new_key`, check the
        copy's size, and return the copy's ETag (unquoted, as `head` gives it). With `if_match` only the
        object of that ETag is copied: one replaced since fails the copy (StorageError). Repeating it is safe.

        Up to `copy_threshold` (S3's 5 GiB CopyObject limit) one atomic CopyObject; above it a multipart
        copy (`_multipart_copy`). HeadObject on an object not scanned clean is allowed only to the scanner
        (bucket policy), the only caller. ObjectNotFound means the source is not there, nothing else.
        """
        source = self._call("head_object", Bucket=self.bucket, Key=key)
        if if_match is not None and source["ETag"] != _quoted(if_match):
            raise StorageError(f"copy {key}: the object changed (ETag {source['ETag']}, not {if_match})")
        size = int(source["ContentLength"])
        try:
            if size > self.copy_threshold:
                self._multipart_copy(key, new_key, source, tags)
            else:
                tagging: dict[str, Any] = {"TaggingDirective": "COPY"}
                if tags is not None:
                    tagging = {"TaggingDirective": "REPLACE", "Tagging": _tagging(tags)}
                self._call(
                    "copy_object",
                    Bucket=self.bucket,
                    Key=new_key,
                    CopySource={"Bucket": self.bucket, "Key": key},
                    CopySourceIfMatch=source["ETag"],
                    **tagging,
                )
            copied = self._call("head_object", Bucket=self.bucket, Key=new_key)
        except ObjectNotFound as exc:
            # A vanished upload or copy: retryable. Should the source be gone, the retry's HeadObject says so.
            raise StorageError(f"copy {key}: {exc}") from exc
        if int(copied["ContentLength"]) != size:
            # Remove the bad copy, or a later "already moved?" check could take it for the object.
            self.delete(new_key)
            raise StorageError(f"copy {key}: the copy has {copied['ContentLength']} bytes, the source {size}")
        return str(copied["ETag"]).strip('"')

    def move(self, key: str, new_key: str) -> None:
        """`copy` the object, then delete the original. A failed move leaves the original in place;
        repeating it is safe."""
        self.copy(key, new_key)
        self.delete(key)

    def _multipart_copy(
        self, key: str, new_key: str, source: Mapping[str, Any], tags: Mapping[str, str] | None
    ) -> None:
        """Copy an object of any size with UploadPartCopy, a few parts at a time; abort on any failure.

        Hand-written rather than boto3's managed `client.copy`: what that carries over in a multipart copy
        depends on the (unpinned) s3transfer version (older ones drop the tags and content type, 0.19 adds
        the tags by a separate PutObjectTagging after completion), and its errors bypass `_call`. Here the
        copy is born with the source's headers and tags (UploadPartCopy cannot copy tags), and every part
        names the source's ETag, so a source replaced mid-copy fails the copy instead of mixing versions.
        """
        headers = {name: source[name] for name in _COPIED_HEADERS if name in source}
        created = self._call(
            "create_multipart_upload",
            Bucket=self.bucket,
            Key=new_key,
            Tagging=_tagging(tags if tags is not None else self.get_tags(key)),
            **headers,
        )
        upload_id = str(created["UploadId"])

        def copy_part(part: tuple[int, int, int]) -> dict[str, Any]:
            number, first, last = part
            answer = self._call(
                "upload_part_copy",
                Bucket=self.bucket,
                Key=new_key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource={"Bucket": self.bucket, "Key": key},
                CopySourceRange=f"bytes={first}-{last}",
                CopySourceIfMatch=source["ETag"],
            )
            return {"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]}

        ranges = copy_ranges(int(source["ContentLength"]), self.copy_part_size)
        try:
            pool = ThreadPoolExecutor(max_workers=min(COPY_WORKERS, len(ranges)), thread_name_prefix="copy")
            try:
                parts = list(pool.map(copy_part, ranges))
            finally:
                # On a failure start no further part and let the running ones end: a part finishing after
                # the abort would leave the upload (and its billed storage) behind.
                pool.shutdown(wait=True, cancel_futures=True)
            self._call(
                "complete_multipart_upload",
                Bucket=self.bucket,
                Key=new_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            try:
                self.abort_multipart(new_key, upload_id)
            except StorageError:
                pass  # the bucket's lifecycle rule aborts it within days; the copy's own error matters more
            raise

    def delete(self, key: str) -> None:
        self._call("delete_object", Bucket=self.bucket, Key=key)

    def _presign(self, method: str, params: dict[str, Any], expires: int) -> str:
        if not 1 <= expires <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"presigned URL lifetime must be 1..{MAX_PRESIGN_SECONDS} s")
        try:
            return str(self.client.generate_presigned_url(method, Params=params, ExpiresIn=expires))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"presign {method}: {type(exc).__name__}") from exc

    # -- bucket set-up (`flask storage init`) -------------------------------------------------

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (development; production buckets come from IaC)."""
        try:
            self.ping()
        except ObjectNotFound:
            kwargs: dict[str, Any] = {"Bucket": self.bucket}
            if self.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            self._call("create_bucket", **kwargs)

    def configure(
        self, *, widget_origins: tuple[str, ...], queue_arn: str, incoming_prefix: str, abort_after_days: int
    ) -> None:
        """CORS for the widget (with ETag exposed), S3→SQS events, abandoned-upload clean-up."""
        self._call(
            "put_bucket_cors",
            Bucket=self.bucket,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": list(widget_origins),
                        "AllowedMethods": ["PUT", "GET", "HEAD"],
                        "AllowedHeaders": ["*"],
                        # The browser must read each part's ETag to complete a multipart upload.
                        "ExposeHeaders": ["ETag"],
                        "MaxAgeSeconds": 3600,
                    }
                ]
            },
        )
        self._call(
            "put_bucket_notification_configuration",
            Bucket=self.bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "Id": "ferry-scan-incoming",
                        "QueueArn": queue_arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": incoming_prefix}]}},
                    }
                ]
            },
        )
        self._call(
            "put_bucket_lifecycle_configuration",
            Bucket=self.bucket,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": "abort-incomplete-multipart-uploads",
                        "Status": "Enabled",
                        "Filter": {"Prefix": ""},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": abort_after_days},
                    }
                ]
            },
        )

    def describe_configuration(self) -> dict[str, Any]:
        """The bucket's CORS, notification and lifecycle set-up (for tests and `flask storage show`)."""
        return {
            "cors": self._call("get_bucket_cors", Bucket=self.bucket).get("CORSRules", []),
            "notification": self._call("get_bucket_notification_configuration", Bucket=self.bucket).get(
                "QueueConfigurations", []
            ),
            "lifecycle": self._call("get_bucket_lifecycle_configuration", Bucket=self.bucket).get(
                "Rules", []
            ),
        }


def _completed_part(part: UploadedPart) -> dict[str, Any]:
    """One part of a CompleteMultipartUpload; S3 wants each part's checksum back when it verified one."""
    entry: dict[str, Any] = {"PartNumber": part.number, "ETag": part.etag}
    if part.checksum_sha256:
        entry["ChecksumSHA256"] = part.checksum_sha256
    return entry


def _tagging(tags: Mapping[str, str]) -> str:
    """Tags as a copy's x-amz-tagging header: spaces ("ClamAV 1.4.2") as %20, which every decoder reads as
    one; "+" is a space only to some."""
    return urlencode(dict(tags), quote_via=quote)


def _quoted(etag: str) -> str:
    """An ETag as HTTP headers and most S3 answers spell it (GetObjectAttributes leaves out the quotes)."""
    return f'"{etag.strip(chr(34))}"'


def copy_ranges(size: int, part_size: int) -> list[tuple[int, int, int]]:
    """(part number, first byte, last byte) of each part of a multipart copy of `size` bytes.

    Parts are `part_size`, grown (to whole MiB) when that would need more than S3's 10,000 parts.
    """
    part = max(part_size, MIN_COPY_PART_BYTES, -(-size // MAX_COPY_PARTS))
    part = -(-part // MIB) * MIB
    if part > MAX_COPY_PART_BYTES:
        raise StorageError(f"{size} bytes is more than a multipart copy can hold")
    return [
        (number, first, min(first + part, size) - 1) for number, first in enumerate(range(0, size, part), 1)
    ]


def content_disposition(filename: str, *, inline: bool) -> str:
    """An RFC 6266 Content-Disposition with an ASCII fallback and the RFC 5987 UTF-8 name."""
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\%;' else "_" for c in filename) or "file"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def queue_policy(queue_arn: str, bucket: str) -> str:
    """The SQS access policy that lets the bucket send its event notifications to the queue."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
                }
            ],
        }
    )
