"""Verification of the RS256 JWTs that Jira signs its ``installed`` and ``uninstalled`` calls with.

Jira signs these lifecycle callbacks with an Atlassian key, named by the token's ``kid``
and published as PEM text under the install-keys base URL. The token names the app's
base URL in ``aud`` and the installation's client key in ``iss``.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from propledger.connect._verify import (
    check_qsh,
    check_times,
    decode_claims,
    log_rejection,
    read_header,
)
from propledger.errors import AuthenticationError

__all__ = ["DEFAULT_INSTALL_KEYS_URL", "InstallKeys", "verify_lifecycle_token"]

DEFAULT_INSTALL_KEYS_URL = "https://connect-install-keys.atlassian.com"
"""Atlassian's production server of the public keys that sign lifecycle callbacks."""

_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_LIFECYCLE_TOKEN_CLAIMS = ["iss", "exp", "qsh", "aud"]


class InstallKeys:
    """A cache of the RSA public keys that sign lifecycle callbacks, fetched by key id.

    Keys are fetched with ``GET {base_url}/{kid}`` and kept by key id. When more than
    ``max_cached`` keys are cached, the key cached first is dropped. ``timeout`` is in
    seconds. Without a ``client``, one is created on first use and closed by
    :meth:`aclose`; a given client stays the caller's to close.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_INSTALL_KEYS_URL,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
        max_cached: int = 64,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._client = client
        self._owns_client = client is None
        self._timeout = timeout
        self._max_cached = max_cached
        self._cache: OrderedDict[str, RSAPublicKey] = OrderedDict()

    async def get(self, kid: str) -> RSAPublicKey:
        """Return the public key named ``kid``, fetching it unless it is cached.

        Raises AuthenticationError when the key id is invalid (before any request), or
        when the key cannot be fetched or is not an RSA public key in PEM form.
        """
        if not isinstance(kid, str) or _KEY_ID.fullmatch(kid) is None:
            raise AuthenticationError("invalid key id")
        cached = self._cache.get(kid)
        if cached is not None:
            return cached

        key = await self._fetch(kid)
        self._cache[kid] = key
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)

        return key

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _fetch(self, kid: str) -> RSAPublicKey:
        if self._client is None:
            self._client = httpx.AsyncClient()
        try:
            response = await self._client.get(f"{self._base_url}/{kid}", timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise AuthenticationError("install key request timed out") from exc
        except httpx.HTTPError as exc:
            raise AuthenticationError("install key request failed") from exc

        if response.status_code == 404:
            raise AuthenticationError("install key not found")
        if response.status_code != 200:
            raise AuthenticationError(f"install key server returned HTTP {response.status_code}")

        return _parse_public_key(response.content)


async def verify_lifecycle_token(
    token: str,
    *,
    method: str,
    url: str,
    app_base_url: str,
    client_key: str,
    keys: InstallKeys,
    allowed_audiences: Sequence[str] = (),
    leeway: float = 30,
    now: float | None = None,
) -> Mapping[str, Any]:
    """Verify the signed token of an ``installed`` or ``uninstalled`` callback; return its claims.

    ``client_key`` is the ``clientKey`` of the callback's body, and ``iss`` must equal it.
    ``aud`` must name ``app_base_url`` or one of ``allowed_audiences``; a trailing slash on
    either side is ignored. The qsh must match ``method`` and ``url`` relative to
    ``app_base_url``, and context tokens are rejected. ``leeway`` is in seconds; ``now``
    is a Unix time and defaults to the current time.

    Raises AuthenticationError with a short reason on any failure.
    """
    try:
        header = read_header(token)
        if header.get("alg") != "RS256":
            raise AuthenticationError("unsupported algorithm")
        kid = header.get("kid")
        if kid is None:
            raise AuthenticationError("missing kid header")
        key = await keys.get(kid)
        # Only RS256 is allowed, so a token signed with HMAC over the PEM text never passes.
        claims = decode_claims(token, key, algorithm="RS256", required=_LIFECYCLE_TOKEN_CLAIMS)
        _check_audience(claims["aud"], [app_base_url, *allowed_audiences])
        if claims["iss"] != client_key:
            raise AuthenticationError("issuer does not match the client key")
        check_times(claims, leeway=leeway, now=now)
        check_qsh(claims, method=method, url=url, base_url=app_base_url, allow_context=False)
    except AuthenticationError as exc:
        log_rejection("lifecycle", exc.reason, client_key)
        raise

    return claims


def _parse_public_key(body: bytes) -> RSAPublicKey:
    try:
        key = load_pem_public_key(body)
    except (ValueError, UnsupportedAlgorithm):
        raise AuthenticationError("install key is not a PEM public key") from None
    if not isinstance(key, RSAPublicKey):
        raise AuthenticationError("install key is not an RSA public key")

    return key


def _check_audience(audience: Any, accepted: Sequence[str]) -> None:
    claimed = [audience] if isinstance(audience, str) else audience
    if not isinstance(claimed, list) or not all(isinstance(item, str) for item in claimed):
        raise AuthenticationError("invalid aud claim")

    accepted_urls = {_strip_slash(url) for url in accepted}
    if not any(_strip_slash(item) in accepted_urls for item in claimed):
        raise AuthenticationError("audience mismatch")


def _strip_slash(url: str) -> str:
    return url[:-1] if url.endswith("/") else url
