"""Lifecycle callbacks: signed installs store the installation, events move its state."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from tests.conftest import APP_BASE_URL

from propledger.ledger import Ledger
from propledger.model import InstallationState
from propledger.testing import FakeJira, FakeSite, RecordingTransport


@pytest.fixture
def recorder(fake: FakeJira) -> RecordingTransport:
    return RecordingTransport(fake.transport())


@pytest.fixture
def settings(settings, recorder):
    return dataclasses.replace(settings, jira_transport=recorder)


def key_fetches(recorder: RecordingTransport) -> list[str]:
    return [path for path in recorder.paths if path.startswith("/_fake/install-keys")]


async def test_installed_stores_installation(
    ledger: Ledger, app_client: httpx.AsyncClient, fake: FakeJira, site: FakeSite, recorder
):
    response = await fake.install(site, app_base_url=APP_BASE_URL, client=app_client)

    stored = await ledger.store.get_installation(site.client_key)
    assert response.status_code == 204
    assert stored.base_url == "https://acme.jira.test"
    assert stored.shared_secret == site.shared_secret
    assert stored.state is InstallationState.INSTALLED
    assert key_fetches(recorder) == [f"/_fake/install-keys/{fake.signing_key.kid}"]


async def test_reinstall_updates_in_place(
    ledger: Ledger, app_client: httpx.AsyncClient, installed: FakeSite, fake: FakeJira
):
    first_secret = installed.shared_secret

    response = await fake.install(installed, app_base_url=APP_BASE_URL, client=app_client)

    installations = await ledger.store.list_installations()
    assert response.status_code == 204
    assert [item.client_key for item in installations] == [installed.client_key]
    assert installations[0].shared_secret == installed.shared_secret != first_secret


async def test_uninstall_then_disable_stays_uninstalled(
    ledger: Ledger, app_client: httpx.AsyncClient, installed: FakeSite, fake: FakeJira
):
    secret = installed.shared_secret
    uninstalled = await fake.uninstall(installed, app_base_url=APP_BASE_URL, client=app_client)
    disabled = await fake.disable(
        installed, app_base_url=APP_BASE_URL, client=app_client, secret_override=secret
    )

    stored = await ledger.store.get_installation(installed.client_key)
    transitions = await ledger.store.list_transitions(installed.client_key)
    assert uninstalled.status_code == 204
    assert disabled.status_code == 204
    assert stored.state is InstallationState.UNINSTALLED
    assert [(item.event, item.to_state) for item in transitions] == [
        ("installed", InstallationState.INSTALLED),
        ("uninstalled", InstallationState.UNINSTALLED),
    ]


async def test_disable_and_enable(
    ledger: Ledger, app_client: httpx.AsyncClient, installed: FakeSite, fake: FakeJira
):
    disabled = await fake.disable(installed, app_base_url=APP_BASE_URL, client=app_client)
    state_after_disable = (await ledger.store.get_installation(installed.client_key)).state
    enabled = await fake.enable(installed, app_base_url=APP_BASE_URL, client=app_client)
    state_after_enable = (await ledger.store.get_installation(installed.client_key)).state

    assert (disabled.status_code, enabled.status_code) == (204, 204)
    assert state_after_disable is InstallationState.DISABLED
    assert state_after_enable is InstallationState.ENABLED


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"claims_override": {"aud": "https://evil.example.test"}}, "audience mismatch"),
        ({"claims_override": {"aud": None}}, "missing aud claim"),
        ({"claims_override": {"iss": "jira:someone-else"}}, "issuer does not match the client key"),
        ({"kid_override": "../x"}, "invalid key id"),
    ],
    ids=["wrong-aud", "missing-aud", "wrong-iss", "kid-path"],
)
async def test_bad_install_token_rejected(
    ledger: Ledger, app_client, fake: FakeJira, site: FakeSite, recorder, overrides, reason
):
    response = await fake.install(site, app_base_url=APP_BASE_URL, client=app_client, **overrides)

    assert response.status_code == 401
    assert response.json() == {"error": f"Invalid or missing token: {reason}."}
    assert await ledger.store.list_installations() == []
    expected_fetches = (
        [] if "kid_override" in overrides else [f"/_fake/install-keys/{fake.signing_key.kid}"]
    )
    assert key_fetches(recorder) == expected_fetches


async def test_install_payload_without_secret_gets_400(
    ledger: Ledger, app_client, fake: FakeJira, site: FakeSite
):
    response = await fake.install(
        site, app_base_url=APP_BASE_URL, client=app_client, payload_override={"sharedSecret": None}
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "The lifecycle payload lacks the sharedSecret field, or it is not a "
        "non-empty string."
    }
    assert await ledger.store.list_installations() == []
