"""A small typed builder for API Gateway authorizer answers (an IAM policy plus context)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

ARN_PATTERN = re.compile(
    r"^arn:(?P<partition>[\w-]+):execute-api:(?P<region>[\w-]+):(?P<account>\d+|\*):"
    r"(?P<api>[\w*-]+)/(?P<stage>[^/]+)/(?P<method>[A-Z*]+)(?:/(?P<resource>.*))?$"
)


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True)
class MethodArn:
    """`arn:aws:execute-api:{region}:{account}:{api}/{stage}/{method}/{resource}` taken apart."""

    partition: str
    region: str
    account: str
    api: str
    stage: str
    method: str
    resource: str

    @classmethod
    def parse(cls, arn: str) -> MethodArn:
        """:raise ValueError: the text is not an execute-api method ARN."""
        match = ARN_PATTERN.match(arn)
        if match is None:
            raise ValueError("not an execute-api method ARN")
        return cls(**{k: v or "" for k, v in match.groupdict().items()})

    def route(self, method: str, resource: str) -> str:
        """The ARN of another route of the same API stage (`*` wildcards allowed)."""
        prefix = f"arn:{self.partition}:execute-api:{self.region}:{self.account}:{self.api}/{self.stage}"
        return f"{prefix}/{method}/{resource.lstrip('/')}"

    def __str__(self) -> str:
        return self.route(self.method, self.resource)

    def whole_api(self) -> str:
        """Every method and path of this API stage."""
        return self.route("*", "*")


ContextValue = str | int | bool


@dataclass
class AuthorizerResponse:
    """What the authorizer answers: who the caller is, what they may invoke, and context for the backend."""

    principal_id: str
    context: dict[str, ContextValue] = field(default_factory=dict)
    statements: list[tuple[Effect, tuple[str, ...]]] = field(default_factory=list)

    def allow(self, *resources: str) -> AuthorizerResponse:
        self.statements.append((Effect.ALLOW, resources))
        return self

    def deny(self, *resources: str) -> AuthorizerResponse:
        self.statements.append((Effect.DENY, resources))
        return self

    def asdict(self) -> dict[str, Any]:
        """The JSON API Gateway expects (an empty statement list would be refused, so there is always one)."""
        if not self.statements:
            raise ValueError("an authorizer answer needs at least one statement")
        answer: dict[str, Any] = {
            "principalId": self.principal_id,
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": str(effect), "Resource": list(resources)}
                    for effect, resources in self.statements
                ],
            },
        }
        if self.context:
            answer["context"] = dict(self.context)
        return answer
