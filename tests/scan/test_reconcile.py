"""Reconcile: added, unchanged, drifted, reappeared, gone and unverified rows."""

from __future__ import annotations

import hashlib
import logging

import httpx
from tests.scan.conftest import APP_KEY, KEY_A, KEY_B, SHARED_SECRET, requests_to

from propledger.export import export_inventory
from propledger.hashing import digest_value
from propledger.jira import ConnectAuth, JiraClient
from propledger.model import EntityType, PropertyRef, RowSource, RowState
from propledger.scan import ReconcileCounts, ScanOptions, rebuild_inventory
from propledger.scope import KeyScope
from propledger.tracking import TrackedSite

SCOPE = KeyScope.for_app(APP_KEY)
ISSUES_ONLY = ScanOptions(entity_types=(EntityType.ISSUE,))


def ref(issue_id, key=KEY_A):
    return PropertyRef(EntityType.ISSUE, issue_id, key)


def tracked(installation, store, client):
    return TrackedSite(installation, store=store, client=client, scope=SCOPE, app_key=APP_KEY)


async def rebuild(store, client, installation, **kwargs):
    options = kwargs.pop("options", ISSUES_ONLY)
    return await rebuild_inventory(
        store, client, installation, SCOPE, app_key=APP_KEY, options=options, **kwargs
    )


async def inventory_text(store, installation):
    chunks = await export_inventory(store, installation.client_key, "jsonl")
    return "".join([chunk async for chunk in chunks])


async def test_unknown_property_added(site, store, client, installation):
    site.add_issue().properties[KEY_A] = {"done": 1}

    summary = await rebuild(store, client, installation)

    assert summary.counts == {EntityType.ISSUE: ReconcileCounts(found=1, added=1)}
    row = await store.get_row(installation.client_key, ref("10000"))
    assert (row.state, row.source, row.value_sha256) == (
        RowState.PRESENT,
        RowSource.SCAN,
        digest_value({"done": 1}).sha256,
    )


async def test_reordered_value_not_drift(site, store, client, installation):
    issue = site.add_issue()
    await (
        tracked(installation, store, client).issue(issue.id).set_property(KEY_A, {"b": 1, "a": "é"})
    )
    # Jira may send a value back with its members in another order.
    issue.properties[KEY_A] = {"a": "é", "b": 1}

    summary = await rebuild(store, client, installation)

    assert summary.counts[EntityType.ISSUE] == ReconcileCounts(found=1, unchanged=1)
    row = await store.get_row(installation.client_key, ref(issue.id))
    assert row.source is RowSource.WRITE


async def test_drift_detected(site, store, client, installation, caplog):
    issue = site.add_issue()
    await tracked(installation, store, client).issue(issue.id).set_property(KEY_A, {"done": 1})
    before = await store.get_row(installation.client_key, ref(issue.id))
    issue.properties[KEY_A] = {"done": 2, "edited": "elsewhere"}

    with caplog.at_level(logging.INFO, logger="propledger.scan"):
        summary = await rebuild(store, client, installation)

    assert summary.counts[EntityType.ISSUE] == ReconcileCounts(found=1, drifted=1)
    row = await store.get_row(installation.client_key, ref(issue.id))
    expected = digest_value({"done": 2, "edited": "elsewhere"})
    assert row.state is RowState.PRESENT
    assert row.source is RowSource.SCAN
    assert (row.value_sha256, row.value_size) == (expected.sha256, expected.size)
    assert row.last_written_at == before.last_written_at
    drift_records = [record for record in caplog.records if record.event == "scan.drifted"]
    assert [record.getMessage() for record in drift_records] == [
        f"Property drifted in the site: issue {issue.id} key {KEY_A}"
    ]


async def test_drift_reported_once(site, store, client, installation):
    issue = site.add_issue()
    await tracked(installation, store, client).issue(issue.id).set_property(KEY_A, 1)
    issue.properties[KEY_A] = 2

    first = await rebuild(store, client, installation)
    second = await rebuild(store, client, installation)

    assert first.counts[EntityType.ISSUE].drifted == 1
    assert second.counts[EntityType.ISSUE] == ReconcileCounts(found=1, unchanged=1)


async def test_missing_property_gone(fake, site, store, client, installation):
    issue = site.add_issue()
    await tracked(installation, store, client).issue(issue.id).set_property(KEY_A, 1)
    del issue.properties[KEY_A]
    fake.request_log.clear()

    summary = await rebuild(store, client, installation)

    assert summary.counts[EntityType.ISSUE] == ReconcileCounts(gone=1)
    row = await store.get_row(installation.client_key, ref(issue.id))
    assert row.state is RowState.GONE
    assert row.removed_at is not None
    # The scan lists the issue's keys, and reconcile lists them again before it marks
    # the row gone, because a key missing from a scan is not yet proof of absence.
    assert [(entry.method, entry.path) for entry in fake.request_log] == [
        ("POST", "/rest/api/3/search/jql"),
        ("GET", f"/rest/api/3/issue/{issue.id}/properties"),
        ("GET", f"/rest/api/3/issue/{issue.id}/properties"),
    ]


async def test_hidden_entity_unverified(site, store, client, installation, caplog):
    issue = site.add_issue()
    await tracked(installation, store, client).issue(issue.id).set_property(KEY_A, 1)
    site.hidden_issue_ids.add(issue.id)

    with caplog.at_level(logging.WARNING, logger="propledger.scan"):
        summary = await rebuild(store, client, installation)

    assert summary.counts[EntityType.ISSUE] == ReconcileCounts(unverified=1)
    row = await store.get_row(installation.client_key, ref(issue.id))
    assert row.state is RowState.PRESENT
    assert [record.getMessage() for record in caplog.records] == [
        "1 issue properties were not found and their entities returned 404, which may mean "
        "hidden; their rows are kept"
    ]


