"""Genesys Cloud regions and their hosts (as published in the platform SDKs' region tables)."""

from __future__ import annotations

REGION_DOMAINS: dict[str, str] = {
    "us_east_1": "mypurecloud.com",
    "eu_west_1": "mypurecloud.ie",
    "ap_southeast_2": "mypurecloud.com.au",
    "ap_northeast_1": "mypurecloud.jp",
    "eu_central_1": "mypurecloud.de",
    "us_west_2": "usw2.pure.cloud",
    "ca_central_1": "cac1.pure.cloud",
    "ap_northeast_2": "apne2.pure.cloud",
    "eu_west_2": "euw2.pure.cloud",
    "ap_south_1": "aps1.pure.cloud",
    "us_east_2": "use2.us-gov-pure.cloud",
    "sa_east_1": "sae1.pure.cloud",
    "me_central_1": "mec1.pure.cloud",
    "ap_northeast_3": "apne3.pure.cloud",
    "eu_central_2": "euc2.pure.cloud",
    "mx_central_1": "mxc1.pure.cloud",
    "ap_southeast_1": "apse1.pure.cloud",
    "eusc_de_east_1": "edee1.eusc-pure.cloud",
}


def login_base_for(api_base_url: str) -> str:
    """The login host is the API host with `api.` replaced by `login.`."""
    return api_base_url.replace("://api.", "://login.", 1)


def hosts_for_region(region: str) -> tuple[str, str, str]:
    """(API base URL, login base URL, agent UI origin) for a region name such as `eu_west_1`.

    Accepts the SDK spelling (`eu_west_1`), the AWS spelling (`eu-west-1`) or the bare domain
    (`mypurecloud.ie`).

    :raise KeyError: for an unknown region.
    """
    key = region.strip().lower().replace("-", "_")
    domain = REGION_DOMAINS.get(key)
    if domain is None and region.strip().lower() in REGION_DOMAINS.values():
        domain = region.strip().lower()
    if domain is None:
        raise KeyError(region)
    api = f"https://api.{domain}"
    return api, login_base_for(api), f"https://apps.{domain}"
