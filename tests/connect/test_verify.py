from __future__ import annotations

import json
import logging
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from propledger.connect import (
    VerifiedToken,
    query_string_hash,
    token_from_request,
    verify_request_token,
)
from propledger.errors import AuthenticationError

NOW = 1_700_000_000
CLIENT_KEY = "jira:acme-0001"
SECRET = "acme-shared-secret-of-at-least-32-bytes"
BASE_URL = "https://app.example.test/connect"
URL = "/connect/panel?issueId=10001&project=ACME"
QSH = query_string_hash("GET", URL, BASE_URL)


def make_claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "iss": CLIENT_KEY,
        "sub": "557058:f00d",
        "iat": NOW - 10,
        "exp": NOW + 170,
        "qsh": QSH,
    }
    claims.update(changes)

    return {name: value for name, value in claims.items() if value is not None}


def sign(claims: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


class SecretStore:
    """An async secret lookup that records the client keys it was called with."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.lookups: list[str] = []

    async def __call__(self, client_key: str) -> str | None:
        self.lookups.append(client_key)

        return self.secrets.get(client_key)


@pytest.fixture
def secrets():
    return SecretStore({CLIENT_KEY: SECRET})


async def verify(token: str, secrets: SecretStore, **options: Any) -> VerifiedToken:
    options = {"method": "GET", "url": URL, "base_url": BASE_URL, "now": NOW, **options}

    return await verify_request_token(token, lookup_secret=secrets, **options)


def rs256_token(claims: dict[str, Any]) -> str:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    return jwt.encode(claims, private_key, algorithm="RS256")


def sign_raw_payload(claims: dict[str, Any]) -> str:
    # jwt.encode rejects a non-string iss, so the payload is signed as plain JSON bytes.
    return jwt.PyJWS().encode(json.dumps(claims).encode(), SECRET, algorithm="HS256")


def unsigned_token(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, "", algorithm="none")


async def test_verify_valid_token(secrets):
    claims = make_claims()

    verified = await verify(sign(claims), secrets)

    assert verified == VerifiedToken(
        client_key=CLIENT_KEY, account_id="557058:f00d", context=False, claims=claims
    )
    assert secrets.lookups == [CLIENT_KEY]


async def test_verify_without_sub(secrets):
    claims = make_claims(sub=None)

    verified = await verify(sign(claims), secrets)

    assert verified.account_id is None


async def test_verify_absolute_url(secrets):
    verified = await verify(sign(make_claims()), secrets, url="https://app.example.test" + URL)

    assert verified.client_key == CLIENT_KEY


async def test_verify_within_leeway(secrets):
    claims = make_claims(iat=NOW + 29, exp=NOW - 29)

    verified = await verify(sign(claims), secrets)

    assert verified.claims == claims


REJECTIONS = [
    pytest.param(lambda: sign(make_claims(exp=NOW - 30)), "token expired", id="expired"),
    pytest.param(
        lambda: sign(make_claims(iat=NOW + 31)), "token issued in the future", id="iat-future"
    ),
    pytest.param(lambda: sign(make_claims(nbf=NOW + 31)), "token not yet valid", id="nbf-future"),
    pytest.param(
        lambda: sign(make_claims(), "another-secret-of-at-least-32-bytes!"),
        "invalid signature",
        id="wrong-secret",
    ),
    pytest.param(lambda: sign(make_claims(qsh=None)), "missing qsh claim", id="missing-qsh"),
    pytest.param(lambda: sign(make_claims(exp=None)), "missing exp claim", id="missing-exp"),
    pytest.param(lambda: sign(make_claims(iat=None)), "missing iat claim", id="missing-iat"),
    pytest.param(
        lambda: sign(make_claims(qsh=query_string_hash("POST", URL, BASE_URL))),
        "query string hash mismatch",
        id="wrong-qsh",
    ),
    pytest.param(
        lambda: sign(make_claims(qsh="context-qsh")),
        "context tokens are not accepted on this route",
        id="context-refused",
    ),
    pytest.param(lambda: sign(make_claims(qsh=42)), "invalid qsh claim", id="qsh-not-string"),
    pytest.param(lambda: sign(make_claims(exp="soon")), "invalid exp claim", id="exp-not-number"),
    pytest.param(lambda: sign(make_claims(sub=7)), "invalid sub claim", id="sub-not-string"),
]


@pytest.mark.parametrize(("make_token", "reason"), REJECTIONS)
async def test_verify_rejects(secrets, make_token, reason):
    with pytest.raises(AuthenticationError) as caught:
        await verify(make_token(), secrets)

    assert caught.value.reason == reason
    assert str(caught.value) == reason
    assert secrets.lookups == [CLIENT_KEY]


REJECTIONS_BEFORE_LOOKUP = [
    pytest.param(lambda: unsigned_token(make_claims()), "unsupported algorithm", id="alg-none"),
    pytest.param(lambda: rs256_token(make_claims()), "unsupported algorithm", id="rs256"),
    pytest.param(lambda: "", "malformed token", id="empty"),
    pytest.param(lambda: "not-a-jwt", "malformed token", id="garbage"),
    pytest.param(lambda: "a.b.c", "malformed token", id="three-garbage-parts"),
    pytest.param(lambda: sign(make_claims(iss=None)), "missing iss claim", id="missing-iss"),
    pytest.param(lambda: sign(make_claims(iss="")), "missing iss claim", id="empty-iss"),
    pytest.param(
        lambda: sign_raw_payload(make_claims(iss=["jira"])), "invalid iss claim", id="iss-list"
    ),
]


@pytest.mark.parametrize(("make_token", "reason"), REJECTIONS_BEFORE_LOOKUP)
async def test_verify_rejects_before_lookup(secrets, make_token, reason):
    with pytest.raises(AuthenticationError) as caught:
        await verify(make_token(), secrets)

    assert caught.value.reason == reason
    assert secrets.lookups == []


@pytest.mark.parametrize("secret", [None, ""], ids=["unknown", "empty-secret"])
async def test_verify_unknown_issuer(secret):
    secrets = SecretStore({} if secret is None else {CLIENT_KEY: secret})

    with pytest.raises(AuthenticationError) as caught:
        await verify(sign(make_claims()), secrets)

    assert caught.value.reason == "unknown issuer"
    assert secrets.lookups == [CLIENT_KEY]


async def test_verify_context_allowed(secrets):
    claims = make_claims(qsh="context-qsh")

    verified = await verify(sign(claims), secrets, allow_context_qsh=True)

    assert verified == VerifiedToken(
        client_key=CLIENT_KEY, account_id="557058:f00d", context=True, claims=claims
    )


async def test_verify_uses_leeway_argument(secrets):
    token = sign(make_claims(exp=NOW - 5))

    with pytest.raises(AuthenticationError) as caught:
        await verify(token, secrets, leeway=0)

    assert caught.value.reason == "token expired"


async def test_verify_logs_rejection(secrets, caplog):
    token = sign(make_claims(exp=NOW - 60))
    caplog.set_level(logging.WARNING, logger="propledger.connect")

    with pytest.raises(AuthenticationError):
        await verify(token, secrets)

    assert caplog.record_tuples == [
        (
            "propledger.connect",
            logging.WARNING,
            "Rejected a Connect request token from client key 'jira:acme-0001': token expired",
        )
    ]


async def test_verify_logs_without_client_key(secrets, caplog):
    caplog.set_level(logging.WARNING, logger="propledger.connect")

    with pytest.raises(AuthenticationError):
        await verify("not-a-jwt", secrets)

    assert caplog.record_tuples == [
        ("propledger.connect", logging.WARNING, "Rejected a Connect request token: malformed token")
    ]


@pytest.mark.parametrize(("make_token", "reason"), REJECTIONS + REJECTIONS_BEFORE_LOOKUP)
async def test_verify_logs_no_token(secrets, caplog, make_token, reason):
    token = make_token()
    caplog.set_level(logging.DEBUG)

    with pytest.raises(AuthenticationError):
        await verify(token, secrets)

    assert len(caplog.records) == 1
    assert reason in caplog.text
    for segment in [token, *token.split(".")]:
        # Short segments such as "c" of "a.b.c" occur in any text by chance.
        if len(segment) > 8:
            assert segment not in caplog.text
    assert SECRET not in caplog.text


def test_token_from_header():
    headers = {"authorization": "JWT header.token.value"}

    assert token_from_request(headers, {"jwt": "query.token.value"}) == "header.token.value"


def test_token_from_header_any_case():
    assert token_from_request({"Authorization": "jwt a.b.c"}, {}) == "a.b.c"


def test_token_from_query():
    assert token_from_request({}, {"jwt": "query.token.value"}) == "query.token.value"


def test_token_from_other_scheme():
    headers = {"authorization": "Bearer a.b.c"}

    assert token_from_request(headers, {"jwt": "q.r.s"}) == "q.r.s"


def test_token_from_request_none():
    assert token_from_request({"authorization": "JWT "}, {"jwt": ""}) is None