async def test_search_lag_keeps_row(fake, site, store, client, installation):
    issue = site.add_issue()
    await tracked(installation, store, client).issue(issue.id).set_property(KEY_A, 1)
    # An exact-key scope finds issues by search. A search that misses the issue
    # simulates Jira's search index lagging behind a write.
    scope = KeyScope(keys=frozenset({KEY_A}))
    options = ScanOptions(entity_types=(EntityType.ISSUE,), jql="id = 99999")

    summary = await rebuild_inventory(
        store, client, installation, scope, app_key=APP_KEY, options=options
    )

    assert summary.counts[EntityType.ISSUE] == ReconcileCounts(unchanged=1)
    row = await store.get_row(installation.client_key, ref(issue.id))
    assert row.state is RowState.PRESENT


async def test_removed_row_reappears(site, store, client, installation):
    issue = site.add_issue()
    entity = tracked(installation, store, client).issue(issue.id)
    await entity.set_property(KEY_A, 1)
    await entity.delete_property(KEY_A)
    issue.properties[KEY_A] = 3

    summary = await rebuild(store, client, installation)

    assert summary.counts[EntityType.ISSUE] == ReconcileCounts(found=1, reappeared=1)
    row = await store.get_row(installation.client_key, ref(issue.id))
    assert (row.state, row.removed_at, row.value_sha256) == (
        RowState.PRESENT,
        None,
        digest_value(3).sha256,
    )


async def test_pending_row_found_present(site, store, client, installation):
    issue = site.add_issue()
    issue.properties[KEY_A] = [1]
    digest = digest_value([1])
    await store.record_pending(
        installation.client_key,
        ref(issue.id),
        value_sha256=digest.sha256,
        value_size=digest.size,
    )

    summary = await rebuild(store, client, installation)
    row = await store.get_row(installation.client_key, ref(issue.id))

    assert summary.counts[EntityType.ISSUE] == ReconcileCounts(found=1, unchanged=1)
    assert row.state is RowState.PRESENT


async def test_out_of_scope_key_ignored(fake, site, store, client, installation):
    issue = site.add_issue()
    issue.properties["com.other.vendor.data"] = {"theirs": True}
    issue.properties[KEY_B] = "ours"
    await store.record_pending(
        installation.client_key,
        PropertyRef(EntityType.ISSUE, issue.id, "com.retired.key"),
        value_sha256=None,
        value_size=None,
    )

    summary = await rebuild(store, client, installation)

    assert summary.counts[EntityType.ISSUE] == ReconcileCounts(found=1, added=1)
    rows = [row async for row in store.iter_inventory(installation.client_key)]
    assert sorted((row.ref.key, row.state) for row in rows) == [
        (KEY_B, RowState.PRESENT),
        ("com.retired.key", RowState.PENDING),
    ]
    assert requests_to(fake, f"/rest/api/3/issue/{issue.id}/properties/com.other.vendor.data") == []


async def test_dry_run_writes_nothing(site, store, client, installation):
    issues = [site.add_issue() for _ in range(3)]
    site_writer = tracked(installation, store, client)
    for issue in issues:
        await site_writer.issue(issue.id).set_property(KEY_A, 1)
    issues[0].properties[KEY_A] = 2
    del issues[1].properties[KEY_A]
    issues[2].properties[KEY_B] = "new"
    before = await inventory_text(store, installation)

    summary = await rebuild(store, client, installation, dry_run=True)

    assert summary.dry_run is True
    assert summary.counts[EntityType.ISSUE] == ReconcileCounts(
        found=3, added=1, unchanged=1, drifted=1, gone=1
    )
    assert await inventory_text(store, installation) == before


class WriteBeforeFirstRequest(httpx.AsyncBaseTransport):
    """Runs ``write`` once, before forwarding the first request, as a racing app would."""

    def __init__(self, inner, write):
        self.inner = inner
        self.write = write

    async def handle_async_request(self, request):
        if self.write is not None:
            write, self.write = self.write, None
            await write()
        return await self.inner.handle_async_request(request)


async def test_row_written_during_scan_kept(fake, site, store, installation):
    issue = site.add_issue()

    async def record_write():
        await store.record_pending(
            installation.client_key, ref(issue.id), value_sha256=None, value_size=None
        )

    transport = WriteBeforeFirstRequest(fake.transport(), record_write)
    auth = ConnectAuth(app_key=APP_KEY, shared_secret=SHARED_SECRET, base_url=site.base_url)
    async with JiraClient(site.base_url, auth, transport=transport) as client:
        summary = await rebuild(store, client, installation)

    assert summary.counts[EntityType.ISSUE] == ReconcileCounts()
    row = await store.get_row(installation.client_key, ref(issue.id))
    assert row.state is RowState.PENDING


async def test_tracked_write_records_canonical_digest(site, store, client, installation):
    issue = site.add_issue()

    await (
        tracked(installation, store, client)
        .issue(issue.id)
        .set_property(KEY_A, {"z": 1, "a": [True]})
    )

    row = await store.get_row(installation.client_key, ref(issue.id))
    assert row.value_sha256 == hashlib.sha256(b'{"a":[true],"z":1}').hexdigest()
    assert row.value_size == len('{"z":1,"a":[true]}')
    assert issue.properties[KEY_A] == {"z": 1, "a": [True]}
    assert list(issue.properties[KEY_A]) == ["z", "a"]
