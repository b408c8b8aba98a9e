"""Forge Remote as FakeJira plays it: installations, invocation tokens and their key set.

Forge signs each call to a remote with an RS256 invocation token whose key FakeJira
publishes as a JWKS at ``/_fake/forge/jwks.json``, and sends the app system token in
``x-forge-oauth-system``. FakeJira accepts that token as ``Authorization: Bearer``.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from propledger.testing._lifecycle import InstallSigningKey
from propledger.testing._sites import FakeSite

__all__ = ["FORGE_JWKS_PATH", "ForgeMixin", "forge_key_routes"]

FORGE_JWKS_PATH = "/_fake/forge/jwks.json"
INVOCATION_TOKEN_LIFETIME = 300
"""Seconds a Forge invocation token stays valid."""


class ForgeMixin:
    """Forge installations and invocation tokens, mixed into :class:`FakeJira`."""

    forge_signing_key: InstallSigningKey
    minted_tokens: list[str]
    issued_secrets: list[str]

    def forge_install(self, site: FakeSite) -> str:
        """Install the Forge app on ``site`` and return its installation id.

        The site gets a new app system token, which FakeJira then accepts as a bearer
        token.
        """
        site.forge_installation_id = f"ari:cloud:ecosystem::installation/{uuid.uuid4()}"
        site.forge_system_token = secrets.token_urlsafe(48)
        self.issued_secrets.append(site.forge_system_token)

        return site.forge_installation_id

    def forge_jwks_url(self, root_url: str) -> str:
        """Return the key set's URL when FakeJira is served at ``root_url``."""
        return root_url.rstrip("/") + FORGE_JWKS_PATH

    def forge_key_set(self) -> dict[str, Any]:
        """Return the JWKS with the public key of the invocation tokens."""
        public_key = self.forge_signing_key.private_key.public_key()
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public_key))

        return {"keys": [jwk | {"kid": self.forge_signing_key.kid, "alg": "RS256", "use": "sig"}]}

    def invocation_token(
        self,
        site: FakeSite,
        *,
        app_id: str,
        account_id: str | None = None,
        claims_override: Mapping[str, Any] | None = None,
        kid_override: str | None = None,
        private_key_override: rsa.RSAPrivateKey | None = None,
        algorithm: str = "RS256",
    ) -> str:
        """Return the invocation token Forge sends with a call from ``site``'s admin page.

        In ``claims_override`` a value of ``None`` removes that claim.
        """
        if site.forge_installation_id is None:
            raise ValueError(f"The Forge app is not installed on {site.base_url}.")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "forge/invocation-token",
            "aud": app_id,
            "iat": now,
            "nbf": now,
            "exp": now + INVOCATION_TOKEN_LIFETIME,
            "jti": str(uuid.uuid4()),
            "app": {
                "id": app_id,
                "installationId": site.forge_installation_id,
                "apiBaseUrl": f"https://api.atlassian.com/ex/jira/{site.cloud_id}",
                "environment": {"type": "PRODUCTION", "id": str(uuid.uuid4())},
            },
            "context": {"cloudId": site.cloud_id, "siteUrl": site.base_url},
            "principal": account_id,
        }
        for name, value in (claims_override or {}).items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        key: Any = private_key_override or self.forge_signing_key.private_key
        headers = {"kid": kid_override or self.forge_signing_key.kid}
        token = jwt.encode(claims, key, algorithm=algorithm, headers=headers)
        self.minted_tokens.append(token)

        return token

    async def invoke(
        self,
        site: FakeSite,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        app_id: str,
        account_id: str | None = None,
        json_body: Any = None,
    ) -> httpx.Response:
        """Call a remote's route as Forge does, with an invocation and a system token."""
        token = self.invocation_token(site, app_id=app_id, account_id=account_id)
        headers = {
            "Authorization": f"Bearer {token}",
            "x-forge-oauth-system": site.forge_system_token or "",
        }

        return await client.request(method, url, headers=headers, json=json_body)


def forge_key_routes(key_set: Callable[[], dict[str, Any]]) -> list[Route]:
    """Return the route that serves the invocation tokens' key set."""

    async def jwks(request: Request) -> Response:
        return JSONResponse(key_set())

    return [Route(FORGE_JWKS_PATH, jwks, methods=["GET"])]
