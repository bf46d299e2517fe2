"""ferry.access.opening: one request to open an attachment, decided, presigned and audited as one outcome."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from ferry.access.audit import Action, Requester
from ferry.access.identity import Access, Identity
from ferry.access.opening import (
    Disposition,
    Granted,
    Refusal,
    Refused,
    identify_caller,
    open_attachment,
    open_attachment_with_token,
)
from ferry.access.refusals import AccessDenied, AccessUnavailable, Reason
from ferry.access.serving import served_type
from ferry.announcement import announcement_text
from ferry.config import DEV_ORG_ID
from ferry.models import AccessAudit, AttachmentStatus, AuditOutcome
from ferry.services import Services
from tests.viewer.seeding import add_attachment

REVIEWER = Identity(
    user_id="reviewer-1",
    name="Rita Reviewer",
    email=None,
    org_id=DEV_ORG_ID,
    roles=("Quality Evaluator",),
    access=frozenset({Access.REVIEWER}),
)
FROM = Requester(ip="203.0.113.7", user_agent="pytest")
MISSING = "00000000-0000-4000-8000-000000000000"


def audit_rows(services: Services) -> list[tuple[str | None, str, str, str | None, str | None]]:
    with services.db.session() as session:
        rows = session.scalars(select(AccessAudit).order_by(AccessAudit.id))
        return [(r.user_id, r.action, r.outcome, r.attachment_id, r.reason) for r in rows]


def download(services: Services, attachment_id: str) -> Granted | Refused:
    return open_attachment(
        services,
        REVIEWER,
        attachment_id,
        action=Action.DOWNLOAD,
        requester=FROM,
        serve=Disposition.ATTACHMENT,
    )


def test_a_clean_file_is_granted_with_a_fresh_url_and_one_audit_row(services: Services) -> None:
    attachment = add_attachment(services)

    outcome = download(services, attachment.id)

    assert isinstance(outcome, Granted) and outcome.attachment.id == attachment.id
    assert outcome.disposition is Disposition.ATTACHMENT and outcome.expires_at is not None
    assert parse_qs(urlsplit(str(outcome.url)).query)["X-Amz-Expires"] == ["300"]
    assert audit_rows(services) == [
        ("reviewer-1", "download", AuditOutcome.ALLOWED, attachment.id, "attachment")
    ]


def test_only_a_safe_type_is_served_inline(services: Services) -> None:
    video = add_attachment(services, declared_type="video/mp4")
    dicom = add_attachment(services, filename="ct.dcm", declared_type="application/dicom")

    shown = [
        open_attachment(
            services, REVIEWER, a.id, action=Action.PREVIEW, requester=FROM, serve=Disposition.INLINE
        )
        for a in (video, dicom)
    ]

    assert [o.disposition for o in shown if isinstance(o, Granted)] == [
        Disposition.INLINE,
        Disposition.ATTACHMENT,
    ]


def test_a_file_not_yet_clean_is_refused_with_its_attachment_so_the_caller_can_say_why(
    services: Services,
) -> None:
    attachment = add_attachment(services, status=AttachmentStatus.SCANNING, tag="pending")

    outcome = download(services, attachment.id)

    assert isinstance(outcome, Refused)
    assert (outcome.refusal, outcome.reason) == (Refusal.NOT_SERVABLE, Reason.NOT_CLEAN)
    assert outcome.attachment is not None and outcome.attachment.id == attachment.id
    assert audit_rows(services)[-1][2:] == (AuditOutcome.DENIED, attachment.id, "not_clean: status=scanning")


def test_the_page_alone_needs_no_url_and_shows_any_status(services: Services) -> None:
    attachment = add_attachment(services, status=AttachmentStatus.INFECTED, tag="infected")

    outcome = open_attachment(
        services, REVIEWER, attachment.id, action=Action.VIEW, requester=FROM, serve=None
    )

    assert isinstance(outcome, Granted) and outcome.url is None
    assert audit_rows(services) == [("reviewer-1", "view", AuditOutcome.ALLOWED, attachment.id, None)]


def test_missing_and_malformed_ids_are_not_found_and_audited_as_sent(services: Services) -> None:
    outcomes = [
        open_attachment(services, REVIEWER, raw, action=Action.VIEW, requester=FROM, serve=None)
        for raw in (MISSING, "../etc")
    ]

    assert [(o.refusal, o.reason) for o in outcomes if isinstance(o, Refused)] == [
        (Refusal.NOT_FOUND, Reason.NOT_FOUND),
        (Refusal.NOT_FOUND, Reason.MALFORMED_ID),
    ]
    assert [row[3:] for row in audit_rows(services)] == [(MISSING, "not_found"), ("../etc", "malformed_id")]


def test_the_row_read_with_the_session_is_used_instead_of_reading_again(services: Services) -> None:
    attachment = add_attachment(services)
    asked = []

    def preloaded(attachment_id: str) -> None:
        asked.append(attachment_id)
        return None  # what the session's select found: nothing

    outcome = open_attachment(
        services,
        REVIEWER,
        attachment.id.upper(),
        action=Action.VIEW,
        requester=FROM,
        serve=None,
        load=preloaded,
    )

    assert asked == [attachment.id]  # the canonical id
    assert isinstance(outcome, Refused) and outcome.reason == Reason.NOT_FOUND


def test_a_caller_is_identified_or_refused_with_who_genesys_says_they_are() -> None:
    def inactive(token: str) -> Identity:
        raise AccessDenied(Reason.USER_INACTIVE, "state=inactive", user_id="u-9", user_name="Ina")

    def down(token: str) -> Identity:
        raise AccessUnavailable(Reason.GENESYS_UNAVAILABLE, "timeout")

    assert identify_caller("t", lambda token: REVIEWER) is REVIEWER
    refused = identify_caller("t", inactive)
    assert isinstance(refused, Refused)
    assert (refused.refusal, refused.reason, refused.user_id) == (
        Refusal.UNIDENTIFIED,
        Reason.USER_INACTIVE,
        "u-9",
    )
    unavailable = identify_caller("t", down)
    assert isinstance(unavailable, Refused) and unavailable.refusal is Refusal.UNAVAILABLE


def test_a_refused_token_is_audited_before_anything_is_read(services: Services) -> None:
    attachment = add_attachment(services)

    def rejected(token: str) -> Identity:
        raise AccessDenied(Reason.TOKEN_REJECTED, "status=401")

    outcome = open_attachment_with_token(
        services,
        "t",
        rejected,
        attachment.id,
        action=Action.API,
        requester=FROM,
        serve=Disposition.ATTACHMENT,
    )

    assert isinstance(outcome, Refused) and outcome.refusal is Refusal.UNIDENTIFIED
    assert audit_rows(services) == [(None, "api", AuditOutcome.DENIED, attachment.id, "token_rejected")]


def test_the_agent_is_told_the_type_the_file_is_served_as(services: Services) -> None:
    # A browser's spelling of JPEG: one rule names it for the agent's message and for S3's Content-Type.
    attachment = add_attachment(services, filename="a.jpg", declared_type="image/JPG; q=1")

    assert served_type(attachment) == "image/jpeg"
    assert "(1.0 kB, image/jpeg)" in announcement_text(services.settings, attachment)
