"""Authentication of a Forge remote's calls to Jira: the app system token."""

from __future__ import annotations

from collections.abc import Generator

import httpx

__all__ = ["ForgeSystemAuth"]


class ForgeSystemAuth(httpx.Auth):
    """Send the app system token, from a Forge invocation's ``x-forge-oauth-system``
    header, as ``Authorization: Bearer <token>``. The token is kept out of ``repr``.
    """

    def __init__(self, system_token: str) -> None:
        self._system_token = system_token

    def __repr__(self) -> str:
        return "ForgeSystemAuth()"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._system_token}"

        yield request
