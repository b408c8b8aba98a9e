"""Forge Remote: invocation-token verification, installations and the app system token."""

from propledger.forge._auth import ForgeSystemAuth
from propledger.forge._installations import (
    FORGE_CLIENT_KEY_PREFIX,
    forge_client_key,
    record_invocation,
)
from propledger.forge._keys import ForgeKeys
from propledger.forge._token import FORGE_ISSUER, Invocation, verify_invocation_token

__all__ = [
    "FORGE_CLIENT_KEY_PREFIX",
    "FORGE_ISSUER",
    "ForgeKeys",
    "ForgeSystemAuth",
    "Invocation",
    "forge_client_key",
    "record_invocation",
    "verify_invocation_token",
]
