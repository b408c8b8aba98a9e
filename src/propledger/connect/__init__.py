"""Atlassian Connect: query string hashes and the JWTs exchanged with Jira."""

from propledger.connect._qsh import canonical_request, query_string_hash
from propledger.connect._tokens import APP_TOKEN_LIFETIME, encode_app_token

__all__ = [
    "APP_TOKEN_LIFETIME",
    "canonical_request",
    "encode_app_token",
    "query_string_hash",
]
