"""Forge Remote: invocation-token verification, installations and the app system token."""

from propledger.forge._auth import ForgeSystemAuth

__all__ = ["FORGE_CLIENT_KEY_PREFIX", "ForgeSystemAuth", "forge_client_key"]

FORGE_CLIENT_KEY_PREFIX = "forge:"
"""Prefix of the client keys propledger gives Forge installations; no Connect key has it."""


def forge_client_key(installation_id: str) -> str:
    """Return the client key under which a Forge installation is stored."""
    return FORGE_CLIENT_KEY_PREFIX + installation_id
