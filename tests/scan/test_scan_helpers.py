"""Value digests, request pacing, account id files and the paged listings."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import httpx
import pytest
import respx
from tests.scan.conftest import APP_KEY, SHARED_SECRET

from propledger.errors import ConfigurationError, JiraResponseError
from propledger.hashing import canonical_json, digest_value
from propledger.jira import ConnectAuth, JiraClient, RetryPolicy, search_projects, search_users
from propledger.scan import RequestPacer, read_account_ids

BASE_URL = "https://acme.jira.test"


class FakeClock:
    """A monotonic clock that only moves when the pacer sleeps."""

    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    async def sleep(self, seconds):
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def test_canonical_json_sorts_members():
    assert canonical_json({"b": [1, {"d": 1, "c": "é"}], "a": None}) == (
        '{"a":null,"b":[1,{"c":"é","d":1}]}'
    )


def test_digest_ignores_member_order():
    first = digest_value({"b": 1, "a": "ü"})

    assert first == digest_value({"a": "ü", "b": 1})
    assert first.sha256 == hashlib.sha256('{"a":"ü","b":1}'.encode()).hexdigest()
    assert first.size == len('{"a":"ü","b":1}')
    assert first != digest_value({"a": "ü", "b": 2})


async def test_pacer_spaces_starts():
    clock = FakeClock()
    pacer = RequestPacer(4.0, clock=clock, sleep=clock.sleep)

    await asyncio.gather(*(pacer.wait() for _ in range(4)))

    assert clock.sleeps == [0.25, 0.25, 0.25]
    assert clock.now == pytest.approx(100.75)


async def test_pacer_unlimited_never_sleeps():
    clock = FakeClock()
    pacer = RequestPacer(None, clock=clock, sleep=clock.sleep)

    await asyncio.gather(*(pacer.wait() for _ in range(10)))

    assert clock.sleeps == []


def test_account_ids_file(tmp_path):
    path = tmp_path / "accounts.txt"
    path.write_text("# exported from the admin page\n5b10a2844c20165700ede21g\n\n  abc-123  \n")

    assert read_account_ids(path) == ["5b10a2844c20165700ede21g", "abc-123"]


def test_account_ids_file_unreadable(tmp_path):
    path = tmp_path / "missing.txt"

    with pytest.raises(ConfigurationError) as caught:
        read_account_ids(path)

    assert str(caught.value) == (
        f"The account id file {path} cannot be read (FileNotFoundError). "
        "Give a UTF-8 text file with one account id per line."
    )


@pytest.fixture
async def client():
    auth = ConnectAuth(app_key=APP_KEY, shared_secret=SHARED_SECRET, base_url=BASE_URL)
    async with JiraClient(BASE_URL, auth, retry=RetryPolicy(max_attempts=1)) as client:
        yield client


@respx.mock
async def test_user_search_repeated_page_stops(client, caplog):
    page = [{"accountId": "a"}, {"accountId": "b"}]
    route = respx.get(f"{BASE_URL}/rest/api/3/users/search").mock(
        return_value=httpx.Response(200, json=page)
    )

    with caplog.at_level(logging.WARNING, logger="propledger.jira"):
        users = [user async for user in search_users(client, page_size=2)]

    assert users == page
    assert route.call_count == 2
    assert [record.event for record in caplog.records] == ["jira.user_search_repeated_page"]


@respx.mock
async def test_user_search_malformed_body(client):
    respx.get(f"{BASE_URL}/rest/api/3/users/search").mock(
        return_value=httpx.Response(200, json={"values": []})
    )

    with pytest.raises(JiraResponseError) as caught:
        _ = [user async for user in search_users(client)]

    assert str(caught.value) == (
        "Jira returned status 200 for GET /rest/api/3/users/search with a body that is not "
        "a JSON list of users. Check that the base URL points at a Jira Cloud site."
    )


@respx.mock
async def test_project_search_page_cap(client, caplog):
    route = respx.get(f"{BASE_URL}/rest/api/3/project/search").mock(
        return_value=httpx.Response(200, json={"isLast": False, "values": [{"id": "10000"}]})
    )

    with caplog.at_level(logging.WARNING, logger="propledger.jira"):
        projects = [project async for project in search_projects(client, max_pages=3)]

    assert len(projects) == 3
    assert [call.request.url.params["startAt"] for call in route.calls] == ["0", "1", "2"]
    assert [record.getMessage() for record in caplog.records] == [
        "Listing /rest/api/3/project/search stopped at the cap of 3 pages"
    ]


@respx.mock
async def test_project_search_empty_page_stops(client):
    route = respx.get(f"{BASE_URL}/rest/api/3/project/search").mock(
        return_value=httpx.Response(200, json={"values": []})
    )

    projects = [project async for project in search_projects(client)]

    assert projects == []
    assert route.call_count == 1
