"""Lifecycle callbacks over HTTP: repeats, races, site imports and renames."""

from __future__ import annotations

import asyncio
import random

import httpx
from tests.conftest import APP_BASE_URL

from propledger.ledger import Ledger
from propledger.model import InstallationState
from propledger.removal import start_removal
from propledger.testing import FakeJira, FakeSite

CONCURRENT_RUNS = 100


async def test_uninstall_twice_one_transition(
    ledger: Ledger, app_client: httpx.AsyncClient, installed: FakeSite, fake: FakeJira
):
    secret = installed.shared_secret
    first = await fake.uninstall(installed, app_base_url=APP_BASE_URL, client=app_client)
    after_first = await ledger.store.get_installation(installed.client_key)
    installed.shared_secret = secret
    second = await fake.uninstall(installed, app_base_url=APP_BASE_URL, client=app_client)

    after_second = await ledger.store.get_installation(installed.client_key)
    transitions = await ledger.store.list_transitions(installed.client_key)
    assert (first.status_code, second.status_code) == (204, 204)
    assert [item.event for item in transitions] == ["installed", "uninstalled"]
    assert after_second.updated_at == after_first.updated_at


async def test_uninstall_and_disable_race(
    ledger: Ledger, app_client: httpx.AsyncClient, installed: FakeSite, fake: FakeJira
):
    await fake.enable(installed, app_base_url=APP_BASE_URL, client=app_client)
    secret = installed.shared_secret

    async def deliver(event: str) -> int:
        if event == "disabled":
            response = await fake.disable(
                installed, app_base_url=APP_BASE_URL, client=app_client, secret_override=secret
            )
        else:
            response = await fake.uninstall(installed, app_base_url=APP_BASE_URL, client=app_client)
        return response.status_code

    events = ["disabled", "uninstalled"] * CONCURRENT_RUNS
    random.Random(6).shuffle(events)
    statuses = await asyncio.gather(*(deliver(event) for event in events))

    stored = await ledger.store.get_installation(installed.client_key)
    transitions = await ledger.store.list_transitions(installed.client_key)
    assert set(statuses) == {204}
    assert stored.state is InstallationState.UNINSTALLED
    assert [item.event for item in transitions].count("uninstalled") == 1
    assert len(transitions) <= 4


async def test_uninstall_unknown_client_key(
    ledger: Ledger, app_client: httpx.AsyncClient, site: FakeSite, fake: FakeJira
):
    response = await fake.uninstall(site, app_base_url=APP_BASE_URL, client=app_client)

    assert response.status_code == 204
    assert await ledger.store.list_installations() == []


async def test_audience_trailing_slash_accepted(
    ledger: Ledger, app_client: httpx.AsyncClient, site: FakeSite, fake: FakeJira
):
    response = await fake.install(
        site,
        app_base_url=APP_BASE_URL,
        client=app_client,
        claims_override={"aud": APP_BASE_URL + "/"},
    )

    assert response.status_code == 204
    assert (await ledger.store.get_installation(site.client_key)).state is (
        InstallationState.INSTALLED
    )


async def test_rename_updates_in_place(
    ledger: Ledger, app_client: httpx.AsyncClient, installed: FakeSite, fake: FakeJira
):
    response = await fake.install(
        installed,
        app_base_url=APP_BASE_URL,
        client=app_client,
        payload_override={"baseUrl": "https://acme-renamed.jira.test"},
    )

    installations = await ledger.store.list_installations()
    assert response.status_code == 204
    assert [(item.client_key, item.base_url) for item in installations] == [
        (installed.client_key, "https://acme-renamed.jira.test")
    ]


async def test_site_import_keeps_old_inventory_removable(
    ledger: Ledger, app_client: httpx.AsyncClient, installed: FakeSite, fake: FakeJira
):
    old_key = installed.client_key
    tracked = await ledger.site(old_key)
    issue_id = next(iter(installed.issues))
    await tracked.issue(issue_id).set_property("com.example.app.flag", {"on": True})

    # A site import gives the same site a new client key and a new shared secret.
    installed.client_key = "jira:imported-site"
    response = await fake.install(installed, app_base_url=APP_BASE_URL, client=app_client)

    old = await ledger.store.get_installation(old_key)
    new = await ledger.store.get_installation("jira:imported-site")
    assert response.status_code == 204
    assert (old.state, new.state) == (InstallationState.SUPERSEDED, InstallationState.INSTALLED)
    assert await ledger.present_row_count(old_key) == 1
    assert await ledger.present_row_count("jira:imported-site") == 0

    job, _ = await start_removal(ledger, client_key=old_key, requested_by="operator")
    # The app's own worker runs the job, signing with the new installation's secret.
    for _ in range(500):
        finished = await ledger.store.get_job(job.id)
        if not finished.state.is_active:
            break
        await asyncio.sleep(0.01)

    assert finished.state.value == "completed"
    assert installed.issues[issue_id].properties == {}
    assert await ledger.present_row_count(old_key) == 0
