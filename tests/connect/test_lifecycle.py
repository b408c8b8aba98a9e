from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from typing import Any

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from propledger.connect import InstallKeys, query_string_hash, verify_lifecycle_token
from propledger.errors import AuthenticationError

NOW = 1_700_000_000
KEYS_URL = "https://keys.jira.test"
KID = "0f5c6d2a-install-key"
CLIENT_KEY = "jira:acme-0001"
APP_BASE_URL = "https://app.example.test"
URL = "/lifecycle/installed"
QSH = query_string_hash("POST", URL, APP_BASE_URL)
INVALID_KEY_IDS = ["../x", "a/b", "a?b", "a#b", "", "k" * 101, "key\n", "ключ"]


def public_pem(private_key: rsa.RSAPrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def private_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pem(private_key):
    return public_pem(private_key)


@pytest.fixture
def key_server():
    with respx.mock(base_url=KEYS_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def keys():
    install_keys = InstallKeys(KEYS_URL)
    yield install_keys
    await install_keys.aclose()


def make_claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "iss": CLIENT_KEY,
        "aud": APP_BASE_URL,
        "iat": NOW - 10,
        "exp": NOW + 170,
        "qsh": QSH,
    }
    claims.update(changes)

    return {name: value for name, value in claims.items() if value is not None}


def sign(private_key: rsa.RSAPrivateKey, claims: dict[str, Any], kid: str | None = KID) -> str:
    headers = {} if kid is None else {"kid": kid}

    return jwt.encode(claims, private_key, algorithm="RS256", headers=headers)


def hs256_with_key_text(claims: dict[str, Any], key_text: bytes) -> str:
    # PyJWT refuses to use PEM text as an HMAC secret, so the token is assembled by hand.
    def encode(part: bytes) -> bytes:
        return base64.urlsafe_b64encode(part).rstrip(b"=")

    header = encode(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    payload = encode(json.dumps(claims).encode())
    signing_input = header + b"." + payload
    signature = encode(hmac.new(key_text, signing_input, hashlib.sha256).digest())

    return (signing_input + b"." + signature).decode()


async def verify(token: str, keys: InstallKeys, **options: Any) -> dict[str, Any]:
    arguments = {
        "method": "POST",
        "url": URL,
        "app_base_url": APP_BASE_URL,
        "client_key": CLIENT_KEY,
        "now": NOW,
        **options,
    }

    return dict(await verify_lifecycle_token(token, keys=keys, **arguments))


async def rejection_reason(token: str, keys: InstallKeys, **options: Any) -> str:
    with pytest.raises(AuthenticationError) as caught:
        await verify(token, keys, **options)

    return caught.value.reason


async def test_lifecycle_valid_token(private_key, pem, key_server, keys):
    route = key_server.get(f"/{KID}").respond(200, content=pem)
    claims = make_claims()

    verified = await verify(sign(private_key, claims), keys)

    assert verified == claims
    assert route.call_count == 1
    request = route.calls.last.request
    assert (request.method, str(request.url)) == ("GET", f"{KEYS_URL}/{KID}")
    assert request.extensions["timeout"] == {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}


@pytest.mark.parametrize(
    "audience",
    [APP_BASE_URL, APP_BASE_URL + "/", [APP_BASE_URL]],
    ids=["exact", "trailing-slash", "list"],
)
async def test_lifecycle_audience_accepted(private_key, pem, key_server, keys, audience):
    key_server.get(f"/{KID}").respond(200, content=pem)
    claims = make_claims(aud=audience)

    verified = await verify(sign(private_key, claims), keys)

    assert verified == claims


async def test_lifecycle_base_url_trailing_slash(private_key, pem, key_server, keys):
    key_server.get(f"/{KID}").respond(200, content=pem)
    claims = make_claims()

    verified = await verify(sign(private_key, claims), keys, app_base_url=APP_BASE_URL + "/")

    assert verified == claims


async def test_lifecycle_allowed_audience(private_key, pem, key_server, keys):
    key_server.get(f"/{KID}").respond(200, content=pem)
    claims = make_claims(aud="https://old.example.test/")

    verified = await verify(
        sign(private_key, claims), keys, allowed_audiences=["https://old.example.test"]
    )

    assert verified == claims


CLAIM_REJECTIONS = [
    pytest.param({"aud": "https://other.example.test"}, "audience mismatch", id="wrong-aud"),
    pytest.param({"aud": APP_BASE_URL + "//"}, "audience mismatch", id="two-slashes"),
    pytest.param({"aud": []}, "audience mismatch", id="empty-aud-list"),
    pytest.param({"aud": None}, "missing aud claim", id="missing-aud"),
    pytest.param({"aud": 7}, "invalid aud claim", id="aud-not-string"),
    pytest.param(
        {"iss": "jira:other-0002"}, "issuer does not match the client key", id="wrong-iss"
    ),
    pytest.param({"iss": None}, "missing iss claim", id="missing-iss"),
    pytest.param({"exp": NOW - 30}, "token expired", id="expired"),
    pytest.param({"exp": None}, "missing exp claim", id="missing-exp"),
    pytest.param({"iat": NOW + 31}, "token issued in the future", id="iat-future"),
    pytest.param({"qsh": None}, "missing qsh claim", id="missing-qsh"),
    pytest.param(
        {"qsh": query_string_hash("POST", "/lifecycle/uninstalled", APP_BASE_URL)},
        "query string hash mismatch",
        id="wrong-qsh",
    ),
    pytest.param(
        {"qsh": "context-qsh"},
        "context tokens are not accepted on this route",
        id="context-qsh",
    ),
]


@pytest.mark.parametrize(("changes", "reason"), CLAIM_REJECTIONS)
async def test_lifecycle_rejects_claims(private_key, pem, key_server, keys, changes, reason):
    key_server.get(f"/{KID}").respond(200, content=pem)
    token = sign(private_key, make_claims(**changes))

    assert await rejection_reason(token, keys) == reason


async def test_lifecycle_rejects_other_key(pem, key_server, keys):
    key_server.get(f"/{KID}").respond(200, content=pem)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    assert await rejection_reason(sign(other_key, make_claims()), keys) == "invalid signature"


async def test_lifecycle_rejects_hs256_with_pem(pem, key_server, keys):
    route = key_server.get(f"/{KID}").respond(200, content=pem)
    token = hs256_with_key_text(make_claims(), pem)

    assert await rejection_reason(token, keys) == "unsupported algorithm"
    assert not route.called


async def test_lifecycle_hs256_never_verified(pem, key_server, keys):
    # Even with the key already cached, an HS256 token is not verified with the PEM text.
    key_server.get(f"/{KID}").respond(200, content=pem)
    await keys.get(KID)
    token = hs256_with_key_text(make_claims(), pem)

    assert await rejection_reason(token, keys) == "unsupported algorithm"


async def test_lifecycle_rejects_alg_none(key_server, keys):
    route = key_server.route()
    token = jwt.encode(make_claims(), "", algorithm="none", headers={"kid": KID})

    assert await rejection_reason(token, keys) == "unsupported algorithm"
    assert not route.called


async def test_lifecycle_missing_kid(private_key, key_server, keys):
    route = key_server.route()
    token = sign(private_key, make_claims(), kid=None)

    assert await rejection_reason(token, keys) == "missing kid header"
    assert not route.called


async def test_lifecycle_malformed_token(key_server, keys):
    route = key_server.route()

    assert await rejection_reason("not-a-jwt", keys) == "malformed token"
    assert not route.called


@pytest.mark.parametrize("kid", INVALID_KEY_IDS)
async def test_lifecycle_invalid_kid(private_key, pem, key_server, keys, kid):
    route = key_server.route().respond(200, content=pem)
    token = sign(private_key, make_claims(), kid=kid)

    assert await rejection_reason(token, keys) == "invalid key id"
    assert not route.called


@pytest.mark.parametrize("kid", INVALID_KEY_IDS)
async def test_keys_invalid_kid(pem, key_server, keys, kid):
    route = key_server.route().respond(200, content=pem)

    with pytest.raises(AuthenticationError) as caught:
        await keys.get(kid)

    assert caught.value.reason == "invalid key id"
    assert not route.called


async def test_keys_longest_kid(pem, key_server, keys):
    kid = "k" * 100
    route = key_server.get(f"/{kid}").respond(200, content=pem)

    key = await keys.get(kid)

    assert (
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == pem
    )
    assert route.call_count == 1


def ec_public_pem() -> bytes:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


KEY_SERVER_FAILURES = [
    pytest.param(httpx.Response(404, text="Not Found"), "install key not found", id="404"),
    pytest.param(
        httpx.Response(500, text="oops"), "install key server returned HTTP 500", id="500"
    ),
    pytest.param(
        httpx.Response(302, headers={"location": "https://elsewhere.test/key"}),
        "install key server returned HTTP 302",
        id="redirect",
    ),
    pytest.param(
        httpx.Response(200, text="<html>not a key</html>"),
        "install key is not a PEM public key",
        id="not-pem",
    ),
    pytest.param(
        httpx.Response(200, content=ec_public_pem()),
        "install key is not an RSA public key",
        id="ec-key",
    ),
    pytest.param(httpx.ReadTimeout("timed out"), "install key request timed out", id="timeout"),
    pytest.param(
        httpx.ConnectError("connection refused"), "install key request failed", id="network"
    ),
]


@pytest.mark.parametrize(("outcome", "reason"), KEY_SERVER_FAILURES)
async def test_keys_server_failure(private_key, key_server, keys, outcome, reason):
    route = key_server.get(f"/{KID}").mock(side_effect=[outcome])

    assert await rejection_reason(sign(private_key, make_claims()), keys) == reason
    assert route.call_count == 1


async def test_keys_network_error_chained(key_server, keys):
    key_server.get(f"/{KID}").mock(side_effect=httpx.ConnectError("connection refused"))

    with pytest.raises(AuthenticationError) as caught:
        await keys.get(KID)

    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_keys_failure_not_cached(private_key, pem, key_server, keys):
    route = key_server.get(f"/{KID}").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, content=pem)]
    )
    token = sign(private_key, make_claims())

    assert await rejection_reason(token, keys) == "install key server returned HTTP 503"
    assert await verify(token, keys) == make_claims()
    assert route.call_count == 2


