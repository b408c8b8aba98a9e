"""Verification of the HS256 Connect JWTs that Jira sends with requests to the app.

Every failure raises :class:`~propledger.errors.AuthenticationError` with a short reason
that is safe to log and to return: it never contains the token or a shared secret.
"""

from __future__ import annotations

import hmac
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt

from propledger.connect._qsh import query_string_hash
from propledger.errors import AuthenticationError

if TYPE_CHECKING:
    from jwt.types import Options

__all__ = [
    "SecretLookup",
    "VerifiedToken",
    "claimed_issuer",
    "token_from_request",
    "verify_request_token",
]

logger = logging.getLogger("propledger.connect")

CONTEXT_QSH = "context-qsh"
"""The qsh value of a context token, which is bound to no particular request."""

SecretLookup = Callable[[str], Awaitable[str | None]]
"""An async function returning a client key's shared secret, or None for an unknown installation."""

# PyJWT 2.10 added this warning for HMAC keys shorter than the hash; older versions never warn.
_KEY_LENGTH_WARNING: type[Warning] | None = getattr(jwt, "InsecureKeyLengthWarning", None)
_REQUEST_TOKEN_CLAIMS = ["iss", "exp", "iat", "qsh"]
_MAX_LOGGED_ISSUER = 100


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """The verified claims of a Connect JWT sent by Jira."""

    client_key: str
    account_id: str | None
    context: bool
    claims: Mapping[str, Any] = field(repr=False)


async def verify_request_token(
    token: str,
    *,
    method: str,
    url: str,
    base_url: str,
    lookup_secret: SecretLookup,
    allow_context_qsh: bool = False,
    leeway: float = 30,
    now: float | None = None,
) -> VerifiedToken:
    """Verify a Connect JWT that Jira sent with a request to the app.

    ``url`` is the request target the app received (path and query, or an absolute URL),
    and ``base_url`` is the app's base URL, to which the qsh is relative. The secret
    comes from ``lookup_secret(iss)``; None or an empty string rejects the token.
    Context tokens (qsh ``context-qsh``) pass only when ``allow_context_qsh`` is true.
    ``leeway`` is in seconds; ``now`` is a Unix time and defaults to the current time.

    Raises AuthenticationError with a short reason on any failure.
    """
    client_key: str | None = None
    try:
        if read_header(token).get("alg") != "HS256":
            raise AuthenticationError("unsupported algorithm")
        client_key = _read_issuer(token)
        secret = await lookup_secret(client_key)
        if not secret:
            raise AuthenticationError("unknown issuer")
        claims = decode_claims(token, secret, algorithm="HS256", required=_REQUEST_TOKEN_CLAIMS)
        check_times(claims, leeway=leeway, now=now)
        context = check_qsh(
            claims, method=method, url=url, base_url=base_url, allow_context=allow_context_qsh
        )
        account_id = claims.get("sub")
        if account_id is not None and not isinstance(account_id, str):
            raise AuthenticationError("invalid sub claim")
    except AuthenticationError as exc:
        log_rejection("request", exc.reason, client_key)
        raise

    return VerifiedToken(
        client_key=client_key,
        account_id=account_id,
        context=context,
        claims=claims,
    )


