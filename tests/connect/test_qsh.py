"""Atlassian's query string hash vectors, checked against canonical_request and the verifier.

The vectors come from Atlassian Connect's JwtSigningInteroperabilityTest, as shipped in
atlassian-connect-express's test resources. Their secret is 18 bytes long, which makes
PyJWT 2.10 and later warn about the key length unless the verifier silences it.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from propledger.connect import (
    VerifiedToken,
    canonical_request,
    query_string_hash,
    verify_request_token,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS_PATH = REPO_ROOT / ".." / "shared" / "reference" / "connect-jwt-signed-urls.json"
VECTORS = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
SECRET: str = VECTORS["secret"]
ENTRIES: list[dict[str, str]] = VECTORS["tests"]


def base_url_of(entry: dict[str, str]) -> str:
    if "baseUrl contains path" in entry["name"]:
        return "https://example.com/base"

    return "https://example.com"


def token_of(entry: dict[str, str]) -> str:
    query = parse_qs(urlsplit(entry["signedUrl"]).query, keep_blank_values=True)
    (token,) = query["jwt"]

    return token


def unverified_claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


async def secret_lookup(client_key: str) -> str | None:
    return SECRET if client_key == "jira:1234-5678-9000" else None


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["name"] for entry in ENTRIES])
def test_canonical_request_vector(entry):
    canonical = canonical_request("GET", entry["signedUrl"], base_url_of(entry))

    assert canonical == entry["canonicalUrl"]


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["name"] for entry in ENTRIES])
def test_qsh_vector_matches_claim(entry):
    claims = unverified_claims(token_of(entry))

    assert claims["qsh"] == query_string_hash("GET", entry["signedUrl"], base_url_of(entry))


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["name"] for entry in ENTRIES])
async def test_signed_url_verifies(entry):
    token = token_of(entry)
    claims = unverified_claims(token)

    verified = await verify_request_token(
        token,
        method="GET",
        url=entry["signedUrl"],
        base_url=base_url_of(entry),
        lookup_secret=secret_lookup,
        now=float(claims["iat"]),
    )

    assert verified == VerifiedToken(
        client_key="jira:1234-5678-9000",
        account_id="123456789",
        context=False,
        claims=claims,
    )


def test_vectors_cover_40_requests():
    names = {entry["name"].removesuffix(" (uri)") for entry in ENTRIES}
    failing = [
        entry["name"]
        for entry in ENTRIES
        if canonical_request("GET", entry["signedUrl"], base_url_of(entry)) != entry["canonicalUrl"]
    ]

    assert len(ENTRIES) == 79
    assert len(names) == 40
    assert failing == []


def test_reference_secret_warns_in_pyjwt():
    if not hasattr(jwt, "InsecureKeyLengthWarning"):
        pytest.skip("PyJWT before 2.10 does not warn about short HMAC keys")
    token = token_of(ENTRIES[0])

    with pytest.warns(jwt.InsecureKeyLengthWarning):
        jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})


async def test_reference_secret_no_warning():
    entry = ENTRIES[0]
    token = token_of(entry)
    claims = unverified_claims(token)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await verify_request_token(
            token,
            method="GET",
            url=entry["signedUrl"],
            base_url=base_url_of(entry),
            lookup_secret=secret_lookup,
            now=float(claims["iat"]),
        )

    assert [str(warning.message) for warning in caught] == []
