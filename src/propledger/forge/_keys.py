"""The key set that signs Forge invocation tokens, fetched as a JWKS and cached by key id."""

from __future__ import annotations

import json
import logging
import re
import time
from collections import OrderedDict
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from propledger.errors import AuthenticationError

__all__ = ["ForgeKeys"]

logger = logging.getLogger("propledger.forge")

_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_MAX_KEYS_READ = 32


class ForgeKeys:
    """The RSA public keys of Forge invocation tokens, from ``jwks_url``.

    The key set is fetched again when a token names an unknown key id, at most once
    per ``refresh_interval`` seconds, so tokens with made-up key ids cannot make
    propledger hammer the key server. At most ``max_cached`` keys are kept, the oldest
    dropped first. ``timeout`` is in seconds. A given ``client`` stays the caller's to
    close.
    """

    def __init__(
        self,
        jwks_url: str,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
        refresh_interval: float = 60.0,
        max_cached: int = 64,
    ) -> None:
        self._jwks_url = jwks_url
        self._client = client
        self._owns_client = client is None
        self._timeout = timeout
        self._refresh_interval = refresh_interval
        self._max_cached = max_cached
        self._cache: OrderedDict[str, RSAPublicKey] = OrderedDict()
        self._fetched_at: float | None = None

    async def get(self, kid: object) -> RSAPublicKey:
        """Return the key named ``kid``; raise AuthenticationError for an unknown one."""
        if not isinstance(kid, str) or _KEY_ID.fullmatch(kid) is None:
            raise AuthenticationError("invalid key id")
        if kid not in self._cache and self._may_refresh():
            await self._refresh()
        key = self._cache.get(kid)
        if key is None:
            raise AuthenticationError("unknown key id")

        return key

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def _may_refresh(self) -> bool:
        return (
            self._fetched_at is None
            or time.monotonic() - self._fetched_at >= self._refresh_interval
        )

    async def _refresh(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient()
        self._fetched_at = time.monotonic()
        try:
            response = await self._client.get(self._jwks_url, timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise AuthenticationError("key set request timed out") from exc
        except httpx.HTTPError as exc:
            raise AuthenticationError("key set request failed") from exc
        if response.status_code != 200:
            raise AuthenticationError(f"key set server returned HTTP {response.status_code}")
        for kid, key in _parse_key_set(response.content):
            self._cache[kid] = key
            self._cache.move_to_end(kid)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)
        logger.info("Fetched the Forge key set; %d keys cached", len(self._cache))


def _parse_key_set(body: bytes) -> list[tuple[str, RSAPublicKey]]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise AuthenticationError("key set is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise AuthenticationError("key set has no keys")

    keys = []
    for entry in entries[:_MAX_KEYS_READ]:
        parsed = _parse_key(entry)
        if parsed is not None:
            keys.append(parsed)

    return keys


def _parse_key(entry: Any) -> tuple[str, RSAPublicKey] | None:
    if not isinstance(entry, dict) or entry.get("kty") != "RSA":
        return None
    kid = entry.get("kid")
    if not isinstance(kid, str) or _KEY_ID.fullmatch(kid) is None:
        return None
    try:
        key = jwt.PyJWK(entry, algorithm="RS256").key
    except (jwt.PyJWTError, ValueError, TypeError):
        return None

    return (kid, key) if isinstance(key, RSAPublicKey) else None
