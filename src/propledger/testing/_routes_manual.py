"""FakeJira's routes for manual runs: install the app and mint tokens over HTTP.

``propledger fake-jira`` runs FakeJira in its own process, where a person cannot call
the Python helpers, so these routes expose them. They only ever call apps on a
loopback address.
"""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from propledger.testing._sites import FakeSite

if TYPE_CHECKING:
    from propledger.testing._jira import FakeJira

__all__ = ["manual_routes"]


def _is_loopback_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


async def _json_body(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return None

    return body if isinstance(body, dict) else None


_NOT_JSON = 'The request body is not a JSON object. Send JSON such as {"accountId": "..."}.'


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def manual_routes(fake: FakeJira) -> list[Route]:
    """Return the ``/_fake/`` routes that install the app and mint tokens for a person."""

    def only_site() -> FakeSite | None:
        return fake.sites[0] if len(fake.sites) == 1 else None

    async def install(request: Request) -> Response:
        body = await _json_body(request)
        if body is None:
            return _error(400, _NOT_JSON)
        app_base_url = str(body.get("appBaseUrl") or "")
        site = only_site()
        if site is None:
            return _error(409, "FakeJira serves several sites; install through the Python API.")
        if not _is_loopback_url(app_base_url):
            return _error(
                400,
                f"The appBaseUrl {app_base_url!r} is not an http URL on a loopback address. "
                'Send {"appBaseUrl": "http://127.0.0.1:8000"}.',
            )
        async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
            try:
                response = await fake.install(site, app_base_url=app_base_url, client=client)
            except httpx.HTTPError as exc:
                return _error(502, f"The app at {app_base_url} could not be reached: {exc}.")

        if not response.is_success:
            return JSONResponse(
                {
                    "error": f"The app at {app_base_url} responded to the installed callback with "
                    f"status {response.status_code}. Check the URL and the app's log.",
                    "appStatus": response.status_code,
                },
                status_code=502,
            )

        return JSONResponse({"appStatus": response.status_code, "clientKey": site.client_key})

    async def context_token(request: Request) -> Response:
        body = await _json_body(request)
        if body is None:
            return _error(400, _NOT_JSON)
        site = only_site()
        if site is None or site.shared_secret is None:
            return _error(409, "Install the app first: POST /_fake/install.")
        admins = [user.account_id for user in site.users.values() if user.is_admin]
        account_id = str(body.get("accountId") or (admins[0] if admins else ""))
        if account_id not in site.users:
            return _error(404, f"No user has the account id {account_id!r}.")

        return JSONResponse(
            {"accountId": account_id, "token": fake.context_token(site, account_id)}
        )

    async def iframe_url(request: Request) -> Response:
        body = await _json_body(request)
        site = only_site()
        if body is None:
            return _error(400, _NOT_JSON)
        if site is None or site.shared_secret is None:
            return _error(409, "Install the app first: POST /_fake/install.")
        app_base_url = str(body.get("appBaseUrl") or "").rstrip("/")
        path = str(body.get("path") or "/admin/data")
        if not _is_loopback_url(app_base_url) or not path.startswith("/"):
            return _error(
                400,
                'Send {"appBaseUrl": "http://127.0.0.1:8000", "path": "/admin/data"}: the app '
                "must be on a loopback address and the path must start with /.",
            )
        admins = [user.account_id for user in site.users.values() if user.is_admin]
        account_id = str(body.get("accountId") or (admins[0] if admins else ""))
        if account_id not in site.users:
            return _error(404, f"No user has the account id {account_id!r}.")
        token = fake.iframe_token(
            site, account_id, method="GET", url=path, app_base_url=app_base_url
        )
        separator = "&" if "?" in path else "?"

        return JSONResponse({"url": f"{app_base_url}{path}{separator}jwt={token}"})

    async def describe(request: Request) -> Response:
        site = only_site()
        if site is None:
            return _error(409, "FakeJira serves several sites.")

        return JSONResponse(
            {
                "baseUrl": site.base_url,
                "clientKey": site.client_key,
                "installed": site.shared_secret is not None,
                "issueIds": sorted(site.issues, key=int),
                "users": [
                    {"accountId": user.account_id, "isAdmin": user.is_admin}
                    for user in site.users.values()
                ],
                "appProperties": site.property_count(prefixes=(f"{fake.app_key}.",)),
            }
        )

    return [
        Route("/_fake/install", install, methods=["POST"]),
        Route("/_fake/context-token", context_token, methods=["POST"]),
        Route("/_fake/iframe-url", iframe_url, methods=["POST"]),
        Route("/_fake/site", describe, methods=["GET"]),
    ]
