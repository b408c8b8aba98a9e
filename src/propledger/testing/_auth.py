"""Authentication of requests to FakeJira: Connect JWTs and basic auth with API tokens."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from propledger.connect import query_string_hash
from propledger.errors import AuthenticationError
from propledger.testing._sites import FakeSite, FakeUser

__all__ = [
    "JWT_LEEWAY",
    "Caller",
    "Handler",
    "JiraJSONResponse",
    "authenticate",
    "current_site",
    "jira_endpoint",
    "jira_error",
    "operation_message",
    "request_target",
]

logger = logging.getLogger("propledger.testing")

JWT_LEEWAY = 5
"""Seconds of clock skew FakeJira tolerates on a JWT's ``exp`` and ``iat``."""

SITE_STATE = "fake_site"
CALLER_STATE = "fake_caller"

Handler = Callable[[Request, FakeSite, "Caller"], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


class JiraJSONResponse(JSONResponse):
    """A JSON response with the content type Jira Cloud sends."""

    media_type = "application/json;charset=UTF-8"


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    """The sender of a request: the app (a Connect JWT or a Forge app system token) or a
    user (basic auth with an API token)."""

    auth: Literal["jwt", "forge", "basic"]
    issuer: str | None = None
    user: FakeUser | None = None

    @property
    def is_app(self) -> bool:
        """Whether the app itself sent the request."""
        return self.auth in ("jwt", "forge")

    @property
    def account_id(self) -> str | None:
        """The account id of the calling user, or ``None`` for the app."""
        return self.user.account_id if self.user is not None else None

    @property
    def is_admin(self) -> bool:
        """Whether the caller may act on any user: the app, or a Jira administrator."""
        return self.is_app or (self.user is not None and self.user.is_admin)


def jira_error(status_code: int, message: str, **errors: str) -> JiraJSONResponse:
    """Return an error response in Jira's ErrorCollection shape."""
    body = {"errorMessages": [message] if message else [], "errors": errors}

    return JiraJSONResponse(body, status_code=status_code)


def operation_message(status_code: int, message: str) -> JiraJSONResponse:
    """Return a response in the OperationMessage shape that app property routes use."""
    return JiraJSONResponse(
        {"message": message, "statusCode": status_code}, status_code=status_code
    )


def request_target(request: Request) -> str:
    """Return the path and query exactly as the client sent them, for the qsh check."""
    raw_path: Any = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")

    return f"{path}?{query}" if query else path


def authenticate(request: Request, site: FakeSite) -> Caller:
    """Return the caller of ``request``, or raise :class:`AuthenticationError`.

    A JWT comes in the ``Authorization: JWT`` header or the ``jwt`` query parameter,
    and a Forge app system token in ``Authorization: Bearer``.
    """
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "jwt":
        return _jwt_caller(credentials.strip(), request, site)
    if scheme.lower() == "bearer":
        return _forge_caller(credentials.strip(), site)
    if scheme.lower() == "basic":
        return _basic_caller(credentials.strip(), site)
    if "jwt" in request.query_params:
        return _jwt_caller(request.query_params["jwt"], request, site)

    raise AuthenticationError(
        "The request has no credentials. Send a Connect JWT or basic auth with an API token."
    )


def _jwt_caller(token: str, request: Request, site: FakeSite) -> Caller:
    if site.shared_secret is None:
        raise AuthenticationError(
            "The app is not installed on this site, so no shared secret can verify its JWT."
        )
    try:
        claims = jwt.decode(
            token,
            site.shared_secret,
            algorithms=["HS256"],
            options={"require": ["iss", "iat", "exp", "qsh"], "verify_aud": False},
            leeway=JWT_LEEWAY,
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationError("The JWT has expired. Sign a new one for each request.") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthenticationError(f"The JWT is invalid: {exc}.") from exc
    if claims["iss"] != site.app_key:
        raise AuthenticationError(
            f"The JWT issuer {claims['iss']!r} is not the installed app {site.app_key!r}."
        )
    expected_qsh = query_string_hash(request.method, request_target(request), site.base_url)
    if claims["qsh"] != expected_qsh:
        raise AuthenticationError(
            "The JWT's qsh claim does not match the request's method, path and query."
        )

    return Caller(auth="jwt", issuer=claims["iss"])


def _forge_caller(token: str, site: FakeSite) -> Caller:
    expected = site.forge_system_token
    if expected is None or not hmac.compare_digest(token.encode(), expected.encode()):
        raise AuthenticationError("The bearer token is not this site's Forge app system token.")

    return Caller(auth="forge", issuer=site.app_key)


def _basic_caller(credentials: str, site: FakeSite) -> Caller:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthenticationError("The basic auth credentials are not valid base64.") from exc
    email, _, token = decoded.partition(":")
    user = site.user_for_api_token(email, token)
    if user is None:
        raise AuthenticationError(f"No API token of {email!r} matches the one sent.")

    return Caller(auth="basic", user=user)


def current_site(request: Request) -> FakeSite:
    """Return the site that FakeJira's middleware selected for ``request``."""
    site = request.scope.get("state", {}).get(SITE_STATE)
    if not isinstance(site, FakeSite):
        raise RuntimeError("No site was selected for this request; serve it through FakeJira.app.")

    return site


def jira_endpoint(
    handler: Handler, *, on_unauthorized: Callable[[str], Response] | None = None
) -> Endpoint:
    """Wrap ``handler`` so that it runs only for an authenticated caller of the selected site.

    An unauthenticated request gets a 401 response in Jira's ErrorCollection shape, or the
    response that ``on_unauthorized`` builds from the reason.
    """

    async def endpoint(request: Request) -> Response:
        site = current_site(request)
        try:
            caller = authenticate(request, site)
        except AuthenticationError as exc:
            logger.info("Rejected %s %s: %s", request.method, request.url.path, exc.reason)
            if on_unauthorized is not None:
                return on_unauthorized(exc.reason)

            return jira_error(401, exc.reason)
        request.scope["state"][CALLER_STATE] = caller

        return await handler(request, site, caller)

    return endpoint
