"""Lifecycle events applied by the store: atomic, idempotent and order-independent."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from propledger.errors import InstallationNotFoundError
from propledger.lifecycle import LifecycleEvent, LifecyclePayload, apply_event, apply_installed
from propledger.model import EntityType, InstallationState, PropertyRef, RowState

CONCURRENT_RUNS = 100

E = LifecycleEvent
S = InstallationState


def payload(client_key="tenant-a", base_url=None, secret="secret-1"):  # noqa: S107
    base_url = base_url or f"https://{client_key}.jira.test"

    return LifecyclePayload.parse(
        {"clientKey": client_key, "baseUrl": base_url, "sharedSecret": secret},
        event_type=E.INSTALLED,
    )


async def deliver(store, event, client_key="tenant-a"):
    if event is E.INSTALLED:
        return await apply_installed(store, payload(client_key))

    return await apply_event(store, client_key, event)


async def start_in(store, state, client_key="tenant-a"):
    await apply_installed(store, payload(client_key))
    steps = {
        S.INSTALLED: [],
        S.ENABLED: [E.ENABLED],
        S.DISABLED: [E.DISABLED],
        S.UNINSTALLED: [E.UNINSTALLED],
    }[state]
    for event in steps:
        await apply_event(store, client_key, event)


def assert_chain(transitions):
    # Under a stale read two deliveries would both record the same change.
    for before, after in itertools.pairwise(transitions):
        assert after.from_state is before.to_state, transitions


# (start state, events Jira sends together, final state)
SCENARIOS = [
    (S.INSTALLED, [E.INSTALLED, E.ENABLED], S.ENABLED),
    (S.UNINSTALLED, [E.INSTALLED, E.ENABLED], S.ENABLED),
    (S.ENABLED, [E.DISABLED, E.UNINSTALLED], S.UNINSTALLED),
    (S.INSTALLED, [E.DISABLED, E.UNINSTALLED], S.UNINSTALLED),
    (S.ENABLED, [E.UNINSTALLED], S.UNINSTALLED),
    (S.DISABLED, [E.ENABLED], S.ENABLED),
]
SCENARIO_IDS = [
    f"{start.value}-{'+'.join(event.value for event in events)}" for start, events, _ in SCENARIOS
]


@pytest.mark.parametrize(("start", "events", "final"), SCENARIOS, ids=SCENARIO_IDS)
async def test_events_any_order_same_state(store, start, events, final):
    for number, order in enumerate(itertools.permutations(events)):
        # Each order runs on its own installation, on its own site.
        client_key = f"tenant-{number}"
        await start_in(store, start, client_key)

        for event in order:
            await deliver(store, event, client_key)

        stored = await store.get_installation(client_key)
        assert stored.state is final, order
        assert_chain(await store.list_transitions(client_key))


@pytest.mark.parametrize(("start", "events", "final"), SCENARIOS, ids=SCENARIO_IDS)
async def test_events_concurrent_same_state(store, start, events, final):
    await start_in(store, start)
    history = await store.list_transitions("tenant-a")
    deliveries = [event for event in events for _ in range(CONCURRENT_RUNS)]
    random.Random(6).shuffle(deliveries)

    await asyncio.gather(*(deliver(store, event) for event in deliveries))

    stored = await store.get_installation("tenant-a")
    transitions = (await store.list_transitions("tenant-a"))[len(history) - 1 :]
    assert stored.state is final
    assert_chain(transitions)
    # Each event can change the state at most once, however often it arrives.
    assert len(transitions) - 1 <= len(events)


async def test_uninstall_twice_one_transition(store):
    await start_in(store, S.ENABLED)

    first = await deliver(store, E.UNINSTALLED)
    second = await deliver(store, E.UNINSTALLED)

    transitions = await store.list_transitions("tenant-a")
    assert [item.to_state for item in first.transitions] == [S.UNINSTALLED]
    assert second.transitions == ()
    assert second.installation.updated_at == first.installation.updated_at
    assert [(item.event, item.from_state, item.to_state) for item in transitions] == [
        ("installed", None, S.INSTALLED),
        ("enabled", S.INSTALLED, S.ENABLED),
        ("uninstalled", S.ENABLED, S.UNINSTALLED),
    ]


async def test_uninstall_concurrent_one_transition(store):
    await start_in(store, S.ENABLED)

    results = await asyncio.gather(*(deliver(store, E.UNINSTALLED) for _ in range(CONCURRENT_RUNS)))

    transitions = await store.list_transitions("tenant-a")
    assert sum(len(result.transitions) for result in results) == 1
    assert [item.to_state for item in transitions][-1] is S.UNINSTALLED
    assert [item.event for item in transitions].count("uninstalled") == 1


async def test_reinstall_updates_row_in_place(store):
    await apply_installed(store, payload(secret="secret-1"))
    first = await store.get_installation("tenant-a")

    result = await apply_installed(store, payload(secret="secret-2"))

    assert await store.list_installations() == [result.installation]
    assert result.installation.shared_secret == "secret-2"
    assert result.installation.installed_at == first.installed_at
    assert result.transitions == ()


async def test_rename_updates_base_url(store):
    await apply_installed(store, payload())

    result = await apply_installed(store, payload(base_url="https://acme-renamed.jira.test"))

    assert [item.client_key for item in await store.list_installations()] == ["tenant-a"]
    assert result.installation.base_url == "https://acme-renamed.jira.test"
    assert result.installation.state is S.INSTALLED


async def test_site_import_supersedes_old(store):
    await start_in(store, S.ENABLED)
    ref = PropertyRef(EntityType.ISSUE, "10001", "com.example.app.flag")
    await store.record_pending("tenant-a", ref, value_sha256=None, value_size=None)

    result = await apply_installed(
        store, payload("tenant-b", base_url="https://tenant-a.jira.test")
    )

    old = await store.get_installation("tenant-a")
    assert result.installation.state is S.INSTALLED
    assert old.state is S.SUPERSEDED
    assert [(item.client_key, item.to_state, item.detail) for item in result.transitions] == [
        ("tenant-b", S.INSTALLED, None),
        ("tenant-a", S.SUPERSEDED, "superseded by client key tenant-b"),
    ]
    assert await store.count_inventory("tenant-a") == {EntityType.ISSUE: {RowState.PENDING: 1}}
    assert await store.count_inventory("tenant-b") == {}


async def test_superseded_ignores_events(store):
    await start_in(store, S.ENABLED)
    await apply_installed(store, payload("tenant-b", base_url="https://tenant-a.jira.test"))

    for event in (E.ENABLED, E.DISABLED, E.UNINSTALLED):
        result = await deliver(store, event)
        assert result.installation.state is S.SUPERSEDED
        assert result.transitions == ()


async def test_event_unknown_client_key(store):
    with pytest.raises(InstallationNotFoundError):
        await deliver(store, E.DISABLED, client_key="tenant-x")
