"""A seeded Genesys stand-in for viewer and authorizer tests: OAuth clients, users, conversations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from ferry.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_OAUTH_CLIENT_ID, DEV_WEBHOOK_SECRET
from genesys_standin.control_client import StandinControl

PROGRAM_CLIENT_ID = "some-other-program"

USERS: dict[str, dict[str, Any]] = {
    "agent": {"name": "Alex Agent", "email": "agent@example.com", "roles": ["Agent"]},
    "agent2": {"name": "Bo Otheragent", "email": "agent2@example.com", "roles": ["Agent"]},
    "reviewer": {"name": "Robin Reviewer", "email": "reviewer@example.com", "roles": ["Quality Evaluator"]},
    "auditor": {"name": "Ada Auditor", "email": "auditor@example.com", "roles": ["Quality Administrator"]},
    "inactive": {
        "name": "Ina Inactive",
        "email": "inactive@example.com",
        "roles": ["Agent"],
        "state": "inactive",
    },
    "deleted": {
        "name": "Del Deleted",
        "email": "deleted@example.com",
        "roles": ["Agent"],
        "state": "deleted",
    },
    "foreign": {
        "name": "Fred Foreign",
        "email": "foreign@example.com",
        "roles": ["Agent"],
        "organization": "foreign",
    },
    "norole": {"name": "Nora Norole", "email": "norole@example.com", "roles": ["Employee"]},
}


@dataclass
class World:
    """The stand-in at `base_url`, seeded with Ferry's clients and the USERS above."""

    base_url: str
    users: dict[str, str] = field(default_factory=dict)  # key → Genesys user id
    integration_id: str = ""

    @property
    def control(self) -> str:
        return f"{self.base_url}/_control"

    @property
    def standin(self) -> StandinControl:
        return StandinControl(self.base_url)

    def seed(self, public_base_urls: list[str]) -> World:
        standin = self.standin
        standin.reset()
        standin.add_ferry_clients(*public_base_urls)
        standin.add_oauth_client(PROGRAM_CLIENT_ID, "program-secret", ["authorization_code"])
        for key, user in USERS.items():
            self.users[key] = standin.add_user(**{"state": "active", **user})
        answer = requests.post(
            f"{self.base_url}/api/v2/conversations/messaging/integrations/open",
            headers={"Authorization": f"Bearer {self.service_token()}"},
            json={
                "name": "Ferry (tests)",
                "outboundNotificationWebhookUrl": "http://127.0.0.1:9/genesys/webhook",
                "outboundNotificationWebhookSignatureSecretToken": DEV_WEBHOOK_SECRET,
            },
            timeout=10,
        )
        answer.raise_for_status()
        self.integration_id = answer.json()["id"]
        return self

    def service_token(self) -> str:
        answer = requests.post(
            f"{self.base_url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(DEV_CLIENT_ID, DEV_CLIENT_SECRET),
            timeout=10,
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def token(self, user: str, client_id: str = DEV_OAUTH_CLIENT_ID) -> str:
        """A user token issued through `client_id` (Ferry's viewer client unless told otherwise)."""
        answer = requests.post(
            f"{self.control}/users/{self.users[user]}/token", json={"client_id": client_id}, timeout=10
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def conversation(self, customer_id: str, *agents: str) -> str:
        """A new open-messaging conversation started by `customer_id`, with `agents` joined as agents."""
        answer = requests.post(
            f"{self.base_url}/api/v2/conversations/messages/{self.integration_id}/inbound/open/message",
            params={"prefetchConversationId": "true"},
            headers={"Authorization": f"Bearer {self.service_token()}"},
            json={
                "channel": {
                    "from": {"id": customer_id, "idType": "Opaque", "nickname": customer_id},
                    "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                },
                "text": "hello",
            },
            timeout=10,
        )
        answer.raise_for_status()
        conversation_id = str(answer.json()["conversationId"])
        for agent in agents:
            self.join(conversation_id, agent)
        return conversation_id

    def join(self, conversation_id: str, user: str) -> None:
        self.standin.add_participant(conversation_id, self.users[user])

    def update_user(self, user: str, **changes: Any) -> None:
        requests.patch(
            f"{self.control}/users/{self.users[user]}", json=changes, timeout=10
        ).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        return self.standin.recorded_requests()

    def clear_requests(self) -> None:
        self.standin.clear_recorded_requests()

    def fault(self, **fault: Any) -> None:
        requests.post(f"{self.control}/faults", json=fault, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.control}/faults", timeout=10).raise_for_status()

    def pick(self, authorize_url: str, user: str) -> str:
        """Press `user`'s button on the authorize page; returns where the login host sends the browser."""
        params = dict(parse_qsl(urlsplit(authorize_url).query))
        answer = requests.post(
            f"{self.base_url}/oauth/authorize",
            data={**params, "user_id": self.users[user]},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]
