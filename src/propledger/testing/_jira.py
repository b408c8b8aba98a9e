"""FakeJira: an ASGI app that simulates one or more Jira Cloud sites in memory."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from propledger.model import JSONValue
from propledger.testing._auth import CALLER_STATE, SITE_STATE, Caller, jira_error
from propledger.testing._forge import ForgeMixin, forge_key_routes
from propledger.testing._lifecycle import InstallSigningKey, LifecycleMixin
from propledger.testing._limits import DroppedConnection, serve_limited
from propledger.testing._routes_bulk import bulk_routes
from propledger.testing._routes_directory import directory_routes
from propledger.testing._routes_manual import manual_routes
from propledger.testing._routes_misc import INSTALL_KEYS_PATH, misc_routes
from propledger.testing._routes_properties import property_routes
from propledger.testing._search import SearchQuirks, search_routes
from propledger.testing._sites import FakeSite, normalize_base_url

__all__ = ["FakeJira", "LoggedRequest"]

FAKE_PATH_PREFIX = "/_fake/"


@dataclasses.dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request that reached a Jira route of FakeJira, and its response status.

    ``base_url`` is the selected site's, or ``None`` when no site matched the Host
    header. ``status`` is 0 for a connection FakeJira dropped on purpose. ``query``
    leaves out the ``jwt`` parameter, and joins repeated values with commas. ``body``
    is the request body parsed as JSON, or ``None`` when it is empty or not JSON.
    ``issuer`` is the JWT's ``iss`` and ``account_id`` the basic-auth user.
    """

    base_url: str | None
    method: str
    path: str
    query: dict[str, str]
    status: int
    auth: Literal["jwt", "forge", "basic"] | None = None
    issuer: str | None = None
    account_id: str | None = None
    body: JSONValue = None


class FakeJira(LifecycleMixin, ForgeMixin):
    """Simulated Jira Cloud sites behind one Starlette app, for tests and demos.

    When exactly one site exists every request goes to it. With several, the request's
    Host header must match a site's base URL, or FakeJira returns 404. Routes under
    ``/_fake/`` are FakeJira's own (the lifecycle key server), not Jira's.

    For tests that check logs for leaks, ``issued_secrets`` contains every shared secret
    FakeJira issued, ``minted_tokens`` every JWT it signed, and ``received_credentials``
    every credential that came with a request to a Jira route.
    """

    def __init__(self, *, app_key: str = "com.example.app") -> None:
        self.app_key = app_key
        self.signing_key = InstallSigningKey()
        self.forge_signing_key = InstallSigningKey()
        self.request_log: list[LoggedRequest] = []
        self.issued_secrets: list[str] = []
        self.minted_tokens: list[str] = []
        self.received_credentials: list[str] = []
        self._sites: list[FakeSite] = []
        self.search_quirks = SearchQuirks()
        self.app = Starlette(
            routes=(
                bulk_routes()
                + property_routes()
                + misc_routes(self._public_key_pem)
                + search_routes(self.search_quirks)
                + manual_routes(self)
                + forge_key_routes(self.forge_key_set)
                + directory_routes()
            ),
            middleware=[Middleware(_SiteMiddleware, fake=self)],
            exception_handlers={HTTPException: _http_exception},
        )

    @property
    def sites(self) -> tuple[FakeSite, ...]:
        """The simulated sites, in the order they were added."""
        return tuple(self._sites)

    def add_site(
        self, base_url: str = "https://acme.jira.test", name: str | None = None
    ) -> FakeSite:
        """Add a site with the app not yet installed; see :meth:`install`."""
        normalized = normalize_base_url(base_url)
        site = FakeSite(base_url=normalized, name=name or normalized, app_key=self.app_key)
        if any(other.netloc == site.netloc for other in self._sites):
            raise ValueError(f"FakeJira already has a site at {site.netloc!r}. Use another host.")
        self._sites.append(site)

        return site

    def site_for_host(self, host: str | None) -> FakeSite | None:
        """Return the site a request with this Host header goes to, or ``None``."""
        if len(self._sites) == 1:
            return self._sites[0]
        if host is None:
            return None
        expected = _strip_default_port(host.lower())

        return next(
            (site for site in self._sites if _strip_default_port(site.netloc) == expected), None
        )

    def transport(self) -> httpx.ASGITransport:
        """Return an httpx transport that sends requests to this FakeJira in process."""
        return httpx.ASGITransport(app=self.app)

    def install_keys_url(self, root_url: str) -> str:
        """Return the key server's base URL when FakeJira is served at ``root_url``.

        A key id ``kid`` is fetched from ``{install_keys_url}/{kid}``.
        """
        return root_url.rstrip("/") + INSTALL_KEYS_PATH

    def _public_key_pem(self, kid: str) -> str | None:
        if kid != self.signing_key.kid:
            return None

        return self.signing_key.public_key_pem()


def _strip_default_port(netloc: str) -> str:
    for suffix in (":80", ":443"):
        if netloc.endswith(suffix):
            return netloc.removesuffix(suffix)

    return netloc


async def _http_exception(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return jira_error(404, f"No Jira REST resource is served at {request.url.path}.")
    if status == 405:
        return jira_error(405, f"The method {request.method} is not allowed here.")

    return jira_error(status, "The request failed.")


class _SiteMiddleware:
    """Select the site for each Jira request and record it in the request log."""

    def __init__(self, app: ASGIApp, fake: FakeJira) -> None:
        self.app = app
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(FAKE_PATH_PREFIX):
            await self.app(scope, receive, send)
            return
        body, replay = await _buffer_body(receive)
        headers = dict(scope.get("headers", []))
        self.fake.received_credentials.extend(_credentials(scope, headers))
        host = headers.get(b"host", b"").decode("latin-1") or None
        site = self.fake.site_for_host(host)
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if site is None:
                response = jira_error(404, f"FakeJira has no site at host {host!r}.")
                await response(scope, replay, send_and_record)
            else:
                state[SITE_STATE] = site
                await serve_limited(site, self.app, scope, replay, send_and_record)
        except DroppedConnection:
            status = 0
            raise
        finally:
            self.fake.request_log.append(_log_entry(scope, site, status, state, body))


def _credentials(scope: Scope, headers: dict[bytes, bytes]) -> list[str]:
    found = []
    _, _, credentials = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if credentials.strip():
        found.append(credentials.strip())
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
        if name == "jwt":
            found.append(value)

    return found


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    # Read the whole body up front so the log can hold it, then replay it to the app.
    chunks: list[bytes] = []
    pending: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]
    while True:
        message = await receive()
        if message["type"] != "http.request":
            # A disconnect while reading is passed on to the app after the body.
            pending.append(message)
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    pending[0]["body"] = body

    async def replay() -> Message:
        if pending:
            return pending.pop(0)

        return await receive()

    return body, replay


def _log_entry(
    scope: Scope, site: FakeSite | None, status: int, state: dict[str, Any], body: bytes
) -> LoggedRequest:
    query: dict[str, str] = {}
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), True):
        if name != "jwt":
            query[name] = f"{query[name]},{value}" if name in query else value
    try:
        parsed_body: JSONValue = json.loads(body) if body else None
    except ValueError:
        parsed_body = None
    caller = state.get(CALLER_STATE)
    caller = caller if isinstance(caller, Caller) else None

    return LoggedRequest(
        base_url=site.base_url if site is not None else None,
        method=scope["method"],
        path=scope["path"],
        query=query,
        status=status,
        auth=caller.auth if caller is not None else None,
        issuer=caller.issuer if caller is not None else None,
        account_id=caller.account_id if caller is not None else None,
        body=parsed_body,
    )
