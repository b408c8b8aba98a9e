"""Connect lifecycle callbacks that FakeJira sends to an app, and the tokens Jira mints.

As in Atlassian Connect, ``installed`` and ``uninstalled`` carry an RS256 JWT whose
key id (``kid``) names a public key on FakeJira's key server. ``enabled`` and
``disabled`` carry an HS256 JWT signed with the site's shared secret.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from propledger.connect import query_string_hash
from propledger.testing._sites import FakeSite

__all__ = ["INSTALL_TOKEN_LIFETIME", "InstallSigningKey", "LifecycleMixin"]

logger = logging.getLogger("propledger.testing")

INSTALL_TOKEN_LIFETIME = 180
"""Seconds a lifecycle callback's JWT stays valid."""

SERVER_VERSION = "100290"
PLUGINS_VERSION = "1001.0.0-SNAPSHOT"


class InstallSigningKey:
    """The RSA key pair that signs ``installed`` and ``uninstalled`` callbacks.

    The 2048-bit key is generated on first use, because generating it takes tens of
    milliseconds and most tests never need it.
    """

    def __init__(self) -> None:
        self.kid = str(uuid.uuid4())
        self._private_key: rsa.RSAPrivateKey | None = None

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        """The private key, generated on first access."""
        if self._private_key is None:
            self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

        return self._private_key

    def public_key_pem(self) -> str:
        """Return the public key in PEM format, as Atlassian's key server serves it."""
        pem = self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

        return pem.decode("ascii")


