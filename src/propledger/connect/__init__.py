"""Atlassian Connect: query string hashes, the JWTs exchanged with Jira, the descriptor."""

from propledger.connect._descriptor import (
    CONNECT_SCOPES,
    LEAST_SCOPES,
    load_descriptor_template,
    render_descriptor,
)
from propledger.connect._lifecycle import (
    DEFAULT_INSTALL_KEYS_URL,
    InstallKeys,
    verify_lifecycle_token,
)
from propledger.connect._qsh import canonical_request, query_string_hash
from propledger.connect._tokens import APP_TOKEN_LIFETIME, encode_app_token
from propledger.connect._verify import (
    SecretLookup,
    VerifiedToken,
    claimed_issuer,
    token_from_request,
    verify_request_token,
)

__all__ = [
    "APP_TOKEN_LIFETIME",
    "CONNECT_SCOPES",
    "DEFAULT_INSTALL_KEYS_URL",
    "LEAST_SCOPES",
    "InstallKeys",
    "SecretLookup",
    "VerifiedToken",
    "canonical_request",
    "claimed_issuer",
    "encode_app_token",
    "load_descriptor_template",
    "query_string_hash",
    "render_descriptor",
    "token_from_request",
    "verify_lifecycle_token",
    "verify_request_token",
]
