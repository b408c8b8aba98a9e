"""Scanning issues: search passes for exact keys, key listings for prefixes, the guards."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx
from tests.scan.conftest import APP_KEY, KEY_A, KEY_B, KEY_C, SHARED_SECRET, requests_to

from propledger.errors import JiraResponseError
from propledger.hashing import digest_value
from propledger.jira import ConnectAuth, JiraClient, RetryPolicy
from propledger.model import EntityType, PropertyRef, RowSource, RowState
from propledger.scan import DEFAULT_JQL, ScanOptions, SiteScanner, rebuild_inventory
from propledger.scope import KeyScope

SEARCH = "/rest/api/3/search/jql"
EXACT = KeyScope(keys=frozenset({KEY_A, KEY_B, KEY_C}))
ISSUES_ONLY = ScanOptions(entity_types=(EntityType.ISSUE,))


def seed(site, count=250):
    """Create ``count`` issues; every fifth carries KEY_A, KEY_B and an unrelated key."""
    for number in range(count):
        issue = site.add_issue(project_key="ACME")
        if number % 5 == 0:
            issue.properties[KEY_A] = {"n": number}
            issue.properties[KEY_B] = ["b", number]
            issue.properties["other.vendor.key"] = {"secret": "not ours"}


def issue_refs(site, keys):
    return {
        PropertyRef(EntityType.ISSUE, issue.id, key): digest_value(issue.properties[key])
        for issue in site.issues.values()
        for key in keys
        if key in issue.properties
    }


async def test_exact_keys_one_search_pass(fake, site, client):
    seed(site)
    scanner = SiteScanner(client, EXACT, app_key=APP_KEY, options=ISSUES_ONLY)

    found = await scanner.scan(EntityType.ISSUE)

    assert found == issue_refs(site, [KEY_A, KEY_B])
    bodies = [entry.body for entry in requests_to(fake, SEARCH)]
    assert len(bodies) == 3
    assert bodies[0] == {
        "jql": DEFAULT_JQL,
        "fields": ["id"],
        "maxResults": 100,
        "properties": [KEY_A, KEY_B, KEY_C],
    }
    assert [set(body) for body in bodies[1:]] == [set(bodies[0]) | {"nextPageToken"}] * 2
    assert [entry.path for entry in fake.request_log] == [SEARCH] * 3


async def test_six_keys_two_passes(fake, site, client):
    seed(site, count=10)
    keys = [f"{APP_KEY}.k{number}" for number in range(6)]
    site.issues["10003"].properties[keys[5]] = "sixth"
    scanner = SiteScanner(client, KeyScope(keys=frozenset(keys)), app_key=APP_KEY)

    found = await scanner.scan(EntityType.ISSUE)

    assert found == {PropertyRef(EntityType.ISSUE, "10003", keys[5]): digest_value("sixth")}
    assert [entry.body["properties"] for entry in requests_to(fake, SEARCH)] == [
        keys[:5],
        keys[5:],
    ]


async def test_prefix_lists_each_issue(fake, site, client):
    seed(site, count=12)
    scanner = SiteScanner(client, KeyScope.for_app(APP_KEY), app_key=APP_KEY)

    found = await scanner.scan(EntityType.ISSUE)

    assert found == issue_refs(site, [KEY_A, KEY_B])
    assert requests_to(fake, SEARCH)[0].body == {
        "jql": DEFAULT_JQL,
        "fields": ["id"],
        "maxResults": 5000,
    }
    listings = sorted(
        (entry.method, entry.path) for entry in fake.request_log if entry.path != SEARCH
    )
    expected = [("GET", f"/rest/api/3/issue/{issue_id}/properties") for issue_id in site.issues]
    for issue_id in ("10000", "10005", "10010"):
        for key in (KEY_A, KEY_B):
            expected.append(("GET", f"/rest/api/3/issue/{issue_id}/properties/{key}"))
    assert listings == sorted(expected)


async def test_progress_counts_issues(fake, site, client):
    seed(site, count=150)
    calls = []
    scanner = SiteScanner(client, EXACT, app_key=APP_KEY, progress=lambda *args: calls.append(args))

    await scanner.scan(EntityType.ISSUE)

    assert calls[0] == (EntityType.ISSUE, 0, 150)
    assert calls[-1] == (EntityType.ISSUE, 150, 150)
    assert len(calls) == 151
    assert requests_to(fake, "/rest/api/3/search/approximate-count")[0].body == {"jql": DEFAULT_JQL}


async def test_repeated_token_stops_without_duplicates(
    fake, site, client, store, installation, caplog
):
    seed(site)
    fake.search_quirks.repeat_token = True

    with caplog.at_level(logging.WARNING, logger="propledger.jira"):
        summary = await rebuild_inventory(
            store, client, installation, EXACT, app_key=APP_KEY, options=ISSUES_ONLY
        )

    first_two_pages = {
        ref for ref in issue_refs(site, [KEY_A, KEY_B]) if int(ref.entity_id) < 10200
    }
    rows = [row async for row in store.iter_inventory(installation.client_key)]
    assert [record.event for record in caplog.records] == ["jira.search_repeated_token"]
    assert caplog.records[0].getMessage() == (
        "Search returned a nextPageToken it had returned before; stopping"
    )
    assert len(requests_to(fake, SEARCH)) == 2
    assert sorted((row.ref for row in rows), key=str) == sorted(first_two_pages, key=str)
    assert len(rows) == len({row.ref for row in rows}) == 80
    assert summary.counts[EntityType.ISSUE].found == 80
    assert summary.counts[EntityType.ISSUE].added == 80


async def test_page_without_token_or_islast_stops(fake, site, client, store, installation, caplog):
    seed(site)
    fake.search_quirks.drop_token_after = 1

    with caplog.at_level(logging.WARNING, logger="propledger.jira"):
        summary = await rebuild_inventory(
            store, client, installation, EXACT, app_key=APP_KEY, options=ISSUES_ONLY
        )

    assert [record.event for record in caplog.records] == ["jira.search_no_token"]
    assert caplog.records[0].getMessage() == (
        "Search page has neither nextPageToken nor isLast; treating it as the last"
    )
    assert len(requests_to(fake, SEARCH)) == 1
    assert summary.counts[EntityType.ISSUE].found == 40


async def test_found_rows_are_scan_rows(fake, site, client, store, installation):
    seed(site, count=5)

    await rebuild_inventory(
        store, client, installation, EXACT, app_key=APP_KEY, options=ISSUES_ONLY
    )

    row = await store.get_row(
        installation.client_key, PropertyRef(EntityType.ISSUE, "10000", KEY_A)
    )
    assert row is not None
    assert row.state is RowState.PRESENT
    assert row.source is RowSource.SCAN
    assert row.value_sha256 == digest_value({"n": 0}).sha256
    assert row.value_size == len('{"n":0}')
    assert row.first_written_at == row.last_written_at


async def test_hidden_issues_not_found(fake, site, client):
    seed(site, count=10)
    site.hidden_issue_ids.add("10005")
    scanner = SiteScanner(client, EXACT, app_key=APP_KEY)

    found = await scanner.scan(EntityType.ISSUE)

    assert {ref.entity_id for ref in found} == {"10000"}


@respx.mock
async def test_search_410_names_replacement(store, installation):
    respx.post(f"{installation.base_url}{SEARCH}").mock(return_value=httpx.Response(410))
    auth = ConnectAuth(app_key=APP_KEY, shared_secret=SHARED_SECRET, base_url=installation.base_url)

    async with JiraClient(installation.base_url, auth, retry=RetryPolicy(max_attempts=1)) as client:
        with pytest.raises(JiraResponseError) as caught:
            await rebuild_inventory(
                store, client, installation, EXACT, app_key=APP_KEY, options=ISSUES_ONLY
            )

    assert caught.value.status_code == 410
    assert str(caught.value) == (
        "Jira returned 410 Gone for /rest/api/3/search/jql: the site no longer serves this "
        "search. Use /rest/api/3/search/jql, which replaced /rest/api/3/search."
    )
