"""Tracked writes: the inventory row comes first, and bad writes never reach Jira."""

from __future__ import annotations

import dataclasses
import hashlib

import httpx
import pytest

from propledger.errors import (
    InvalidPropertyError,
    JiraResponseError,
    JiraTransportError,
    OutOfScopeError,
    PropertyKeyError,
    PropertyValueError,
)
from propledger.ledger import Ledger
from propledger.model import EntityType, PropertyRef, RowSource, RowState
from propledger.removal import start_removal
from propledger.removal.worker import Worker
from propledger.settings import Settings
from propledger.testing import FakeJira, FakeSite

KEY = "com.example.app.checklist"


class TimeoutAfterForwarding(httpx.AsyncBaseTransport):
    """Forwards each request, then loses the response to PUTs as a read timeout would."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "PUT":
            await response.aclose()
            raise httpx.ReadTimeout("timed out", request=request)

        return response


def jira_requests(fake: FakeJira) -> list[tuple[str, str]]:
    return [(entry.method, entry.path) for entry in fake.request_log]


async def test_set_property_records_then_writes(ledger, installed: FakeSite, fake: FakeJira):
    issue = next(iter(installed.issues.values()))
    site = await ledger.site(installed.client_key)

    await site.issue(issue.id).set_property(KEY, {"items": ["a"]})

    assert issue.properties == {KEY: {"items": ["a"]}}
    assert jira_requests(fake) == [("PUT", f"/rest/api/3/issue/{issue.id}/properties/{KEY}")]
    row = await ledger.store.get_row(
        installed.client_key, PropertyRef(EntityType.ISSUE, issue.id, KEY)
    )
    assert row is not None
    assert row.state is RowState.PRESENT
    assert row.source is RowSource.WRITE
    assert row.value_size == len('{"items":["a"]}')
    assert row.value_sha256 == hashlib.sha256(b'{"items":["a"]}').hexdigest()


async def test_user_and_app_property_paths(ledger, installed: FakeSite, fake: FakeJira):
    account_id = installed.add_user().account_id
    site = await ledger.site(installed.client_key)

    await site.user(account_id).set_property("com.example.app.prefs", [1])
    await site.app().set_property("com.example.app.config", {"v": 1})

    assert [(entry.method, entry.path, entry.query) for entry in fake.request_log] == [
        ("PUT", "/rest/api/3/user/properties/com.example.app.prefs", {"accountId": account_id}),
        (
            "PUT",
            "/rest/atlassian-connect/1/addons/com.example.app/properties/com.example.app.config",
            {},
        ),
    ]
    assert installed.users[account_id].properties == {"com.example.app.prefs": [1]}
    assert installed.app_properties["com.example.app"] == {"com.example.app.config": {"v": 1}}


@pytest.mark.parametrize(
    ("key", "value", "error", "message"),
    [
        (
            "com.other.app.data",
            {"a": 1},
            OutOfScopeError,
            "The property key 'com.other.app.data' is outside the app's key scope "
            "(prefix 'com.example.app.'). Rename the key or add it to the scope.",
        ),
        (
            "com.example.app.a/b",
            {"a": 1},
            PropertyKeyError,
            "The property key 'com.example.app.a/b' contains '/', which Jira's REST API "
            "cannot read back. Use another separator, such as '.'.",
        ),
        (
            "com.example.app." + "k" * 240,
            {"a": 1},
            PropertyKeyError,
            "The property key 'com.example.app.kkkkkkkkkkkkkkkkkkkkkkkk'... is 256 "
            "characters long; Jira allows at most 255 for issue properties.",
        ),
        (
            KEY,
            "",
            PropertyValueError,
            f"The value of property {KEY!r} is empty. Jira needs a non-empty JSON value; "
            "delete the property instead of writing an empty one.",
        ),
        (
            KEY,
            "x" * 32767,
            PropertyValueError,
            f"The value of property {KEY!r} is 32769 characters of JSON; Jira allows at "
            "most 32768. Split it over several properties.",
        ),
    ],
    ids=["out-of-scope", "slash", "key-too-long", "empty-value", "value-too-long"],
)
async def test_rejected_write_sends_nothing(
    ledger, installed: FakeSite, fake: FakeJira, key, value, error, message
):
    issue_id = next(iter(installed.issues))
    site = await ledger.site(installed.client_key)

    with pytest.raises(error) as caught:
        await site.issue(issue_id).set_property(key, value)

    assert str(caught.value) == message
    assert fake.request_log == []
    assert await ledger.store.count_inventory(installed.client_key) == {}


async def test_value_not_json_rejected(ledger, installed: FakeSite, fake: FakeJira):
    site = await ledger.site(installed.client_key)

    with pytest.raises(PropertyValueError, match="is not JSON"):
        await site.issue(next(iter(installed.issues))).set_property(KEY, {"when": object()})

    assert fake.request_log == []


async def test_app_property_key_limit(ledger, installed: FakeSite, fake: FakeJira):
    site = await ledger.site(installed.client_key)
    key = "com.example.app." + "k" * 112

    with pytest.raises(PropertyKeyError, match="at most 127 for app properties"):
        await site.app().set_property(key, 1)

    assert fake.request_log == []


async def test_issue_key_instead_of_id_rejected(ledger, installed: FakeSite):
    site = await ledger.site(installed.client_key)

    with pytest.raises(InvalidPropertyError) as caught:
        site.issue("ACME-1")

    assert str(caught.value) == (
        "The issue id 'ACME-1' is not numeric. Pass the numeric id, not the key: keys "
        "change when an issue or project is moved or renamed."
    )


async def test_timed_out_put_leaves_row_removal_deletes(
    settings: Settings, installed: FakeSite, fake: FakeJira
):
    timing_out = dataclasses.replace(
        settings,
        jira_transport=TimeoutAfterForwarding(fake.transport()),
        retry_max_attempts=2,
    )
    issue_id = next(iter(installed.issues))
    ref = PropertyRef(EntityType.ISSUE, issue_id, KEY)
    async with await Ledger.open(timing_out) as ledger:
        site = await ledger.site(installed.client_key)
        with pytest.raises(JiraTransportError):
            await site.issue(issue_id).set_property(KEY, {"items": []})
        pending = await ledger.store.get_row(installed.client_key, ref)
    assert pending is not None
    assert pending.state is RowState.PENDING
    assert installed.issues[issue_id].properties == {KEY: {"items": []}}

    async with await Ledger.open(settings) as ledger:
        job, _ = await start_removal(ledger, client_key=installed.client_key, requested_by="op")
        finished = await Worker(ledger).run_once(job.id)
        removed = await ledger.store.get_row(installed.client_key, ref)

    assert finished is not None
    assert finished.state.value == "completed"
    assert installed.issues[issue_id].properties == {}
    assert removed is not None
    assert removed.state is RowState.REMOVED


async def test_delete_property_marks_row(ledger, installed: FakeSite, fake: FakeJira):
    issue_id = next(iter(installed.issues))
    site = await ledger.site(installed.client_key)
    await site.issue(issue_id).set_property(KEY, 1)

    deleted = await site.issue(issue_id).delete_property(KEY)
    again = await site.issue(issue_id).delete_property(KEY)

    ref = PropertyRef(EntityType.ISSUE, issue_id, KEY)
    row = await ledger.store.get_row(installed.client_key, ref)
    assert (deleted, again) == (True, False)
    assert row is not None
    assert row.state is RowState.GONE
    assert [entry.status for entry in fake.request_log] == [201, 204, 404]


async def test_rejected_put_discards_new_row(ledger, installed: FakeSite, fake: FakeJira):
    site = await ledger.site(installed.client_key)

    with pytest.raises(JiraResponseError) as caught:
        await site.issue("99999").set_property(KEY, {"items": []})

    assert caught.value.status_code == 404
    assert await ledger.store.count_inventory(installed.client_key) == {}
    assert [(entry.method, entry.status) for entry in fake.request_log] == [("PUT", 404)]


async def test_rejected_update_keeps_present_row(ledger, installed: FakeSite):
    issue_id = next(iter(installed.issues))
    site = await ledger.site(installed.client_key)
    await site.issue(issue_id).set_property(KEY, {"v": 1})
    installed.hidden_issue_ids.add(issue_id)

    with pytest.raises(JiraResponseError):
        await site.issue(issue_id).set_property(KEY, {"v": 2})

    row = await ledger.store.get_row(
        installed.client_key, PropertyRef(EntityType.ISSUE, issue_id, KEY)
    )
    assert row is not None
    assert row.state is RowState.PRESENT
    assert row.value_sha256 == hashlib.sha256(b'{"v":1}').hexdigest()