def _apply_overrides(values: dict[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    # An override of None removes the entry, so tests can send a token without a claim.
    for name, value in (overrides or {}).items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value

    return values


def _require_secret(site: FakeSite) -> str:
    if site.shared_secret is None:
        raise ValueError(
            f"The app is not installed on {site.base_url}, so the site has no shared secret. "
            "Call install() first."
        )

    return site.shared_secret


class LifecycleMixin:
    """Lifecycle callbacks and token minting, mixed into :class:`FakeJira`."""

    app_key: str
    signing_key: InstallSigningKey
    minted_tokens: list[str]
    issued_secrets: list[str]

    def _minted(self, token: str) -> str:
        self.minted_tokens.append(token)

        return token

    def lifecycle_payload(self, site: FakeSite, event: str) -> dict[str, Any]:
        """Return the JSON body Jira sends with the lifecycle callback ``event``."""
        return {
            "key": self.app_key,
            "clientKey": site.client_key,
            "serverVersion": SERVER_VERSION,
            "pluginsVersion": PLUGINS_VERSION,
            "baseUrl": site.base_url,
            "displayUrl": site.base_url,
            "productType": "jira",
            "description": f"Atlassian JIRA at {site.base_url}",
            "eventType": event,
        }

    async def install(
        self,
        site: FakeSite,
        *,
        app_base_url: str,
        client: httpx.AsyncClient,
        claims_override: Mapping[str, Any] | None = None,
        payload_override: Mapping[str, Any] | None = None,
        kid_override: str | None = None,
        private_key_override: rsa.RSAPrivateKey | None = None,
    ) -> httpx.Response:
        """Send the ``installed`` callback with a new shared secret and return the response.

        The site keeps the new secret only when the app responds with a 2xx status, because
        an installation that fails leaves the previous one in place. In the overrides, a
        value of ``None`` removes that claim or field.
        """
        secret = secrets.token_urlsafe(48)
        self.issued_secrets.append(secret)
        payload = self.lifecycle_payload(site, "installed") | {"sharedSecret": secret}
        response = await self._send_signed(
            site,
            "installed",
            app_base_url=app_base_url,
            client=client,
            payload=_apply_overrides(payload, payload_override),
            claims_override=claims_override,
            kid=kid_override or self.signing_key.kid,
            private_key=private_key_override or self.signing_key.private_key,
        )
        if response.is_success:
            site.shared_secret = secret

        return response

    async def uninstall(
        self,
        site: FakeSite,
        *,
        app_base_url: str,
        client: httpx.AsyncClient,
        claims_override: Mapping[str, Any] | None = None,
        payload_override: Mapping[str, Any] | None = None,
        kid_override: str | None = None,
        private_key_override: rsa.RSAPrivateKey | None = None,
    ) -> httpx.Response:
        """Send the ``uninstalled`` callback, then forget the shared secret.

        The app loses API access to the site whatever it responds, as in Jira Cloud.
        """
        payload = self.lifecycle_payload(site, "uninstalled")
        response = await self._send_signed(
            site,
            "uninstalled",
            app_base_url=app_base_url,
            client=client,
            payload=_apply_overrides(payload, payload_override),
            claims_override=claims_override,
            kid=kid_override or self.signing_key.kid,
            private_key=private_key_override or self.signing_key.private_key,
        )
        site.shared_secret = None

        return response

    async def enable(
        self,
        site: FakeSite,
        *,
        app_base_url: str,
        client: httpx.AsyncClient,
        claims_override: Mapping[str, Any] | None = None,
        secret_override: str | None = None,
    ) -> httpx.Response:
        """Send the ``enabled`` callback, signed with the site's shared secret."""
        return await self._send_shared(
            site, "enabled", app_base_url, client, claims_override, secret_override
        )

    async def disable(
        self,
        site: FakeSite,
        *,
        app_base_url: str,
        client: httpx.AsyncClient,
        claims_override: Mapping[str, Any] | None = None,
        secret_override: str | None = None,
    ) -> httpx.Response:
        """Send the ``disabled`` callback, signed with the site's shared secret."""
        return await self._send_shared(
            site, "disabled", app_base_url, client, claims_override, secret_override
        )

    def context_token(self, site: FakeSite, account_id: str, *, lifetime: int = 900) -> str:
        """Return a context JWT, as Jira hands one to the app's page in the browser.

        Its ``qsh`` is the fixed ``context-qsh``, so it is not bound to any request.
        """
        issued_at = int(time.time())
        claims = {
            "iss": site.client_key,
            "sub": account_id,
            "qsh": "context-qsh",
            "iat": issued_at,
            "exp": issued_at + lifetime,
        }

        return self._minted(jwt.encode(claims, _require_secret(site), algorithm="HS256"))

    def iframe_token(
        self,
        site: FakeSite,
        account_id: str,
        *,
        method: str,
        url: str,
        app_base_url: str,
        lifetime: int = INSTALL_TOKEN_LIFETIME,
    ) -> str:
        """Return the JWT Jira appends to the URL of an app page it loads in an iframe."""
        issued_at = int(time.time())
        claims = {
            "iss": site.client_key,
            "sub": account_id,
            "qsh": query_string_hash(method, url, app_base_url.rstrip("/")),
            "iat": issued_at,
            "exp": issued_at + lifetime,
        }

        return self._minted(jwt.encode(claims, _require_secret(site), algorithm="HS256"))

    def _callback_claims(
        self, site: FakeSite, url: str, app_base_url: str, overrides: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        issued_at = int(time.time())
        claims: dict[str, Any] = {
            "iss": site.client_key,
            "iat": issued_at,
            "exp": issued_at + INSTALL_TOKEN_LIFETIME,
            "qsh": query_string_hash("POST", url, app_base_url),
        }

        return _apply_overrides(claims, overrides)

    async def _send_signed(
        self,
        site: FakeSite,
        event: str,
        *,
        app_base_url: str,
        client: httpx.AsyncClient,
        payload: dict[str, Any],
        claims_override: Mapping[str, Any] | None,
        kid: str,
        private_key: rsa.RSAPrivateKey,
    ) -> httpx.Response:
        base = app_base_url.rstrip("/")
        url = f"{base}/{event}"
        claims = self._callback_claims(site, url, base, {"aud": base} | dict(claims_override or {}))
        token = self._minted(
            jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": kid})
        )

        return await _post(client, url, payload, token, site, event)

    async def _send_shared(
        self,
        site: FakeSite,
        event: str,
        app_base_url: str,
        client: httpx.AsyncClient,
        claims_override: Mapping[str, Any] | None,
        secret_override: str | None,
    ) -> httpx.Response:
        base = app_base_url.rstrip("/")
        url = f"{base}/{event}"
        claims = self._callback_claims(site, url, base, claims_override)
        secret = secret_override or _require_secret(site)
        token = self._minted(jwt.encode(claims, secret, algorithm="HS256"))
        payload = self.lifecycle_payload(site, event)

        return await _post(client, url, payload, token, site, event)


async def _post(
    client: httpx.AsyncClient,
    url: str,
    payload: dict[str, Any],
    token: str,
    site: FakeSite,
    event: str,
) -> httpx.Response:
    response = await client.post(url, json=payload, headers={"Authorization": f"JWT {token}"})
    logger.info(
        "Sent the %s callback of %s, and the app responded with status %d.",
        event,
        site.base_url,
        response.status_code,
    )

    return response
