"""FakeJira's lifecycle callbacks and the tokens it mints for the app."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from propledger.connect import query_string_hash
from propledger.testing import FakeJira, FakeSite

APP_BASE_URL = "https://ledger.app.test/connect"


class RecordingApp:
    """An app behind a mock transport that records each callback and responds with ``status``."""

    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status)

    def token(self, index: int = -1) -> str:
        scheme, _, token = self.requests[index].headers["Authorization"].partition(" ")
        assert scheme == "JWT"
        return token

    def body(self, index: int = -1) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.requests[index].content)
        return body


@pytest.fixture
def recording_app() -> RecordingApp:
    return RecordingApp()


@pytest.fixture
def app_http(recording_app: RecordingApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(recording_app))


@pytest.fixture
def new_site(fake: FakeJira) -> FakeSite:
    return fake.add_site("https://acme.jira.test")


async def fetch_public_key(fake: FakeJira, kid: str) -> httpx.Response:
    url = f"{fake.install_keys_url('https://acme.jira.test')}/{kid}"
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        return await client.get(url)


async def test_install_token_verifies(
    fake: FakeJira, new_site: FakeSite, recording_app: RecordingApp, app_http: httpx.AsyncClient
) -> None:
    response = await fake.install(new_site, app_base_url=APP_BASE_URL, client=app_http)

    assert response.status_code == 204
    request = recording_app.requests[0]
    assert (request.method, str(request.url)) == ("POST", f"{APP_BASE_URL}/installed")
    token = recording_app.token()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    key_response = await fetch_public_key(fake, header["kid"])
    assert key_response.status_code == 200
    assert key_response.text.startswith("-----BEGIN PUBLIC KEY-----")
    claims = jwt.decode(token, key_response.text, algorithms=["RS256"], audience=APP_BASE_URL)
    assert claims["iss"] == new_site.client_key
    assert claims["qsh"] == query_string_hash("POST", "/installed")
    assert claims["exp"] - claims["iat"] == 180
    assert abs(claims["iat"] - time.time()) < 5


async def test_install_payload(
    fake: FakeJira, new_site: FakeSite, recording_app: RecordingApp, app_http: httpx.AsyncClient
) -> None:
    await fake.install(new_site, app_base_url=APP_BASE_URL, client=app_http)

    body = recording_app.body()
    assert new_site.shared_secret is not None
    assert len(new_site.shared_secret) >= 32
    assert body == {
        "key": "com.example.app",
        "clientKey": new_site.client_key,
        "sharedSecret": new_site.shared_secret,
        "serverVersion": "100290",
        "pluginsVersion": "1001.0.0-SNAPSHOT",
        "baseUrl": "https://acme.jira.test",
        "displayUrl": "https://acme.jira.test",
        "productType": "jira",
        "description": "Atlassian JIRA at https://acme.jira.test",
        "eventType": "installed",
    }


async def test_reinstall_new_secret(
    fake: FakeJira, new_site: FakeSite, app_http: httpx.AsyncClient
) -> None:
    await fake.install(new_site, app_base_url=APP_BASE_URL, client=app_http)
    first = new_site.shared_secret
    client_key = new_site.client_key

    await fake.install(new_site, app_base_url=APP_BASE_URL, client=app_http)

    assert new_site.shared_secret != first
    assert new_site.client_key == client_key


async def test_rejected_install_keeps_secret(fake: FakeJira, new_site: FakeSite) -> None:
    new_site.shared_secret = "previous-shared-secret-0123456789abcdef"
    async with httpx.AsyncClient(transport=httpx.MockTransport(RecordingApp(401))) as client:
        response = await fake.install(new_site, app_base_url=APP_BASE_URL, client=client)

    assert response.status_code == 401
    assert new_site.shared_secret == "previous-shared-secret-0123456789abcdef"


async def test_install_overrides(
    fake: FakeJira, new_site: FakeSite, recording_app: RecordingApp, app_http: httpx.AsyncClient
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    await fake.install(
        new_site,
        app_base_url=APP_BASE_URL,
        client=app_http,
        claims_override={"aud": None, "iss": "jira:someone-else"},
        payload_override={"description": None},
        kid_override="unknown-kid",
        private_key_override=other_key,
    )

    token = recording_app.token()
    claims = jwt.decode(token, other_key.public_key(), algorithms=["RS256"])
    assert jwt.get_unverified_header(token)["kid"] == "unknown-kid"
    assert "aud" not in claims
    assert claims["iss"] == "jira:someone-else"
    assert "description" not in recording_app.body()
    assert (await fetch_public_key(fake, "unknown-kid")).status_code == 404


async def test_uninstall_signed_forgets_secret(
    fake: FakeJira, new_site: FakeSite, recording_app: RecordingApp, app_http: httpx.AsyncClient
) -> None:
    await fake.install(new_site, app_base_url=APP_BASE_URL, client=app_http)

    await fake.uninstall(new_site, app_base_url=APP_BASE_URL + "/", client=app_http)

    request = recording_app.requests[-1]
    assert str(request.url) == f"{APP_BASE_URL}/uninstalled"
    body = recording_app.body()
    assert body["eventType"] == "uninstalled"
    assert "sharedSecret" not in body
    public_key = (await fetch_public_key(fake, fake.signing_key.kid)).text
    claims = jwt.decode(
        recording_app.token(), public_key, algorithms=["RS256"], audience=APP_BASE_URL
    )
    assert claims["qsh"] == query_string_hash("POST", "/uninstalled")
    assert new_site.shared_secret is None


@pytest.mark.parametrize("event", ["enabled", "disabled"])
async def test_enable_disable_shared_secret(
    fake: FakeJira,
    new_site: FakeSite,
    recording_app: RecordingApp,
    app_http: httpx.AsyncClient,
    event: str,
) -> None:
    await fake.install(new_site, app_base_url=APP_BASE_URL, client=app_http)
    send = fake.enable if event == "enabled" else fake.disable

    await send(new_site, app_base_url=APP_BASE_URL, client=app_http)

    assert str(recording_app.requests[-1].url) == f"{APP_BASE_URL}/{event}"
    assert recording_app.body()["eventType"] == event
    assert "sharedSecret" not in recording_app.body()
    token = recording_app.token()
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert new_site.shared_secret is not None
    claims = jwt.decode(token, new_site.shared_secret, algorithms=["HS256"])
    assert claims["iss"] == new_site.client_key
    assert claims["qsh"] == query_string_hash("POST", f"/{event}")


async def test_enable_secret_override(
    fake: FakeJira, new_site: FakeSite, recording_app: RecordingApp, app_http: httpx.AsyncClient
) -> None:
    secret = "a-wrong-secret-that-is-long-enough-0123456789"

    await fake.enable(new_site, app_base_url=APP_BASE_URL, client=app_http, secret_override=secret)

    claims = jwt.decode(recording_app.token(), secret, algorithms=["HS256"])
    assert claims["iss"] == new_site.client_key


async def test_enable_not_installed_raises(
    fake: FakeJira, new_site: FakeSite, app_http: httpx.AsyncClient
) -> None:
    with pytest.raises(ValueError, match="Call install\\(\\) first"):
        await fake.enable(new_site, app_base_url=APP_BASE_URL, client=app_http)


def test_context_token(fake: FakeJira, site: FakeSite) -> None:
    token = fake.context_token(site, "account-1", lifetime=60)

    assert site.shared_secret is not None
    claims = jwt.decode(token, site.shared_secret, algorithms=["HS256"])
    assert claims["iss"] == site.client_key
    assert claims["sub"] == "account-1"
    assert claims["qsh"] == "context-qsh"
    assert claims["exp"] - claims["iat"] == 60


def test_iframe_token(fake: FakeJira, site: FakeSite) -> None:
    url = f"{APP_BASE_URL}/admin/data?lic=active&xdm_e=https%3A%2F%2Facme.jira.test"

    token = fake.iframe_token(site, "account-1", method="GET", url=url, app_base_url=APP_BASE_URL)

    assert site.shared_secret is not None
    claims = jwt.decode(token, site.shared_secret, algorithms=["HS256"])
    assert claims["qsh"] == query_string_hash("GET", url, APP_BASE_URL)
    assert claims["qsh"] == query_string_hash(
        "GET", "/admin/data?lic=active&xdm_e=https%3A%2F%2Facme.jira.test"
    )
    assert claims["sub"] == "account-1"
    assert claims["iss"] == site.client_key


def test_context_token_not_installed_raises(fake: FakeJira, new_site: FakeSite) -> None:
    with pytest.raises(ValueError, match=re.escape("not installed on https://acme.jira.test")):
        fake.context_token(new_site, "account-1")


def test_install_keys_url(fake: FakeJira) -> None:
    assert fake.install_keys_url("http://127.0.0.1:8080/") == (
        "http://127.0.0.1:8080/_fake/install-keys"
    )