def token_from_request(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """Return the Connect JWT of a request, or None when it carries none.

    The ``Authorization: JWT <token>`` header wins over the ``jwt`` query parameter. The
    scheme is matched case-insensitively. Pass a case-insensitive mapping of headers, as
    Starlette and httpx provide, or one with the lower-case name ``authorization``.
    """
    authorization = headers.get("authorization") or headers.get("Authorization")
    if authorization:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() == "jwt" and credentials.strip():
            return credentials.strip()

    return query.get("jwt") or None


def claimed_issuer(token: str) -> str | None:
    """Return the ``iss`` claim of a token without verifying it, or None.

    Use it only to name the claimed installation in logs, never to trust the caller.
    """
    try:
        return _read_issuer(token)
    except AuthenticationError:
        return None


def read_header(token: str) -> dict[str, Any]:
    """Return the unverified JOSE header of a token, or raise "malformed token"."""
    if not token:
        raise AuthenticationError("malformed token")
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AuthenticationError("malformed token") from None


def decode_claims(token: str, key: Any, *, algorithm: str, required: list[str]) -> dict[str, Any]:
    """Check the signature and the presence of ``required`` claims, and return the claims.

    Only ``algorithm`` is ever accepted. The callers check ``aud``, ``iss`` and ``sub``,
    and :func:`check_times` checks the times because PyJWT compares them only with the
    system clock, not with a given ``now``.
    """
    options: Options = {
        "require": required,
        "verify_exp": False,
        "verify_iat": False,
        "verify_nbf": False,
        # Without an expected audience PyJWT rejects any token that carries aud, and
        # verify_lifecycle_token compares aud itself so that a trailing slash is ignored.
        "verify_aud": False,
        "verify_iss": False,
        "verify_sub": False,
    }
    try:
        with warnings.catch_warnings():
            # Jira chooses the Connect shared secret, not the app, so a short one is not
            # the caller's mistake. The warning would only be noise in every request.
            if _KEY_LENGTH_WARNING is not None:
                warnings.simplefilter("ignore", _KEY_LENGTH_WARNING)
            return jwt.decode(token, key, algorithms=[algorithm], options=options)
    except jwt.MissingRequiredClaimError as exc:
        raise AuthenticationError(f"missing {exc.claim} claim") from None
    except jwt.InvalidSignatureError:
        raise AuthenticationError("invalid signature") from None
    except jwt.InvalidAlgorithmError:
        raise AuthenticationError("unsupported algorithm") from None
    except jwt.InvalidKeyError:
        raise AuthenticationError("unusable verification key") from None
    except jwt.PyJWTError:
        raise AuthenticationError("malformed token") from None


def check_times(claims: Mapping[str, Any], *, leeway: float, now: float | None) -> None:
    """Raise unless ``exp`` lies ahead and ``iat`` and ``nbf`` are not in the future."""
    current = time.time() if now is None else now
    if _numeric_claim(claims, "exp") <= current - leeway:
        raise AuthenticationError("token expired")
    if "iat" in claims and _numeric_claim(claims, "iat") > current + leeway:
        raise AuthenticationError("token issued in the future")
    if "nbf" in claims and _numeric_claim(claims, "nbf") > current + leeway:
        raise AuthenticationError("token not yet valid")


def check_qsh(
    claims: Mapping[str, Any], *, method: str, url: str, base_url: str, allow_context: bool
) -> bool:
    """Raise unless the qsh claim matches the request; return whether it is a context token."""
    qsh = claims.get("qsh")
    if qsh is None:
        raise AuthenticationError("missing qsh claim")
    if not isinstance(qsh, str):
        raise AuthenticationError("invalid qsh claim")
    if qsh == CONTEXT_QSH:
        if not allow_context:
            raise AuthenticationError("context tokens are not accepted on this route")
        return True

    expected = query_string_hash(method, url, base_url)
    if not hmac.compare_digest(qsh.encode("utf-8"), expected.encode("ascii")):
        raise AuthenticationError("query string hash mismatch")

    return False


def log_rejection(kind: str, reason: str, client_key: str | None) -> None:
    """Log a rejected token by its reason and claimed client key, never the token itself."""
    if client_key is None:
        logger.warning("Rejected a Connect %s token: %s", kind, reason)
    else:
        # The client key is unverified input, so its length is capped and it is quoted.
        logger.warning(
            "Rejected a Connect %s token from client key %r: %s",
            kind,
            client_key[:_MAX_LOGGED_ISSUER],
            reason,
        )


def _read_issuer(token: str) -> str:
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise AuthenticationError("malformed token") from None
    issuer = unverified.get("iss")
    if not issuer:
        raise AuthenticationError("missing iss claim")
    if not isinstance(issuer, str):
        raise AuthenticationError("invalid iss claim")

    return issuer


def _numeric_claim(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthenticationError(f"invalid {name} claim")

    return float(value)
