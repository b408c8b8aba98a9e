"""Forge Remote: invocation tokens, installations by installationId, the system token."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import httpx
import pytest
from tests.conftest import APP_BASE_URL, SITE_URL

from propledger.errors import AuthenticationError
from propledger.forge import ForgeKeys, forge_client_key, verify_invocation_token
from propledger.jira import property_request
from propledger.model import EntityType, InstallationState, PropertyRef
from propledger.testing import FakeJira, FakeSite, RecordingTransport

APP_ID = "ari:cloud:ecosystem::app/6f1c2d3e-0000-4000-8000-000000000001"
API_BASE = "https://{cloudId}.api.jira.test"


@pytest.fixture
def transport(fake: FakeJira) -> RecordingTransport:
    return RecordingTransport(fake.transport())


@pytest.fixture
def settings(settings, fake, transport):
    return dataclasses.replace(
        settings,
        forge_app_id=APP_ID,
        forge_jwks_url=fake.forge_jwks_url(SITE_URL),
        forge_api_base_url=API_BASE,
        jira_transport=transport,
    )


@pytest.fixture
async def keys(fake: FakeJira, transport):
    client = httpx.AsyncClient(transport=transport)
    forge_keys = ForgeKeys(fake.forge_jwks_url(SITE_URL), client=client)
    yield forge_keys
    await client.aclose()


@pytest.fixture
def forge_site(fake: FakeJira, site: FakeSite) -> FakeSite:
    fake.forge_install(site)

    return site


async def reason(token: str, keys: ForgeKeys) -> str:
    with pytest.raises(AuthenticationError) as caught:
        await verify_invocation_token(token, app_id=APP_ID, keys=keys)

    return caught.value.reason


async def test_token_valid(fake, forge_site, admin, keys):
    token = fake.invocation_token(forge_site, app_id=APP_ID, account_id=admin)

    invocation = await verify_invocation_token(token, app_id=APP_ID, keys=keys)

    assert invocation.installation_id == forge_site.forge_installation_id
    assert invocation.cloud_id == forge_site.cloud_id
    assert invocation.account_id == admin
    assert invocation.site_url == SITE_URL


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"claims_override": {"iss": "someone"}},
            "issuer is not the Forge invocation token issuer",
        ),
        ({"claims_override": {"aud": "ari:cloud:ecosystem::app/other"}}, "audience mismatch"),
        ({"claims_override": {"aud": None}}, "missing aud claim"),
        ({"claims_override": {"exp": 1_000}}, "token expired"),
        ({"claims_override": {"app": "x"}}, "invalid app claim"),
        ({"claims_override": {"app": {"installationId": "a b"}}}, "invalid installation id"),
        (
            {"claims_override": {"context": None, "app": {"installationId": "i-1"}}},
            "missing or invalid cloud id",
        ),
        ({"kid_override": "unknown-key"}, "unknown key id"),
        ({"kid_override": "../x"}, "invalid key id"),
    ],
)
async def test_token_rejected(fake, forge_site, keys, changes, expected):
    token = fake.invocation_token(forge_site, app_id=APP_ID, **changes)

    assert await reason(token, keys) == expected


async def test_token_hs256_rejected(fake, forge_site, keys):
    token = fake.invocation_token(
        forge_site, app_id=APP_ID, algorithm="HS256", private_key_override="s" * 48
    )

    assert await reason(token, keys) == "unsupported algorithm"


async def test_unknown_kids_fetch_once(fake, forge_site, keys, transport):
    for kid in ("made-up-1", "made-up-2", "made-up-3"):
        token = fake.invocation_token(forge_site, app_id=APP_ID, kid_override=kid)
        assert await reason(token, keys) == "unknown key id"

    assert transport.paths == ["/_fake/forge/jwks.json"]


def test_forge_app_property_path():
    ref = PropertyRef(EntityType.APP, "com.example.app", "com.example.app.config")

    assert property_request(ref, forge=True) == (
        "/rest/forge/1/app/properties/com.example.app.config",
        {},
    )


async def invoke(fake, site, client, method, path, account_id, **kwargs):
    return await fake.invoke(
        site,
        client,
        method,
        f"{APP_BASE_URL}{path}",
        app_id=APP_ID,
        account_id=account_id,
        **kwargs,
    )


async def test_inventory_records_installation(fake, forge_site, admin, app_client, ledger):
    response = await invoke(fake, forge_site, app_client, "GET", "/forge/inventory", admin)

    stored = await ledger.store.get_installation(forge_client_key(forge_site.forge_installation_id))
    assert response.status_code == 200, response.text
    assert response.json() == {"site": {"url": SITE_URL}, "counts": {}, "active_removal": None}
    assert stored.base_url == f"https://{forge_site.cloud_id}.api.jira.test"
    assert stored.shared_secret == forge_site.forge_system_token
    assert stored.state is InstallationState.INSTALLED
    admin_check = [entry for entry in fake.request_log if entry.path.endswith("/permissions/check")]
    assert [(entry.auth, entry.status) for entry in admin_check] == [("forge", 200)]


async def test_removal_with_system_token(fake, forge_site, admin, app_client, ledger):
    await invoke(fake, forge_site, app_client, "GET", "/forge/inventory", admin)
    client_key = forge_client_key(forge_site.forge_installation_id)
    tracked = await ledger.site(client_key)
    issue_id = next(iter(forge_site.issues))
    await tracked.issue(issue_id).set_property("com.example.app.flag", {"on": True})

    created = await invoke(
        fake,
        forge_site,
        app_client,
        "POST",
        "/forge/removals",
        admin,
        json_body={"confirm": "acme.jira.test"},
    )
    job_id = created.json()["id"]
    for _ in range(300):
        status = await invoke(
            fake, forge_site, app_client, "GET", f"/forge/removals/{job_id}", admin
        )
        if not status.json()["active"]:
            break
        await asyncio.sleep(0.01)

    assert created.status_code == 202, created.text
    assert status.json()["state"] == "completed"
    assert forge_site.issues[issue_id].properties == {}
    calls = [
        (entry.method, entry.auth) for entry in fake.request_log if "/properties/" in entry.path
    ]
    assert calls == [("PUT", "forge"), ("DELETE", "forge")]


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({}, 401, "Invalid or missing token: missing token."),
        ({"Authorization": "JWT abc"}, 401, "Invalid or missing token: missing token."),
        ({"Authorization": "Bearer abc.def"}, 401, "Invalid or missing token: malformed token."),
        ("no-system-token", 401, "Invalid or missing token: missing app system token."),
        ("member", 403, "Only a Jira administrator of this site can see or remove the app's data."),
    ],
    ids=["no-token", "connect-scheme", "malformed", "no-system-token", "member"],
)
async def test_forge_route_rejections(
    fake, forge_site, member, app_client, ledger, caplog, headers, status, error
):
    caplog.set_level(logging.WARNING)
    if headers == "no-system-token":
        headers = {"Authorization": f"Bearer {fake.invocation_token(forge_site, app_id=APP_ID)}"}
    elif headers == "member":
        token = fake.invocation_token(forge_site, app_id=APP_ID, account_id=member)
        headers = {
            "Authorization": f"Bearer {token}",
            "x-forge-oauth-system": forge_site.forge_system_token,
        }

    response = await app_client.get("/forge/inventory", headers=headers)

    assert response.status_code == status
    assert response.json() == {"error": error}
    assert all(
        forge_site.forge_system_token not in record.getMessage() for record in caplog.records
    )
