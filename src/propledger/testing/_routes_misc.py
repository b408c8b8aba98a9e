"""FakeJira's other routes: permission checks, the calling user, the removed search API,
and the key server that publishes the public keys of signed lifecycle callbacks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from propledger.testing._auth import Caller, JiraJSONResponse, jira_endpoint, jira_error
from propledger.testing._sites import FakeSite

__all__ = ["INSTALL_KEYS_PATH", "misc_routes"]

INSTALL_KEYS_PATH = "/_fake/install-keys"

ADMIN_GLOBAL_PERMISSIONS = frozenset({"ADMINISTER", "SYSTEM_ADMIN"})
"""Global permissions FakeJira grants only to users with ``is_admin``."""

USER_GLOBAL_PERMISSIONS = frozenset(
    {"USER_PICKER", "CREATE_SHARED_OBJECTS", "MANAGE_GROUP_FILTER_SUBSCRIPTIONS", "BULK_CHANGE"}
)
"""Global permissions FakeJira grants to every user of the site."""

SEARCH_REMOVED_MESSAGE = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at "
    "https://developer.atlassian.com/changelog/#CHANGE-2046"
)


def _user_json(site: FakeSite, account_id: str, display_name: str) -> dict[str, Any]:
    return {
        "self": f"{site.base_url}/rest/api/3/user?accountId={quote(account_id, safe='')}",
        "accountId": account_id,
        "displayName": display_name,
        "active": True,
        "timeZone": "UTC",
        "locale": "en_US",
    }


async def _myself(request: Request, site: FakeSite, caller: Caller) -> Response:
    if caller.user is None:
        body = _user_json(site, site.app_account_id, site.app_key) | {"accountType": "app"}

        return JiraJSONResponse(body)
    user = caller.user
    body = _user_json(site, user.account_id, user.display_name) | {"accountType": "atlassian"}
    if user.email is not None:
        body["emailAddress"] = user.email

    return JiraJSONResponse(body)


async def _check_permissions(request: Request, site: FakeSite, caller: Caller) -> Response:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return jira_error(400, "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return jira_error(400, "The request body must be a JSON object.")
    requested = [name for name in body.get("globalPermissions") or [] if name is not None]
    unknown = [
        name for name in requested if name not in ADMIN_GLOBAL_PERMISSIONS | USER_GLOBAL_PERMISSIONS
    ]
    if unknown:
        return jira_error(400, "", **{name: "Unrecognized permission" for name in unknown})
    account_id = body.get("accountId")
    if account_id is None:
        user = caller.user
    elif not caller.is_admin and account_id != caller.account_id:
        return jira_error(403, "Only Jira administrators can perform this operation.")
    else:
        user = site.users.get(account_id)
    granted = [
        name
        for name in dict.fromkeys(requested)
        if user is not None and (name not in ADMIN_GLOBAL_PERMISSIONS or user.is_admin)
    ]
    # NOTE: project permissions are not simulated; every request gets none granted.
    return JiraJSONResponse({"globalPermissions": granted, "projectPermissions": []})


async def _removed_search(request: Request, site: FakeSite, caller: Caller) -> Response:
    return jira_error(410, SEARCH_REMOVED_MESSAGE)


def misc_routes(public_key_pem: Callable[[str], str | None]) -> list[Route]:
    """Return the permission, user, search and key server routes.

    ``public_key_pem`` returns the PEM public key for a key id, or ``None`` for an
    unknown one.
    """

    async def install_key(request: Request) -> Response:
        pem = public_key_pem(request.path_params["kid"])
        if pem is None:
            return PlainTextResponse("No public key has this key id.", status_code=404)

        return PlainTextResponse(pem)

    routes: list[Route] = []
    for version in ("3", "2"):
        api = f"/rest/api/{version}"
        routes += [
            Route(f"{api}/myself", jira_endpoint(_myself), methods=["GET"]),
            Route(f"{api}/permissions/check", jira_endpoint(_check_permissions), methods=["POST"]),
            Route(f"{api}/search", jira_endpoint(_removed_search), methods=["GET", "POST"]),
        ]
    routes.append(Route(INSTALL_KEYS_PATH + "/{kid}", install_key, methods=["GET"]))

    return routes
