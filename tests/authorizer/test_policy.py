"""The typed policy builder and the event reader."""

from __future__ import annotations

import pytest

from authorizer.event import RequestAuthorizerEvent
from authorizer.policy import AuthorizerResponse, MethodArn

ARN = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/GET/api/files/abc"


def test_a_method_arn_is_taken_apart_and_rebuilt() -> None:
    arn = MethodArn.parse(ARN)

    assert (arn.region, arn.account, arn.api, arn.stage, arn.method, arn.resource) == (
        "eu-west-1",
        "123456789012",
        "a1b2c3d4e5",
        "prod",
        "GET",
        "api/files/abc",
    )
    assert str(arn) == ARN
    assert arn.whole_api() == "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*/*"
    assert (
        arn.route("GET", "/api/files/*")
        == "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/GET/api/files/*"
    )


@pytest.mark.parametrize("text", ["", "arn:aws:s3:::bucket/key", "arn:aws:execute-api:eu-west-1:1:api", "*"])
def test_other_arns_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an execute-api method ARN"):
        MethodArn.parse(text)


def test_the_answer_has_api_gateway_s_shape() -> None:
    answer = AuthorizerResponse("user-1", context={"roles": "Agent,Quality Evaluator", "n": 1}).allow(ARN)

    assert answer.asdict() == {
        "principalId": "user-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [ARN]}],
        },
        "context": {"roles": "Agent,Quality Evaluator", "n": 1},
    }
    denied = AuthorizerResponse("anonymous").deny(ARN).asdict()
    assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny" and "context" not in denied


def test_an_answer_without_a_statement_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at least one statement"):
        AuthorizerResponse("x").asdict()


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ({"Authorization": "Bearer abc"}, "abc"),
        ({"authorization": "bearer  abc "}, "abc"),
        ({"AUTHORIZATION": "Basic abc"}, None),
        ({"Authorization": "Bearer"}, None),
        ({}, None),
    ],
)
def test_the_bearer_token_is_read_whatever_the_header_spelling(
    headers: dict[str, str], token: str | None
) -> None:
    event = RequestAuthorizerEvent.from_dict({"methodArn": ARN, "headers": headers})

    assert event.bearer_token() == token


def test_an_event_without_an_arn_is_not_an_authorizer_event() -> None:
    with pytest.raises(ValueError, match="neither methodArn nor routeArn"):
        RequestAuthorizerEvent.from_dict({"headers": {"Authorization": "Bearer x"}})
