"""Request authentication for the app's routes: Connect JWTs from Jira and its pages."""

from __future__ import annotations

import dataclasses

from starlette.requests import Request

from propledger.connect import (
    VerifiedToken,
    claimed_issuer,
    token_from_request,
    verify_request_token,
)
from propledger.errors import AuthenticationError
from propledger.ledger import Ledger
from propledger.lifecycle import FORGE_CLIENT_KEY_PREFIX, MAX_CLIENT_KEY_LENGTH
from propledger.model import Installation, InstallationState
from propledger.web.errors import note_client_key

__all__ = ["Caller", "authenticate", "request_target"]

_INACTIVE = (InstallationState.UNINSTALLED, InstallationState.SUPERSEDED)


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    """A verified caller: the installation that signed the token, and the user if any."""

    installation: Installation
    token: VerifiedToken

    @property
    def account_id(self) -> str:
        """The Atlassian account id of the user, from the token's ``sub`` claim."""
        if not self.token.account_id:
            raise AuthenticationError("token names no user")

        return self.token.account_id


def request_target(request: Request) -> str:
    """Return the request's path and raw query string, as the qsh was computed over."""
    path = request.scope.get("root_path", "") + request.scope["path"]
    query = request.scope.get("query_string", b"").decode("latin-1")

    return f"{path}?{query}" if query else path


async def authenticate(
    request: Request, ledger: Ledger, *, allow_context: bool, allow_inactive: bool = False
) -> Caller:
    """Verify the request's Connect JWT and return the caller.

    ``allow_context`` accepts context tokens (qsh ``context-qsh``), which only the app's
    browser API routes may. Tokens of uninstalled and superseded installations are
    rejected as from an unknown issuer, unless ``allow_inactive`` is set: the
    ``enabled`` and ``disabled`` callbacks need it, because Jira may deliver them after
    ``uninstalled``. Forge installations never authenticate with a Connect JWT.
    """
    token = token_from_request(request.headers, request.query_params)
    if not token:
        raise AuthenticationError("missing token")
    note_client_key(request, claimed_issuer(token))

    async def lookup_secret(client_key: str) -> str | None:
        if not _is_connect_client_key(client_key):
            return None
        found = await ledger.store.find_installation(client_key)
        if found is None or (found.state in _INACTIVE and not allow_inactive):
            return None

        return found.shared_secret

    verified = await verify_request_token(
        token,
        method=request.method,
        url=request_target(request),
        base_url=ledger.settings.app_base_url,
        lookup_secret=lookup_secret,
        allow_context_qsh=allow_context,
        leeway=ledger.settings.token_leeway,
    )
    installation = await ledger.store.get_installation(verified.client_key)

    return Caller(installation=installation, token=verified)


def _is_connect_client_key(client_key: str) -> bool:
    # A key that could never be stored is rejected before it reaches the database,
    # where PostgreSQL would fail on a NUL character instead of finding nothing.
    return (
        0 < len(client_key) <= MAX_CLIENT_KEY_LENGTH
        and client_key.isprintable()
        and not client_key.startswith(FORGE_CLIENT_KEY_PREFIX)
    )
