"""The stand-in refuses Ferry's client a route whose published permission its role lacks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ferry.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from genesys.client import GenesysClient
from genesys.errors import GenesysError
from genesys.setup import PRODUCT_ROUTES, Route, access_check
from genesys_standin.control_client import StandinControl
from genesys_standin.server import StandinServer
from genesys_standin.settings import StandinSettings


@contextmanager
def ferry_client(revoked: str) -> Iterator[GenesysClient]:
    """Ferry's client against a stand-in whose client-credentials clients lack `revoked`."""
    with StandinServer(StandinSettings(revoked_client_permissions=revoked)) as server:
        StandinControl(server.base_url).add_ferry_clients()
        with GenesysClient(
            api_base_url=server.base_url,
            login_base_url=server.base_url,
            client_id=DEV_CLIENT_ID,
            client_secret=DEV_CLIENT_SECRET,
        ) as client:
            yield client


@pytest.mark.parametrize("route", PRODUCT_ROUTES, ids=lambda r: r.name)
def test_a_revoked_permission_is_refused_and_named(route: Route) -> None:
    permissions = route.permissions
    with ferry_client(",".join(permissions)) as client:
        check = access_check(client, route)
        assert check.outcome == "FAIL" and permissions[0] in check.detail
        others = [r for r in PRODUCT_ROUTES if not set(r.permissions) & set(permissions)]
        assert all(access_check(client, r).outcome == "OK" for r in others)


def test_one_of_any_permissions_is_enough() -> None:
    with ferry_client("conversation:message:view") as client, pytest.raises(GenesysError) as caught:
        client.get_message_conversation("00000000-0000-4000-8000-000000000000")
    assert caught.value.status == 404  # conversation:webmessaging:view is still granted
