"""A world of installations to send forged, stale and crossed requests against."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.conftest import APP_BASE_URL

from propledger.connect import query_string_hash
from propledger.lifecycle import LifecycleEvent, LifecyclePayload, apply_installed
from propledger.model import Installation
from propledger.testing import FakeJira, FakeSite


class KeyServer(httpx.AsyncBaseTransport):
    """FakeJira's transport, with install-key ids that fail in the ways a key server can."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.fetched: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/_fake/install-keys/"):
            kid = path.rsplit("/", 1)[-1]
            self.fetched.append(kid)
            if kid == "server-error":
                return httpx.Response(500, text="Internal error")
            if kid == "not-a-pem":
                return httpx.Response(200, text="Not a key at all")
            if kid == "slow":
                raise httpx.ReadTimeout("The key server did not answer.", request=request)

        return await self.inner.handle_async_request(request)


def b64(part: bytes) -> str:
    return base64.urlsafe_b64encode(part).rstrip(b"=").decode("ascii")


def assemble(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """Build a JWT by hand, for headers and keys that PyJWT refuses to sign with."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()

    return f"{signing_input}.{b64(signature)}"


@dataclasses.dataclass
class World:
    """Installations in every state, and helpers that mint tokens and send requests."""

    fake: FakeJira
    client: httpx.AsyncClient
    keys: KeyServer
    a: FakeSite
    b: FakeSite
    uninstalled: FakeSite
    superseded: FakeSite
    admin_a: str
    member_a: str
    admin_b: str
    job_b: str
    other_key: rsa.RSAPrivateKey

    @staticmethod
    def now() -> int:
        return int(time.time())

    def claims(self, site: FakeSite, **changes: Any) -> dict[str, Any]:
        """Claims of a context token of ``site``'s admin; a None value drops the claim."""
        now = self.now()
        values = {"iss": site.client_key, "sub": self.admin_a, "qsh": "context-qsh"}
        values |= {"iat": now - 5, "exp": now + 175}
        values.update(changes)

        return {name: value for name, value in values.items() if value is not None}

    def hs256(self, site: FakeSite, *, secret: str | None = None, **changes: Any) -> str:
        return jwt.encode(
            self.claims(site, **changes), secret or site.shared_secret, algorithm="HS256"
        )

    def event_claims(self, site: FakeSite, event: str, **changes: Any) -> dict[str, Any]:
        qsh = query_string_hash("POST", f"/{event}", APP_BASE_URL)
        defaults = {"qsh": qsh, "sub": None, "aud": APP_BASE_URL}

        return self.claims(site, **(defaults | changes))

    def rs256(
        self,
        site: FakeSite,
        event: str,
        *,
        kid: str | None = "",
        key: rsa.RSAPrivateKey | None = None,
        **changes: Any,
    ) -> str:
        headers = {} if kid is None else {"kid": kid or self.fake.signing_key.kid}
        private_key = key or self.fake.signing_key.private_key

        return jwt.encode(
            self.event_claims(site, event, **changes),
            private_key,
            algorithm="RS256",
            headers=headers,
        )

    def shared(self, site: FakeSite, event: str, **changes: Any) -> str:
        secret = changes.pop("secret", None)
        claims = self.event_claims(site, event, aud=None, **changes)

        return jwt.encode(claims, secret or site.shared_secret, algorithm="HS256")

    def body(self, site: FakeSite, event: str, **changes: Any) -> dict[str, Any]:
        values = self.fake.lifecycle_payload(site, event)
        if event == "installed":
            values["sharedSecret"] = "a-new-shared-secret"
        values.update(changes)

        return values

    async def api(self, method: str, path: str, token: str | None, **kwargs: Any) -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"JWT {token}"}

        return await self.client.request(method, path, headers=headers, **kwargs)

    async def event(
        self,
        event: str,
        token: str | None,
        body: Any = None,
        *,
        content: bytes | None = None,
        site: FakeSite | None = None,
    ) -> httpx.Response:
        if content is None:
            content = json.dumps(body or self.body(site or self.a, event)).encode()
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"JWT {token}"

        return await self.client.post(f"/{event}", content=content, headers=headers)


@functools.cache
def _other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def _install(fake: FakeJira, site: FakeSite, client: httpx.AsyncClient) -> None:
    response = await fake.install(site, app_base_url=APP_BASE_URL, client=client)
    assert response.status_code == 204, response.text


@pytest.fixture
def key_server(fake: FakeJira) -> KeyServer:
    return KeyServer(fake.transport())


@pytest.fixture
def settings(settings, key_server):
    return dataclasses.replace(settings, jira_transport=key_server)


@pytest.fixture
async def world(fake, site, admin, member, ledger, app_client, key_server) -> World:
    b = fake.add_site("https://globex.jira.test", name="globex")
    # FakeJira numbers each site's accounts alike, so B's admin gets an id of its own.
    admin_b = b.add_user(is_admin=True, account_id="5b10a2844c2016570globex01").account_id
    gone = fake.add_site("https://initech.jira.test", name="initech")
    old = fake.add_site("https://umbrella.jira.test", name="umbrella")
    for each in (site, b, gone, old):
        await _install(fake, each, app_client)

    # The uninstalled site keeps the secret Jira last sent, so its tokens verify
    # against the stored one and are rejected only for the installation's state.
    gone_secret = gone.shared_secret
    await fake.uninstall(gone, app_base_url=APP_BASE_URL, client=app_client)
    gone.shared_secret = gone_secret
    # A site import: a new client key on umbrella's base URL supersedes the old one.
    imported = LifecyclePayload.parse(
        {"clientKey": "jira:imported", "baseUrl": old.base_url, "sharedSecret": "imported"},
        event_type=LifecycleEvent.INSTALLED,
    )
    await apply_installed(ledger.store, imported)

    headers = {"Authorization": f"JWT {fake.context_token(b, admin_b)}"}
    created = await app_client.post(
        "/api/removals", json={"confirm": "globex.jira.test"}, headers=headers
    )
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    # The job has no properties; waiting for its end keeps the worker idle during a case.
    for _ in range(200):
        status = await app_client.get(f"/api/removals/{job_id}", headers=headers)
        if not status.json()["active"]:
            break
        await asyncio.sleep(0.01)
    key_server.fetched.clear()

    return World(
        fake=fake,
        client=app_client,
        keys=key_server,
        a=site,
        b=b,
        uninstalled=gone,
        superseded=old,
        admin_a=admin,
        member_a=member,
        admin_b=admin_b,
        job_b=job_id,
        other_key=_other_key(),
    )


async def snapshot(world: World, ledger) -> list[Installation]:
    return await ledger.store.list_installations()
