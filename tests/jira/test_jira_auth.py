from __future__ import annotations

import base64
import hashlib
import time
import types

import httpx
import jwt

from propledger.connect import _tokens
from propledger.jira import ConnectAuth, JiraClient, basic_auth

USER_PATH = "/rest/api/3/user/properties/com.example.ledger.state"


def _claims(request: httpx.Request, shared_secret: str) -> dict:
    scheme, _, token = request.headers["Authorization"].partition(" ")
    assert scheme == "JWT"

    return jwt.decode(token, shared_secret, algorithms=["HS256"])


async def test_connect_auth_token(jira, client, app_key, shared_secret):
    route = jira.get(USER_PATH).respond(200, json={"key": "k", "value": 1})

    await client.request("GET", USER_PATH, params={"accountId": "557058:f0a1"})

    claims = _claims(route.calls.last.request, shared_secret)
    canonical = f"GET&{USER_PATH}&accountId=557058%3Af0a1"
    assert claims["iss"] == app_key
    assert claims["exp"] - claims["iat"] == 180
    assert claims["qsh"] == hashlib.sha256(canonical.encode()).hexdigest()


async def test_connect_auth_qsh_under_context_path(app_key, shared_secret, sleeps):
    site = "https://acme.jira.test/jira"
    auth = ConnectAuth(app_key=app_key, shared_secret=shared_secret, base_url=site)
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(204)

    transport = httpx.MockTransport(handler)
    async with JiraClient(site, auth, transport=transport, sleep=sleeps) as client:
        await client.request("DELETE", "/rest/api/3/issue/10001/properties/a%26b")

    canonical = "DELETE&/rest/api/3/issue/10001/properties/a%26b&"
    assert seen[0].url.raw_path == b"/jira/rest/api/3/issue/10001/properties/a%26b"
    assert _claims(seen[0], shared_secret)["qsh"] == hashlib.sha256(canonical.encode()).hexdigest()


async def test_connect_auth_fresh_token_per_retry(jira, client, sleeps, shared_secret, monkeypatch):
    # Start in the past, so that PyJWT accepts both tokens as issued and unexpired.
    start = int(time.time()) - 60
    clock = types.SimpleNamespace(now=float(start))
    monkeypatch.setattr(_tokens, "time", types.SimpleNamespace(time=lambda: clock.now))

    async def advancing_sleep(seconds):
        clock.now += seconds
        await sleeps(seconds)

    monkeypatch.setattr(client, "_sleep", advancing_sleep)
    route = jira.get(USER_PATH).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(404)]
    )

    await client.request("GET", USER_PATH, params={"accountId": "557058:f0a1"})

    first, second = (_claims(call.request, shared_secret) for call in route.calls)
    assert sleeps.delays == [7.0]
    assert first["iat"] == start
    assert second["iat"] == start + 7
    assert second["qsh"] == first["qsh"]


def test_connect_auth_repr_hides_secret(app_key, shared_secret, base_url):
    auth = ConnectAuth(app_key=app_key, shared_secret=shared_secret, base_url=base_url)

    text = repr(auth)

    assert text == f"ConnectAuth(app_key={app_key!r}, base_url={base_url!r})"
    assert shared_secret not in text


async def test_basic_auth_header(jira, base_url, sleeps):
    route = jira.get("/rest/api/3/issue/10001/properties").respond(200, json={"keys": []})
    auth = basic_auth("ops@example.com", "api-token-123")

    async with JiraClient(base_url, auth, sleep=sleeps) as client:
        await client.request("GET", "/rest/api/3/issue/10001/properties")

    expected = base64.b64encode(b"ops@example.com:api-token-123").decode()
    assert route.calls.last.request.headers["Authorization"] == f"Basic {expected}"