async def test_keys_cached(private_key, pem, key_server, keys):
    route = key_server.get(f"/{KID}").respond(200, content=pem)
    token = sign(private_key, make_claims())

    await verify(token, keys)
    await verify(token, keys)

    assert route.call_count == 1


async def test_keys_cache_evicts_oldest(pem, key_server):
    routes = {kid: key_server.get(f"/{kid}").respond(200, content=pem) for kid in "abc"}
    keys = InstallKeys(KEYS_URL, max_cached=2)

    for kid in ["a", "b", "c", "c", "b", "a"]:
        await keys.get(kid)
    await keys.aclose()

    assert {kid: route.call_count for kid, route in routes.items()} == {"a": 2, "b": 1, "c": 1}
    paths = [call.request.url.path for call in key_server.calls]
    assert paths == ["/a", "/b", "/c", "/a"]


async def test_keys_given_client(pem, key_server):
    route = key_server.get(f"/{KID}").respond(200, content=pem)
    async with httpx.AsyncClient() as client:
        keys = InstallKeys(KEYS_URL + "/", client=client, timeout=1.5)
        await keys.get(KID)
        await keys.aclose()

        assert not client.is_closed
    request = route.calls.last.request
    assert str(request.url) == f"{KEYS_URL}/{KID}"
    assert request.extensions["timeout"]["read"] == 1.5


async def test_lifecycle_logs_rejection(private_key, pem, key_server, keys, caplog):
    key_server.get(f"/{KID}").respond(200, content=pem)
    token = sign(private_key, make_claims(aud="https://other.example.test"))
    caplog.set_level(logging.DEBUG, logger="propledger.connect")

    with pytest.raises(AuthenticationError):
        await verify(token, keys)

    assert caplog.record_tuples == [
        (
            "propledger.connect",
            logging.WARNING,
            "Rejected a Connect lifecycle token from client key 'jira:acme-0001': "
            "audience mismatch",
        )
    ]
    assert token not in caplog.text
