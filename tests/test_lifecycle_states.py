"""The lifecycle state machine: every (state, event) pair, and the payload rules."""

from __future__ import annotations

import itertools

import pytest

from propledger.errors import InvalidPayloadError
from propledger.lifecycle import TRANSITIONS, LifecycleEvent, LifecyclePayload, next_state
from propledger.model import InstallationState

E = LifecycleEvent
S = InstallationState

EXPECTED = {
    None: {E.INSTALLED: S.INSTALLED},
    S.INSTALLED: {
        E.INSTALLED: S.INSTALLED,
        E.ENABLED: S.ENABLED,
        E.DISABLED: S.DISABLED,
        E.UNINSTALLED: S.UNINSTALLED,
    },
    S.ENABLED: {
        E.INSTALLED: S.ENABLED,
        E.ENABLED: S.ENABLED,
        E.DISABLED: S.DISABLED,
        E.UNINSTALLED: S.UNINSTALLED,
    },
    S.DISABLED: {
        E.INSTALLED: S.DISABLED,
        E.ENABLED: S.ENABLED,
        E.DISABLED: S.DISABLED,
        E.UNINSTALLED: S.UNINSTALLED,
    },
    S.UNINSTALLED: {
        E.INSTALLED: S.INSTALLED,
        E.ENABLED: S.ENABLED,
        E.DISABLED: S.UNINSTALLED,
        E.UNINSTALLED: S.UNINSTALLED,
    },
    S.SUPERSEDED: {
        E.INSTALLED: S.INSTALLED,
        E.ENABLED: S.SUPERSEDED,
        E.DISABLED: S.SUPERSEDED,
        E.UNINSTALLED: S.SUPERSEDED,
    },
}
PAIRS = [(state, event) for state in [None, *S] for event in E]


@pytest.mark.parametrize(("state", "event"), PAIRS, ids=lambda value: str(value))
def test_next_state_every_pair(state, event):
    expected = EXPECTED[state].get(event)

    if expected is None:
        with pytest.raises(InvalidPayloadError, match="cannot apply to an installation"):
            next_state(state, event)
    else:
        assert next_state(state, event) is expected


def test_table_covers_every_stored_state():
    assert set(TRANSITIONS) == {
        (state, event) for state, events in EXPECTED.items() for event in events
    }


@pytest.mark.parametrize("state", list(S))
def test_events_idempotent(state):
    for event in E:
        once = next_state(state, event)

        assert next_state(once, event) is once


@pytest.mark.parametrize("pair", [(E.INSTALLED, E.ENABLED), (E.DISABLED, E.UNINSTALLED)])
@pytest.mark.parametrize("state", [S.INSTALLED, S.ENABLED, S.DISABLED, S.UNINSTALLED])
def test_paired_events_commute(state, pair):
    first, second = pair

    assert next_state(next_state(state, first), second) is next_state(
        next_state(state, second), first
    )


def test_disabled_never_leaves_uninstalled():
    leaving = [event for event in E if next_state(S.UNINSTALLED, event) is not S.UNINSTALLED]

    assert leaving == [E.INSTALLED, E.ENABLED]


def test_user_toggles_do_not_commute():
    # Enabling and disabling are user actions seconds apart: their order matters.
    orders = {
        next_state(next_state(S.INSTALLED, a), b)
        for a, b in itertools.permutations([E.ENABLED, E.DISABLED])
    }

    assert orders == {S.ENABLED, S.DISABLED}


def body(**changes):
    values = {
        "key": "com.example.app",
        "clientKey": "jira:1",
        "baseUrl": "https://acme.jira.test/",
        "sharedSecret": "s3cr3t",
        "eventType": "installed",
        "displayUrl": "https://jira.acme.test",
    }
    values.update(changes)

    return {name: value for name, value in values.items() if value is not None}


def test_payload_parse_valid():
    parsed = LifecyclePayload.parse(body(), event_type=E.INSTALLED, app_key="com.example.app")

    assert parsed == LifecyclePayload(
        event_type=E.INSTALLED,
        client_key="jira:1",
        base_url="https://acme.jira.test",
        shared_secret="s3cr3t",
        display_url="https://jira.acme.test",
    )
    assert "s3cr3t" not in repr(parsed)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"clientKey": None}, "lacks the clientKey field"),
        ({"clientKey": 7}, "lacks the clientKey field"),
        ({"clientKey": "x" * 256}, "clientKey is longer than 255 characters"),
        ({"clientKey": "jira:\x00"}, "clientKey contains control"),
        ({"clientKey": "forge:abc"}, "must not start with 'forge:'"),
        ({"baseUrl": "javascript:alert(1)"}, "baseUrl is not an http(s) URL"),
        ({"baseUrl": "https://acme.jira.test?x=1"}, "baseUrl is not an http(s) URL"),
        ({"baseUrl": "https://user:pw@acme.jira.test"}, "baseUrl has a fragment, credentials"),
        ({"baseUrl": "http://[::1"}, "baseUrl is not a valid URL"),
        ({"baseUrl": ["https://acme.jira.test"]}, "lacks the baseUrl field"),
        ({"sharedSecret": None}, "lacks the sharedSecret field"),
        ({"sharedSecret": "s" * 513}, "sharedSecret is longer than 512 characters"),
        ({"displayUrl": 5}, "lacks the displayUrl field"),
        ({"key": "com.other.app"}, "is for another app"),
        ({"eventType": "uninstalled"}, "eventType does not match the installed route"),
    ],
)
def test_payload_parse_rejects(changes, message):
    with pytest.raises(InvalidPayloadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LifecyclePayload.parse(body(**changes), event_type=E.INSTALLED, app_key="com.example.app")


def test_payload_parse_not_object():
    with pytest.raises(InvalidPayloadError, match="not a JSON object"):
        LifecyclePayload.parse(["clientKey"], event_type=E.INSTALLED)
