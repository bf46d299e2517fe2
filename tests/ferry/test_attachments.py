"""The upload domain against moto and a migrated database: policy, sizing, names, and every step."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy.orm import Session

from ferry import attachments as att
from ferry.attachments import FileDeclaration, PartChecksum, UploadError, UploadPolicy, UploadRejected
from ferry.config import GIB, MIB
from ferry.db import utcnow
from ferry.mediatypes import matches
from ferry.models import Attachment, AttachmentStatus, Chat
from ferry.services import Services
from ferry.storage import ObjectNotFound, S3Storage

SMALL_MAX = 8 * MIB


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture
def policy(services: Services) -> UploadPolicy:
    return UploadPolicy.from_settings(services.settings)


@pytest.fixture
def storage(services: Services) -> S3Storage:
    return services.storage


@pytest.fixture
def session(services: Services) -> Iterator[Session]:
    with services.db.session() as s:
        yield s


@pytest.fixture
def chat(session: Session) -> Chat:
    return new_chat(session)


def new_chat(session: Session) -> Chat:
    chat = Chat(expires_at=utcnow() + timedelta(hours=1))
    session.add(chat)
    session.flush()
    return chat


def declare(
    name: str = "clip.mp4", size: int = 20 * MIB, kind: str = "video/mp4", fp: str | None = None
) -> FileDeclaration:
    return FileDeclaration(name=name, size=size, content_type=kind, fingerprint=fp)


def put(url: str, headers: dict[str, str], body: bytes) -> None:
    requests.put(url, data=body, headers=headers, timeout=30).raise_for_status()


def upload_parts(
    storage: S3Storage, policy: UploadPolicy, attachment: Attachment, data: bytes, numbers: list[int]
) -> None:
    size = attachment.part_size or len(data)
    chunks = {n: data[(n - 1) * size : n * size] for n in numbers}
    signed = att.sign_parts(
        storage, policy, attachment, [PartChecksum(n, sha256_b64(c)) for n, c in chunks.items()]
    )
    for part in signed.parts:
        put(part.url, part.headers, chunks[part.number])


# -- pure helpers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [(1, 8 * MIB), (80 * MIB, 8 * MIB), (50 * GIB, 8 * MIB), (200 * GIB, -(-200 * GIB // 10_000))],
)
def test_part_size_is_8_mib_or_whatever_keeps_the_file_within_10000_parts(size: int, expected: int) -> None:
    assert att.part_size_for(size) == expected
    assert att.part_count(size, att.part_size_for(size)) <= 10_000


def test_part_layout_is_full_parts_then_the_remainder() -> None:
    size = 2 * 8 * MIB + 5
    part = att.part_size_for(size)
    assert att.part_count(size, part) == 3
    assert [att.expected_part_size(size, part, n) for n in (1, 2, 3)] == [8 * MIB, 8 * MIB, 5]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ann\\Scan 01.pdf", "Scan 01.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # RIGHT-TO-LEFT OVERRIDE would show "invoiceexe.pdf"
        ("a\u2066b\u2069c\u200f.png", "abc.png"),  # isolates and marks
        ("line\nbreak\tand\x00nul.txt", "line break andnul.txt"),
        ('what?<is>|"this"*.pdf', "what__is___this__.pdf"),
        ("  .hidden.  ", "hidden"),
        ("CON.txt", "_CON.txt"),
        ("", "file"),
        ("../", "file"),
        ("Ünïcödé résumé.pdf", "Ünïcödé résumé.pdf"),
    ],
)
def test_file_names_are_sanitised(raw: str, clean: str) -> None:
    assert att.sanitize_filename(raw) == clean


def test_long_names_are_cut_but_keep_their_extension() -> None:
    name = att.sanitize_filename("x" * 500 + ".dicom")
    assert len(name) == att.MAX_FILENAME_CHARS
    assert name.endswith("x.dicom")


@pytest.mark.parametrize(
    ("declared", "name", "resolved"),
    [
        ("Video/MP4; codecs=avc1", "a.mp4", "video/mp4"),
        ("", "IM0001.dcm", "application/dicom"),
        ("application/octet-stream", "report.pdf", "application/pdf"),
        ("", "noextension", "application/octet-stream"),
    ],
)
def test_types_are_normalised_and_guessed_from_the_extension_when_missing(
    declared: str, name: str, resolved: str
) -> None:
    assert att.resolve_type(declared, name) == resolved


def test_default_policy_allows_the_promised_types(policy: UploadPolicy) -> None:
    for kind in (
        "video/mp4",
        "image/png",
        "audio/mpeg",
        "application/pdf",
        "application/dicom",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ):
        assert matches(kind, policy.allowed_types), kind
    for kind in ("application/x-msdownload", "text/html", "application/zip", "application/octet-stream"):
        assert not matches(kind, policy.allowed_types), kind


# -- policy, refused before any byte moves ----------------------------------------------------------


@pytest.mark.parametrize(
    ("declaration", "code"),
    [
        (declare(size=0), "empty_file"),
        (declare(size=-1), "invalid_request"),
        (declare(size=50 * GIB + 1), "too_large"),
        (declare(name="setup.exe", kind="application/x-msdownload"), "type_not_allowed"),
        (declare(name="page.html", kind="text/html"), "type_not_allowed"),
        (declare(kind="not a type"), "type_not_allowed"),
        (declare(fp="short"), "invalid_request"),
        (declare(fp="has spaces in it"), "invalid_request"),
    ],
)
def test_policy_refusals_create_nothing(
    session: Session,
    storage: S3Storage,
    policy: UploadPolicy,
    chat: Chat,
    declaration: FileDeclaration,
    code: str,
) -> None:
    with pytest.raises(UploadError) as refused:
        att.create_upload(session, storage, policy, chat, declaration)
    assert refused.value.code == code
    assert refused.value.message
    assert att.list_chat_attachments(session, chat.id) == []
    assert storage.list_multipart_uploads("") == []


def test_size_limit_is_configurable(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    small = replace(policy, max_bytes=10 * MIB)
    with pytest.raises(UploadError, match="too_large"):
        att.create_upload(session, storage, small, chat, declare(size=10 * MIB + 1))
    attachment, _ = att.create_upload(session, storage, small, chat, declare(size=10 * MIB))
    assert attachment.declared_size == 10 * MIB


def test_files_per_chat_limit_counts_live_files_only(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    two = replace(policy, max_files_per_chat=2)
    first, _ = att.create_upload(session, storage, two, chat, declare(name="a.mp4"))
    att.create_upload(session, storage, two, chat, declare(name="b.mp4"))
    with pytest.raises(UploadError) as refused:
        att.create_upload(session, storage, two, chat, declare(name="c.mp4"))
    assert refused.value.code == "too_many_files"
    att.abort_upload(session, storage, first)  # a cancelled file frees its place
    att.create_upload(session, storage, two, chat, declare(name="c.mp4"))
    # Another chat has its own allowance.
    att.create_upload(session, storage, two, new_chat(session), declare(name="d.mp4"))


def test_a_closed_chat_takes_no_files(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    chat.closed_at = utcnow()
    with pytest.raises(UploadError, match="chat_closed"):
        att.create_upload(session, storage, policy, chat, declare())


# -- create ---------------------------------------------------------------------------------------------


def test_create_multipart_keys_the_object_by_attachment_id(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    attachment, resumed = att.create_upload(
        session, storage, policy, chat, declare(name="../secret/Holiday \u202eclip.mp4", size=100 * MIB)
    )
    assert not resumed
    assert attachment.object_key == f"{policy.incoming_prefix}{attachment.id}"
    assert "clip" not in attachment.object_key
    assert attachment.filename == "Holiday clip.mp4"
    assert (attachment.strategy, attachment.part_size, att.part_total(attachment)) == (
        "multipart",
        8 * MIB,
        13,
    )
    assert attachment.status == AttachmentStatus.CREATED
    [upload] = storage.list_multipart_uploads(policy.incoming_prefix)
    assert (upload.key, upload.upload_id) == (attachment.object_key, attachment.upload_id)


def test_small_files_get_one_put(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    attachment, _ = att.create_upload(
        session, storage, policy, chat, declare(name="a.png", size=SMALL_MAX, kind="image/png")
    )
    assert (attachment.strategy, attachment.upload_id, att.part_total(attachment)) == ("single", None, 1)
    assert storage.list_multipart_uploads("") == []


def test_the_same_file_again_resumes_the_unfinished_upload(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    first, _ = att.create_upload(session, storage, policy, chat, declare(fp="fp-0123456789abcdef"))
    again, resumed = att.create_upload(session, storage, policy, chat, declare(fp="fp-0123456789abcdef"))
    assert resumed and again.id == first.id
    other_chat, resumed_elsewhere = att.create_upload(
        session, storage, policy, new_chat(session), declare(fp="fp-0123456789abcdef")
    )
    assert not resumed_elsewhere and other_chat.id != first.id
    att.abort_upload(session, storage, first)
    fresh, resumed = att.create_upload(session, storage, policy, chat, declare(fp="fp-0123456789abcdef"))
    assert not resumed and fresh.id != first.id


def test_another_chats_attachment_is_not_found(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    attachment, _ = att.create_upload(session, storage, policy, chat, declare())
    assert att.get_attachment(session, chat.id, attachment.id) is attachment
    for chat_id, attachment_id in ((new_chat(session).id, attachment.id), (chat.id, "no-such-id")):
        with pytest.raises(UploadError) as refused:
            att.get_attachment(session, chat_id, attachment_id)
        assert refused.value.code == "not_found"


# -- sign -------------------------------------------------------------------------------------------------


def test_signed_part_urls_carry_the_checksum_and_exact_length(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    attachment, _ = att.create_upload(session, storage, policy, chat, declare(size=2 * 8 * MIB + 5))
    checksum = sha256_b64(b"x")
    signed = att.sign_parts(
        storage, policy, attachment, [PartChecksum(1, checksum), PartChecksum(3, checksum)]
    )
    assert [p.number for p in signed.parts] == [1, 3]
    assert signed.expires_at > utcnow() + timedelta(seconds=policy.url_seconds - 5)
    query = parse_qs(urlsplit(signed.parts[1].url).query)
    # Real S3 refuses a part whose body does not hash to the signed checksum or is not the signed length.
    assert set(query["X-Amz-SignedHeaders"][0].split(";")) >= {"content-length", "x-amz-checksum-sha256"}
    assert query["partNumber"] == ["3"] and query["uploadId"] == [attachment.upload_id]
    assert query["X-Amz-Expires"] == [str(policy.url_seconds)]
    assert signed.parts[1].headers == {"x-amz-checksum-sha256": checksum}


def test_single_put_url_signs_type_tags_checksum_and_length(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    attachment, _ = att.create_upload(
        session, storage, policy, chat, declare(name="a.pdf", size=5, kind="application/pdf")
    )
    [part] = att.sign_parts(storage, policy, attachment, [PartChecksum(1, sha256_b64(b"%PDF-"))]).parts
    signed_headers = set(parse_qs(urlsplit(part.url).query)["X-Amz-SignedHeaders"][0].split(";"))
    assert signed_headers >= {"content-length", "content-type", "x-amz-checksum-sha256", "x-amz-tagging"}
    assert part.headers["x-amz-tagging"] == "scan-status=pending"
    assert part.headers["Content-Type"] == "application/pdf"


@pytest.mark.parametrize(
    ("numbers", "code"),
    [
        ([0], "part_out_of_range"),
        ([4], "part_out_of_range"),
        ([-1], "part_out_of_range"),
        ([1, 1], "invalid_request"),
    ],
)
def test_part_numbers_out_of_range_are_refused(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat, numbers: list[int], code: str
) -> None:
    attachment, _ = att.create_upload(session, storage, policy, chat, declare(size=2 * 8 * MIB + 5))
    with pytest.raises(UploadError) as refused:
        att.sign_parts(storage, policy, attachment, [PartChecksum(n, sha256_b64(b"")) for n in numbers])
    assert refused.value.code == code


@pytest.mark.parametrize("checksum", ["", "abc", base64.b64encode(b"x" * 31).decode(), "!" * 44])
def test_parts_need_a_sha256_checksum(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat, checksum: str
) -> None:
    attachment, _ = att.create_upload(session, storage, policy, chat, declare())
    with pytest.raises(UploadError, match="invalid_checksum"):
        att.sign_parts(storage, policy, attachment, [PartChecksum(1, checksum)])


def test_sign_batches_are_bounded(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    attachment, _ = att.create_upload(session, storage, policy, chat, declare(size=2 * GIB))
    too_many = [PartChecksum(n, sha256_b64(b"")) for n in range(1, att.MAX_SIGN_BATCH + 2)]
    with pytest.raises(UploadError, match="invalid_request"):
        att.sign_parts(storage, policy, attachment, too_many)
    with pytest.raises(UploadError, match="invalid_request"):
        att.sign_parts(storage, policy, attachment, [])
    assert len(att.sign_parts(storage, policy, attachment, too_many[:-1]).parts) == att.MAX_SIGN_BATCH


# -- upload, list, complete ---------------------------------------------------------------------------------


def test_multipart_upload_resumes_from_listed_parts_and_completes(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    data = bytes(range(256)) * (2 * 8 * MIB // 256) + b"tail!"
    attachment, _ = att.create_upload(session, storage, policy, chat, declare(size=len(data)))
    upload_parts(storage, policy, attachment, data, [1, 3])
    assert [(p.number, p.size) for p in att.list_uploaded_parts(storage, attachment)] == [
        (1, 8 * MIB),
        (3, 5),
    ]

    with pytest.raises(UploadError) as refused:
        att.complete_upload(session, storage, attachment)
    assert refused.value.code == "parts_missing"
    assert "(2)" in refused.value.message
    assert attachment.status == AttachmentStatus.CREATED

    upload_parts(storage, policy, attachment, data, [2])
    done = att.complete_upload(session, storage, attachment)
    assert done.status == AttachmentStatus.UPLOADED
    assert (done.size, done.status_reason) == (len(data), None)
    assert done.uploaded_at is not None
    assert (
        hashlib.sha256(b"".join(storage.read(attachment.object_key))).digest()
        == hashlib.sha256(data).digest()
    )
    assert storage.get_tags(attachment.object_key) == {"scan-status": "pending"}
    assert storage.list_multipart_uploads("") == []
    # A retried complete (its first answer lost) changes nothing.
    assert att.complete_upload(session, storage, attachment).status == AttachmentStatus.UPLOADED
    # No upload URL for a complete file: a kept one could otherwise write it again.
    with pytest.raises(UploadError, match="upload_complete"):
        att.sign_parts(storage, policy, attachment, [PartChecksum(1, sha256_b64(b""))])


def test_complete_after_s3_completed_but_the_answer_was_lost(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    data = b"a" * (8 * MIB) + b"b"
    attachment, _ = att.create_upload(session, storage, policy, chat, declare(size=len(data)))
    upload_parts(storage, policy, attachment, data, [1, 2])
    storage.complete_multipart(
        attachment.object_key,
        str(attachment.upload_id),
        storage.list_parts(attachment.object_key, str(attachment.upload_id)),
    )
    assert att.complete_upload(session, storage, attachment).status == AttachmentStatus.UPLOADED


def test_single_put_completes(session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat) -> None:
    data = b"%PDF-1.7 tiny"
    attachment, _ = att.create_upload(
        session, storage, policy, chat, declare(name="a.pdf", size=len(data), kind="application/pdf")
    )
    with pytest.raises(UploadError, match="parts_missing"):
        att.complete_upload(session, storage, attachment)
    assert att.list_uploaded_parts(storage, attachment) == []
    upload_parts(storage, policy, attachment, data, [1])
    assert [p.size for p in att.list_uploaded_parts(storage, attachment)] == [len(data)]
    assert att.complete_upload(session, storage, attachment).size == len(data)
    assert storage.get_tags(attachment.object_key) == {"scan-status": "pending"}


def test_a_size_mismatch_deletes_the_object_and_rejects_the_attachment(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    attachment, _ = att.create_upload(
        session, storage, policy, chat, declare(name="a.pdf", size=10, kind="application/pdf")
    )
    [part] = att.sign_parts(storage, policy, attachment, [PartChecksum(1, sha256_b64(b"0123456789"))]).parts
    # moto does not enforce the signed Content-Length (real S3 would refuse this PUT outright).
    put(part.url, part.headers, b"0123456789 and more")
    with pytest.raises(UploadRejected) as rejected:
        att.complete_upload(session, storage, attachment)
    assert rejected.value.code == "size_mismatch"
    assert attachment.status == AttachmentStatus.REJECTED
    assert attachment.status_reason is not None and "19 bytes" in attachment.status_reason
    assert att.display_reason(attachment) == attachment.status_reason
    with pytest.raises(ObjectNotFound):
        storage.head(attachment.object_key)


def test_a_multipart_size_mismatch_is_rejected_too(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    attachment, _ = att.create_upload(session, storage, policy, chat, declare(size=8 * MIB + 1))
    upload_parts(storage, policy, attachment, b"a" * (8 * MIB) + b"bbbb", [1, 2])
    with pytest.raises(UploadRejected, match="size_mismatch"):
        att.complete_upload(session, storage, attachment)
    assert attachment.status == AttachmentStatus.REJECTED
    with pytest.raises(ObjectNotFound):
        storage.head(attachment.object_key)


def test_parts_s3_cannot_assemble_reject_the_upload(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    attachment, _ = att.create_upload(session, storage, policy, chat, declare(size=8 * MIB + 1))
    upload_parts(
        storage, policy, attachment, b"a" * 1024 + b"b", [1, 2]
    )  # a first part under S3's 5 MiB minimum
    with pytest.raises(UploadRejected, match="assembly_failed"):
        att.complete_upload(session, storage, attachment)
    assert attachment.status == AttachmentStatus.REJECTED
    assert storage.list_multipart_uploads("") == []


def test_an_upload_discarded_behind_our_back_is_expired(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    attachment, _ = att.create_upload(session, storage, policy, chat, declare())
    storage.abort_multipart(
        attachment.object_key, str(attachment.upload_id)
    )  # e.g. the bucket's lifecycle rule
    for step in (
        lambda: att.list_uploaded_parts(storage, attachment),
        lambda: att.complete_upload(session, storage, attachment),
    ):
        with pytest.raises(UploadError, match="upload_expired"):
            step()


# -- abort and expire ----------------------------------------------------------------------------------


def test_abort_drops_every_part(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    data = b"a" * (8 * MIB) + b"b"
    attachment, _ = att.create_upload(session, storage, policy, chat, declare(size=len(data)))
    upload_parts(storage, policy, attachment, data, [1])
    att.abort_upload(session, storage, attachment)
    assert attachment.status == AttachmentStatus.ABORTED
    assert att.display_state(attachment) == "cancelled"
    assert storage.list_multipart_uploads("") == []
    assert att.abort_upload(session, storage, attachment).status == AttachmentStatus.ABORTED  # idempotent
    with pytest.raises(UploadError, match="not_uploading"):
        att.complete_upload(session, storage, attachment)


def test_abort_of_a_single_put_deletes_what_landed(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    attachment, _ = att.create_upload(
        session, storage, policy, chat, declare(name="a.png", size=3, kind="image/png")
    )
    upload_parts(storage, policy, attachment, b"png", [1])
    att.abort_upload(session, storage, attachment)
    with pytest.raises(ObjectNotFound):
        storage.head(attachment.object_key)


def test_a_delivered_file_cannot_be_cancelled(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    attachment, _ = att.create_upload(
        session, storage, policy, chat, declare(name="a.png", size=3, kind="image/png")
    )
    upload_parts(storage, policy, attachment, b"png", [1])
    att.complete_upload(session, storage, attachment)
    with pytest.raises(UploadError, match="not_cancellable"):
        att.abort_upload(session, storage, attachment)


def test_expire_aborts_abandoned_uploads_and_orphans_but_not_fresh_ones(
    session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat
) -> None:
    old, _ = att.create_upload(session, storage, policy, chat, declare(name="old.mp4"))
    old.created_at = utcnow() - timedelta(hours=25)
    old_single, _ = att.create_upload(
        session, storage, policy, chat, declare(name="old.png", size=3, kind="image/png")
    )
    old_single.created_at = utcnow() - timedelta(hours=25)
    upload_parts(storage, policy, old_single, b"png", [1])
    fresh, _ = att.create_upload(session, storage, policy, chat, declare(name="fresh.mp4"))
    # No attachment owns this one (moto reports every upload as initiated in 2010, so it counts as old).
    storage.create_multipart(f"{policy.incoming_prefix}orphan", content_type="video/mp4", tags={})
    session.flush()

    report = att.expire_abandoned(session, storage, policy)
    assert report == att.ExpiryReport(expired_attachments=2, aborted_uploads=2)
    assert (old.status, old_single.status, fresh.status) == ("expired", "expired", "created")
    assert att.display_state(old) == "expired" and att.display_reason(old)
    with pytest.raises(ObjectNotFound):
        storage.head(old_single.object_key)
    assert [u.upload_id for u in storage.list_multipart_uploads("")] == [fresh.upload_id]

    later = att.expire_abandoned(
        session, storage, policy, older_than=timedelta(0), now=utcnow() + timedelta(seconds=5)
    )
    assert later == att.ExpiryReport(expired_attachments=1, aborted_uploads=1)
    assert storage.list_multipart_uploads("") == []


def test_display_states(session: Session, storage: S3Storage, policy: UploadPolicy, chat: Chat) -> None:
    attachment, _ = att.create_upload(session, storage, policy, chat, declare())
    seen = {}
    for status in AttachmentStatus:
        attachment.status = status
        attachment.status_reason = None
        seen[status.value] = att.display_state(attachment)
    attachment.status, attachment.announced_at = AttachmentStatus.CLEAN, utcnow()
    assert att.display_state(attachment) == "delivered"
    assert seen == {
        "created": "uploading",
        "uploaded": "scanning",
        "scanning": "scanning",
        "clean": "scanning",
        "infected": "rejected",
        "rejected": "rejected",
        "too_large": "rejected",
        "failed": "rejected",
        "aborted": "cancelled",
        "expired": "expired",
    }
    attachment.status, attachment.status_reason = AttachmentStatus.INFECTED, "Eicar-Test-Signature"
    assert "Eicar" not in (att.display_reason(attachment) or "")


def test_the_expire_command(app: Flask, services: Services, policy: UploadPolicy) -> None:
    with services.db.session() as session:
        chat = new_chat(session)
        attachment, _ = att.create_upload(session, services.storage, policy, chat, declare())
        attachment_id = attachment.id
    runner = app.test_cli_runner()
    kept = runner.invoke(args=["uploads", "expire"])
    assert kept.exit_code == 0, kept.output
    assert "expired 0 attachment(s), aborted 0 multipart upload(s)" in kept.output
    result = runner.invoke(args=["uploads", "expire", "--older-than-hours", "0"])
    assert result.exit_code == 0, result.output
    assert "expired 1 attachment(s), aborted 1 multipart upload(s)" in result.output
    with services.db.session() as session:
        assert session.get_one(Attachment, attachment_id).status == AttachmentStatus.EXPIRED
    assert services.storage.list_multipart_uploads("") == []
