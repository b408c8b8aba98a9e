"""Verification of Forge invocation tokens (FIT), sent by Forge with each remote call.

Forge signs each call to a remote with an RS256 JWT whose key is in Forge's published
key set. The token names ``forge/invocation-token`` as issuer, the app id
(``ari:cloud:ecosystem::app/...``) as audience, and the installation in ``app``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from propledger.connect._verify import check_times, decode_claims, log_rejection, read_header
from propledger.errors import AuthenticationError
from propledger.forge._keys import ForgeKeys

__all__ = ["FORGE_ISSUER", "Invocation", "verify_invocation_token"]

FORGE_ISSUER = "forge/invocation-token"

_REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "app"]
_INSTALLATION_ID = re.compile(r"[A-Za-z0-9:/._-]{1,200}")
_CLOUD_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_API_BASE_CLOUD_ID = re.compile(r"/ex/jira/([^/]+)")


@dataclasses.dataclass(frozen=True, slots=True)
class Invocation:
    """The verified facts of a Forge invocation token.

    ``site_url`` is the site's URL when Forge sent one (calls from a page), and
    ``account_id`` the calling user, if any.
    """

    installation_id: str
    cloud_id: str
    app_id: str
    account_id: str | None = None
    site_url: str | None = None


async def verify_invocation_token(
    token: str,
    *,
    app_id: str,
    keys: ForgeKeys,
    leeway: float = 30,
    now: float | None = None,
) -> Invocation:
    """Verify a Forge invocation token and return its claims about the call.

    Raises AuthenticationError with a short reason on any failure.
    """
    try:
        header = read_header(token)
        if header.get("alg") != "RS256":
            raise AuthenticationError("unsupported algorithm")
        if "kid" not in header:
            raise AuthenticationError("missing kid header")
        key = await keys.get(header["kid"])
        claims = decode_claims(token, key, algorithm="RS256", required=_REQUIRED_CLAIMS)
        if claims["iss"] != FORGE_ISSUER:
            raise AuthenticationError("issuer is not the Forge invocation token issuer")
        _check_audience(claims["aud"], app_id)
        check_times(claims, leeway=leeway, now=now)
        invocation = _invocation(claims, app_id)
    except AuthenticationError as exc:
        log_rejection("Forge invocation", exc.reason, None)
        raise

    return invocation


def _check_audience(audience: Any, app_id: str) -> None:
    claimed = [audience] if isinstance(audience, str) else audience
    if not isinstance(claimed, list) or app_id not in claimed:
        raise AuthenticationError("audience mismatch")


def _invocation(claims: Mapping[str, Any], app_id: str) -> Invocation:
    app = claims["app"]
    if not isinstance(app, dict):
        raise AuthenticationError("invalid app claim")
    if app.get("id", app_id) != app_id:
        raise AuthenticationError("app id does not match the audience")
    installation_id = app.get("installationId")
    if not isinstance(installation_id, str) or not _INSTALLATION_ID.fullmatch(installation_id):
        raise AuthenticationError("invalid installation id")
    context = claims.get("context")
    context = context if isinstance(context, dict) else {}
    principal = claims.get("principal")

    return Invocation(
        installation_id=installation_id,
        cloud_id=_cloud_id(app, context),
        app_id=app_id,
        account_id=principal if isinstance(principal, str) and principal else None,
        site_url=_site_url(context.get("siteUrl")),
    )


def _cloud_id(app: Mapping[str, Any], context: Mapping[str, Any]) -> str:
    cloud_id = context.get("cloudId")
    if cloud_id is None and isinstance(app.get("apiBaseUrl"), str):
        found = _API_BASE_CLOUD_ID.search(urlsplit(app["apiBaseUrl"]).path)
        cloud_id = found.group(1) if found else None
    if not isinstance(cloud_id, str) or not _CLOUD_ID.fullmatch(cloud_id):
        raise AuthenticationError("missing or invalid cloud id")

    return cloud_id


def _site_url(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 2048:
        return None
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        return None

    return f"https://{parts.netloc}"
