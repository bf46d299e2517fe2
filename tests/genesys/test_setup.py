"""The doctor's access checks call exactly the routes GenesysClient calls with Ferry's own token."""

from __future__ import annotations

import re
from pathlib import Path

import genesys.client
from genesys.setup import PRODUCT_ROUTES

# Called with a user's token (the viewer's login), not Ferry's; and the doctor's organization check.
NOT_FERRYS_TOKEN = {"/api/v2/users/me", "/api/v2/tokens/me"}
ORGANIZATION = "/api/v2/organizations/me"


def client_routes() -> set[str]:
    """Every API path the client builds, with `{_segment(x)}` written `{x}`."""
    source = Path(genesys.client.__file__).read_text()
    paths = re.findall(r'f?"(/api/v2/[^"]*)"', source)
    return {re.sub(r"\{_segment\((\w+)\)\}", r"{\1}", p) for p in paths}


def test_the_doctor_checks_every_route_the_product_calls() -> None:
    routes = client_routes()
    assert routes > NOT_FERRYS_TOKEN | {ORGANIZATION}  # the extraction finds paths at all
    assert {r.path for r in PRODUCT_ROUTES} == routes - NOT_FERRYS_TOKEN - {ORGANIZATION}


def test_every_route_names_its_permission_unless_it_needs_none() -> None:
    assert all(r.permissions for r in PRODUCT_ROUTES)
