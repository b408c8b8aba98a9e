"""Connect JWTs the app sends to Jira: HS256, signed with the installation's shared secret."""

from __future__ import annotations

import time

import jwt

from propledger.connect._qsh import query_string_hash

__all__ = ["APP_TOKEN_LIFETIME", "encode_app_token"]

APP_TOKEN_LIFETIME = 180
"""Seconds an app-to-Jira token stays valid; Atlassian recommends three minutes."""


def encode_app_token(
    *,
    app_key: str,
    shared_secret: str,
    method: str,
    url: str,
    base_url: str,
    now: float | None = None,
    lifetime: int = APP_TOKEN_LIFETIME,
) -> str:
    """Return a JWT that authenticates one request of the app to a Jira site.

    ``iss`` is the app key and ``qsh`` binds the token to ``method`` and ``url``,
    relative to the site's ``base_url``.
    """
    issued_at = int(time.time() if now is None else now)
    claims = {
        "iss": app_key,
        "iat": issued_at,
        "exp": issued_at + lifetime,
        "qsh": query_string_hash(method, url, base_url),
    }

    return jwt.encode(claims, shared_secret, algorithm="HS256")
