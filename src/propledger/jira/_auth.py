"""Authentication of requests to Jira: Connect JWTs, or basic auth with an API token."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from propledger.connect import encode_app_token

__all__ = ["ConnectAuth", "basic_auth"]


class ConnectAuth(httpx.Auth):
    """Sign each request with a fresh Connect JWT, sent as ``Authorization: JWT <token>``.

    The token's ``qsh`` binds it to one method and URL, so every request and every retry
    gets its own token. ``base_url`` is the site's base URL, which the ``qsh`` path is
    relative to. The shared secret is kept out of ``repr``.
    """

    def __init__(self, *, app_key: str, shared_secret: str, base_url: str) -> None:
        self.app_key = app_key
        self.base_url = base_url
        self._shared_secret = shared_secret

    def __repr__(self) -> str:
        return f"ConnectAuth(app_key={self.app_key!r}, base_url={self.base_url!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = encode_app_token(
            app_key=self.app_key,
            shared_secret=self._shared_secret,
            method=request.method,
            url=str(request.url),
            base_url=self.base_url,
        )
        request.headers["Authorization"] = f"JWT {token}"

        yield request


def basic_auth(email: str, api_token: str) -> httpx.Auth:
    """Return basic auth for an operator who calls Jira with an Atlassian API token."""
    return httpx.BasicAuth(email, api_token)
