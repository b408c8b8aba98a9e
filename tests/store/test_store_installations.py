"""Stored installations."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import pytest

from propledger.errors import InstallationNotFoundError
from propledger.model import Installation, InstallationState


def make_installation(client_key="tenant-a", base_url="https://acme.jira.test", **changes):
    return Installation(client_key, base_url, f"secret-of-{client_key}", **changes)


async def test_save_installation_new(store):
    before = dt.datetime.now(dt.UTC)

    await store.save_installation(make_installation(display_url="https://jira.acme.test"))
    stored = await store.get_installation("tenant-a")

    assert stored == Installation(
        client_key="tenant-a",
        base_url="https://acme.jira.test",
        shared_secret="secret-of-tenant-a",
        state=InstallationState.INSTALLED,
        display_url="https://jira.acme.test",
        installed_at=stored.installed_at,
        updated_at=stored.updated_at,
    )
    assert before <= stored.installed_at <= dt.datetime.now(dt.UTC)
    assert stored.updated_at == stored.installed_at


async def test_save_installation_strips_slash(store):
    await store.save_installation(make_installation(base_url="https://acme.jira.test/"))

    stored = await store.get_installation("tenant-a")

    assert stored.base_url == "https://acme.jira.test"


async def test_save_installation_updates_in_place(store):
    await store.save_installation(make_installation())
    first = await store.get_installation("tenant-a")
    changed = dataclasses.replace(
        first,
        base_url="https://acme-renamed.jira.test",
        shared_secret="rotated",
        state=InstallationState.ENABLED,
        installed_at=None,
    )

    await store.save_installation(changed)
    stored = await store.get_installation("tenant-a")

    assert stored.base_url == "https://acme-renamed.jira.test"
    assert stored.shared_secret == "rotated"
    assert stored.state is InstallationState.ENABLED
    assert stored.installed_at == first.installed_at
    assert stored.updated_at > first.updated_at
    assert await store.list_installations() == [stored]


async def test_save_installation_explicit_installed_at(store):
    await store.save_installation(make_installation())
    installed_at = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

    await store.save_installation(make_installation(installed_at=installed_at))
    stored = await store.get_installation("tenant-a")

    assert stored.installed_at == installed_at


async def test_save_installation_log_has_no_secret(store, caplog):
    caplog.set_level(logging.DEBUG, logger="propledger.store")

    await store.save_installation(make_installation())

    assert [record.getMessage() for record in caplog.records] == [
        "Saved installation tenant-a of https://acme.jira.test in state installed"
    ]
    assert "secret-of-tenant-a" not in caplog.text


async def test_get_installation_missing(store):
    with pytest.raises(InstallationNotFoundError) as caught:
        await store.get_installation("tenant-x")

    assert str(caught.value) == (
        "No installation is stored under client key 'tenant-x'. "
        "Check the client key, or install the app on that site first."
    )


async def test_find_installation(store):
    await store.save_installation(make_installation())

    found = await store.find_installation("tenant-a")
    missing = await store.find_installation("tenant-x")

    assert found == await store.get_installation("tenant-a")
    assert missing is None


async def test_find_installation_by_base_url(store):
    # A site import brings a new client key on the same base URL.
    old_time = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    new_time = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    await store.save_installation(make_installation("tenant-new", installed_at=new_time))
    await store.save_installation(make_installation("tenant-old", installed_at=old_time))
    await store.save_installation(make_installation("tenant-b", "https://other.jira.test"))

    found = await store.find_installation_by_base_url("https://acme.jira.test/")

    assert [inst.client_key for inst in found] == ["tenant-old", "tenant-new"]


async def test_find_installation_by_base_url_none(store):
    await store.save_installation(make_installation())

    assert await store.find_installation_by_base_url("https://other.jira.test") == []


async def test_list_installations_sorted(store):
    for client_key in ["tenant-c", "tenant-a", "tenant-b"]:
        await store.save_installation(make_installation(client_key))

    listed = await store.list_installations()

    assert [inst.client_key for inst in listed] == ["tenant-a", "tenant-b", "tenant-c"]


async def test_list_installations_empty(store):
    assert await store.list_installations() == []


async def test_set_installation_state(store):
    await store.save_installation(make_installation())
    saved = await store.get_installation("tenant-a")

    updated = await store.set_installation_state("tenant-a", InstallationState.UNINSTALLED)

    assert updated == dataclasses.replace(
        saved, state=InstallationState.UNINSTALLED, updated_at=updated.updated_at
    )
    assert updated.updated_at > saved.updated_at
    assert await store.get_installation("tenant-a") == updated


async def test_set_installation_state_missing(store):
    with pytest.raises(InstallationNotFoundError, match="client key 'tenant-x'"):
        await store.set_installation_state("tenant-x", InstallationState.DISABLED)
