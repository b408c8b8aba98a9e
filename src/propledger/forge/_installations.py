"""Forge installations in the store, one per ``installationId``."""

from __future__ import annotations

from propledger.forge._token import Invocation
from propledger.model import Installation, InstallationState
from propledger.store import Store

__all__ = ["FORGE_CLIENT_KEY_PREFIX", "forge_client_key", "record_invocation"]

FORGE_CLIENT_KEY_PREFIX = "forge:"
"""Prefix of the client keys propledger gives Forge installations. No Connect key has it."""


def forge_client_key(installation_id: str) -> str:
    """Return the client key under which a Forge installation is stored."""
    return FORGE_CLIENT_KEY_PREFIX + installation_id


def _next_state(current: InstallationState | None) -> InstallationState:
    # Forge signed this call for the installation, so it is installed whatever was stored.
    if current in (None, InstallationState.SUPERSEDED, InstallationState.UNINSTALLED):
        return InstallationState.INSTALLED

    return current


async def record_invocation(
    store: Store, invocation: Invocation, *, system_token: str, api_base_url: str
) -> Installation:
    """Store the installation a verified invocation came from, with its system token.

    The installation's base URL is ``api_base_url`` with ``{cloudId}`` replaced by the
    site's cloud id. Its shared secret column keeps the latest app system token,
    encrypted at rest like a Connect shared secret, so that a removal worker in any
    process can call Jira. Another Forge installation on the same site, left over from
    an earlier install, is superseded.

    NOTE: the system token expires. A removal that outlasts it gets 401 responses from
    Jira until the admin page's next call stores a fresh token.
    """
    installation = Installation(
        client_key=forge_client_key(invocation.installation_id),
        base_url=api_base_url.replace("{cloudId}", invocation.cloud_id),
        shared_secret=system_token,
        display_url=invocation.site_url,
    )
    result = await store.install_installation(
        installation, event="forge-invocation", rule=_next_state
    )

    return result.installation
