"""Files agents send: the worker's fetch, what becomes of one it cannot fetch, and who may open one."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select

from ferry import agent_files
from ferry.attachments import UploadError
from ferry.config import ConfigError
from ferry.db import utcnow
from ferry.models import (
    Attachment,
    AttachmentStatus,
    Chat,
    ChatMessage,
    MessageStatus,
    OutboxEntry,
    OutboxKind,
)
from ferry.objects import tagged_status
from ferry.services import Services
from genesys.client import Downloaded
from genesys.downloads import DownloadPolicy, DownloadRefused
from genesys.errors import GenesysUnavailable
from genesys.models import ConversationContentAttachment, MediaType

URL = "https://api-downloads.mypurecloud.ie/api/v2/downloads/d1"


@dataclass
class ScriptedDownloads:
    """Stands in for `GenesysClient.download`: answers (or raises) what the test queued."""

    answers: list[Downloaded | Exception]
    asked: list[str] = field(default_factory=list)

    def download(self, url: str, _policy: DownloadPolicy) -> Downloaded:
        self.asked.append(url)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def received_file(services: Services, *, with_text: bool = True) -> tuple[str, str]:
    """A chat and an agent message with one file, as the webhook records them; answers the ids."""
    with services.db.session() as session:
        chat = Chat(expires_at=utcnow() + timedelta(hours=1))
        session.add(chat)
        session.flush()
        if with_text:
            session.add(
                ChatMessage(
                    chat=chat,
                    direction="agent",
                    text="here",
                    genesys_message_id="g-1",
                    status=MessageStatus.SENT,
                )
            )
        file = ConversationContentAttachment(
            media_type=MediaType.FILE, url=URL, mime="application/pdf", filename="form.pdf"
        )
        attachment = agent_files.receive(session, services.settings, chat, "g-1", 0, file)
        return chat.id, attachment.id


def fetcher(
    services: Services, client: ScriptedDownloads, **settings: object
) -> agent_files.AgentFileFetcher:
    configured = dataclasses.replace(services.settings, **settings)  # type: ignore[arg-type]
    policy = DownloadPolicy.for_api("https://api.mypurecloud.ie", max_bytes=1000, deadline_seconds=5)
    return agent_files.AgentFileFetcher(configured, services.db, services.storage, client, policy)  # type: ignore[arg-type]


def test_a_fetched_file_is_stored_pending_for_the_scanner(services: Services) -> None:
    _chat_id, attachment_id = received_file(services)
    client = ScriptedDownloads([Downloaded(b"%PDF-1.4 bytes", "application/pdf")])
    assert fetcher(services, client).run_once() == 1
    assert client.asked == [URL]
    with services.db.session() as session:
        attachment = session.get_one(Attachment, attachment_id)
        assert (attachment.status, attachment.size, attachment.declared_size) == (
            AttachmentStatus.UPLOADED,
            14,
            14,
        )
    assert tagged_status(services.storage.get_tags(attachment.object_key)) == "pending"
    assert fetcher(services, ScriptedDownloads([])).run_once() == 0  # nothing due any more


@pytest.mark.parametrize("with_text", [True, False])
def test_a_refused_file_tells_the_customer_and_sends_genesys_a_failed_receipt(
    services: Services, with_text: bool
) -> None:
    chat_id, attachment_id = received_file(services, with_text=with_text)
    fetcher(
        services, ScriptedDownloads([DownloadRefused("not one of the region's Genesys hosts")])
    ).run_once()
    with services.db.session() as session:
        assert session.get_one(Attachment, attachment_id).status == AttachmentStatus.REJECTED
        shown = [m.text for m in session.scalars(select(ChatMessage).where(ChatMessage.chat_id == chat_id))]
        assert shown[-1] == agent_files.UNDELIVERED
        (receipt,) = session.scalars(select(OutboxEntry).where(OutboxEntry.kind == OutboxKind.RECEIPT))
        assert (receipt.payload["id"], receipt.payload["status"]) == ("g-1", "Failed")
        carrier = session.scalars(select(ChatMessage).where(ChatMessage.genesys_message_id == "g-1")).one()
        assert carrier.status == MessageStatus.FAILED  # so the widget's "seen" sends no Delivered after it


def test_a_fetch_that_may_work_later_is_retried_then_given_up(services: Services) -> None:
    _chat_id, attachment_id = received_file(services)
    flaky = ScriptedDownloads([GenesysUnavailable("HTTP 503")] * 2)
    worker = fetcher(services, flaky, agent_file_max_attempts=2)
    assert worker.run_once() == 1
    assert worker.run_once() == 0  # backing off
    assert worker.run_once(now=utcnow() + timedelta(minutes=10)) == 1
    with services.db.session() as session:
        attachment = session.get_one(Attachment, attachment_id)
        assert (attachment.status, attachment.fetch_attempts) == (AttachmentStatus.FAILED, 2)


def test_only_the_chat_it_was_sent_to_can_open_a_clean_agent_file(services: Services) -> None:
    chat_id, attachment_id = received_file(services)
    with services.db.session() as session:
        other = Chat(expires_at=utcnow() + timedelta(hours=1))
        session.add(other)
        session.flush()
        chat = session.get_one(Chat, chat_id)
        with pytest.raises(UploadError):  # not clean yet
            agent_files.open_url(session, services.storage, chat, attachment_id)
        session.get_one(Attachment, attachment_id).status = AttachmentStatus.CLEAN
        with pytest.raises(UploadError):
            agent_files.open_url(session, services.storage, other, attachment_id)


def test_an_ip_address_among_the_redirect_hosts_is_a_configuration_error(services: Services) -> None:
    settings = dataclasses.replace(services.settings, agent_file_redirect_hosts=("169.254.169.254",))
    with pytest.raises(ConfigError, match="AGENT_FILE_REDIRECT_HOSTS"):
        agent_files.download_policy(settings)
