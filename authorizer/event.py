"""The parts of an API Gateway REQUEST authorizer event that the authorizer reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestAuthorizerEvent:
    """A REQUEST authorizer event (REST API `methodArn`, or an HTTP API's `routeArn`)."""

    method_arn: str
    headers: Mapping[str, str]  # names lower-cased: clients and API Gateway spell them variously

    @classmethod
    def from_dict(cls, event: Mapping[str, Any]) -> RequestAuthorizerEvent:
        """:raise ValueError: the event has no method or route ARN."""
        arn = event.get("methodArn") or event.get("routeArn")
        if not isinstance(arn, str) or not arn:
            raise ValueError("the event has neither methodArn nor routeArn")
        raw = event.get("headers") or {}
        headers = (
            {str(k).lower(): str(v) for k, v in raw.items() if v is not None} if isinstance(raw, dict) else {}
        )
        return cls(method_arn=arn, headers=headers)

    def bearer_token(self) -> str | None:
        """The token of `Authorization: Bearer <token>`, or None."""
        scheme, _, token = self.headers.get("authorization", "").strip().partition(" ")
        token = token.strip()
        return token if scheme.lower() == "bearer" and token else None
