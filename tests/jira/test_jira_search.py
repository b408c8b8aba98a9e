"""Enhanced JQL search against FakeJira: paging, page sizes and the loop guards."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx

from propledger.errors import ConfigurationError, JiraResponseError
from propledger.jira import ConnectAuth, JiraClient, RetryPolicy, search_issues
from propledger.testing import FakeJira

APP_KEY = "com.example.app"
SITE = "https://acme.jira.test"
SECRET = "a-shared-secret-of-at-least-thirty-two-bytes"


@pytest.fixture
def fake_site():
    fake = FakeJira(app_key=APP_KEY)
    site = fake.add_site(SITE)
    site.shared_secret = SECRET
    for number in range(250):
        issue = site.add_issue(project_key="ACME")
        if number % 2 == 0:
            issue.properties[f"{APP_KEY}.a"] = {"n": number}

    return fake, site


@pytest.fixture
async def client(fake_site):
    fake, _ = fake_site
    auth = ConnectAuth(app_key=APP_KEY, shared_secret=SECRET, base_url=SITE)
    async with JiraClient(
        SITE, auth, transport=fake.transport(), retry=RetryPolicy(max_attempts=1)
    ) as client:
        yield client


def search_bodies(fake: FakeJira) -> list[dict]:
    return [entry.body for entry in fake.request_log if entry.path == "/rest/api/3/search/jql"]


async def collect(iterator) -> list[dict]:
    return [issue async for issue in iterator]


async def test_ids_only_pages_of_5000(fake_site, client):
    fake, site = fake_site

    issues = await collect(search_issues(client, "project = ACME ORDER BY id"))

    assert [issue["id"] for issue in issues] == sorted(site.issues, key=int)
    assert search_bodies(fake) == [
        {"jql": "project = ACME ORDER BY id", "fields": ["id"], "maxResults": 5000}
    ]


async def test_properties_pages_of_100(fake_site, client):
    fake, _site = fake_site

    issues = await collect(search_issues(client, "project = ACME", properties=[f"{APP_KEY}.a"]))

    assert len(issues) == 250
    assert sum(1 for issue in issues if issue["properties"]) == 125
    assert len(search_bodies(fake)) == 3
    assert search_bodies(fake)[0]["maxResults"] == 100
    assert "nextPageToken" in search_bodies(fake)[1]


async def test_hidden_issues_not_returned(fake_site, client):
    _fake, site = fake_site
    hidden = sorted(site.issues, key=int)[:3]
    site.hidden_issue_ids.update(hidden)

    issues = await collect(search_issues(client, f"id in ({','.join(hidden)}, 10010)"))

    assert [issue["id"] for issue in issues] == ["10010"]


async def test_repeated_token_stops_with_warning(fake_site, client, caplog):
    fake, _site = fake_site
    fake.search_quirks.repeat_token = True

    with caplog.at_level(logging.WARNING, logger="propledger.jira"):
        issues = await collect(search_issues(client, "project = ACME", page_size=100))

    ids = [issue["id"] for issue in issues]
    assert len(ids) == len(set(ids)) == 200
    assert len(search_bodies(fake)) == 2
    assert [record.event for record in caplog.records] == ["jira.search_repeated_token"]


async def test_page_without_token_or_islast_stops(fake_site, client, caplog):
    fake, _site = fake_site
    fake.search_quirks.drop_token_after = 1

    with caplog.at_level(logging.WARNING, logger="propledger.jira"):
        issues = await collect(search_issues(client, "project = ACME", page_size=100))

    assert len(issues) == 100
    assert len(search_bodies(fake)) == 1
    assert [record.event for record in caplog.records] == ["jira.search_no_token"]


async def test_page_cap_stops(fake_site, client, caplog):
    with caplog.at_level(logging.WARNING, logger="propledger.jira"):
        issues = await collect(search_issues(client, "project = ACME", page_size=50, max_pages=2))

    assert len(issues) == 100
    assert [record.event for record in caplog.records] == ["jira.search_page_cap"]


async def test_unbounded_jql_rejected(client):
    with pytest.raises(JiraResponseError) as caught:
        await collect(search_issues(client, "ORDER BY id"))

    assert caught.value.status_code == 400
    assert "Unbounded JQL queries are not allowed here" in str(caught.value)


async def test_too_many_property_keys(client):
    with pytest.raises(ConfigurationError, match="at most 5 property keys, not 6"):
        await collect(search_issues(client, "project = ACME", properties=list("abcdef")))


@respx.mock
async def test_410_names_replacement():
    respx.post(f"{SITE}/rest/api/3/search/jql").mock(return_value=httpx.Response(410))
    auth = ConnectAuth(app_key=APP_KEY, shared_secret=SECRET, base_url=SITE)

    async with JiraClient(SITE, auth) as client:
        with pytest.raises(JiraResponseError) as caught:
            await collect(search_issues(client, "project = ACME"))

    assert str(caught.value) == (
        "Jira returned 410 Gone for /rest/api/3/search/jql: the site no longer serves this "
        "search. Use /rest/api/3/search/jql, which replaced /rest/api/3/search."
    )
