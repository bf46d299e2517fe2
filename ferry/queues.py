"""The scan queue: SQS (or the local moto server) behind a small interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError


class QueueError(RuntimeError):
    """SQS refused or failed a request."""


class QueueUnavailable(QueueError):
    """SQS could not be reached."""


@dataclass(frozen=True)
class QueueMessage:
    receipt_handle: str
    body: str
    receive_count: int
    message_id: str


class ScanQueue(Protocol):
    """What the scan worker needs from a queue."""

    url: str

    def ping(self) -> None: ...
    def receive(
        self, *, max_messages: int, wait_seconds: int, visibility_timeout: int
    ) -> list[QueueMessage]: ...
    def delete(self, receipt_handle: str) -> None: ...
    def extend(self, receipt_handle: str, seconds: int) -> None: ...
    def send(self, body: str) -> None: ...


class SqsQueue:
    """`ScanQueue` over boto3."""

    def __init__(self, *, url: str, region: str, endpoint_url: str | None = None) -> None:
        self.url = url
        self.client = boto3.client(
            "sqs",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(
                retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=30
            ),
        )

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(**kwargs)
        except ClientError as exc:
            raise QueueError(f"{method}: {exc.response.get('Error', {}).get('Code', exc)}") from exc
        except BotoCoreError as exc:
            raise QueueUnavailable(f"{method}: {type(exc).__name__}") from exc

    @property
    def name(self) -> str:
        return urlparse(self.url).path.rstrip("/").rsplit("/", 1)[-1]

    def ping(self) -> None:
        self._call("get_queue_attributes", QueueUrl=self.url, AttributeNames=["QueueArn"])

    def arn(self) -> str:
        answer = self._call("get_queue_attributes", QueueUrl=self.url, AttributeNames=["QueueArn"])
        return str(answer["Attributes"]["QueueArn"])

    def ensure(self, *, visibility_timeout: int, policy: str | None = None) -> None:
        """Create the queue if it does not exist (development; production queues come from IaC)."""
        attributes = {"VisibilityTimeout": str(visibility_timeout)}
        try:
            self.url = str(self._call("get_queue_url", QueueName=self.name)["QueueUrl"])
        except QueueError:
            self.url = str(self._call("create_queue", QueueName=self.name, Attributes=attributes)["QueueUrl"])
        if policy:
            attributes["Policy"] = policy
        self._call("set_queue_attributes", QueueUrl=self.url, Attributes=attributes)

    def receive(self, *, max_messages: int, wait_seconds: int, visibility_timeout: int) -> list[QueueMessage]:
        answer = self._call(
            "receive_message",
            QueueUrl=self.url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility_timeout,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return [
            QueueMessage(
                receipt_handle=str(m["ReceiptHandle"]),
                body=str(m["Body"]),
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
                message_id=str(m["MessageId"]),
            )
            for m in answer.get("Messages", [])
        ]

    def delete(self, receipt_handle: str) -> None:
        self._call("delete_message", QueueUrl=self.url, ReceiptHandle=receipt_handle)

    def extend(self, receipt_handle: str, seconds: int) -> None:
        """Keep a message invisible while a long scan is still working on it."""
        self._call(
            "change_message_visibility",
            QueueUrl=self.url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=seconds,
        )

    def send(self, body: str) -> None:
        self._call("send_message", QueueUrl=self.url, MessageBody=body)
