"""FakeJira speaks Jira's dialect: atlassian-python-api, an independent client, works unchanged.

atlassian-python-api's ``Jira`` class calls REST API v2, which FakeJira serves next to
v3 because the property endpoints of the two versions are identical.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import requests
from atlassian import Jira

from propledger.testing import FakeJira, FakeUser, LoggedRequest, serve

EMAIL = "admin@example.com"
API_TOKEN = "interop-api-token"
KEY = "com.example.app.flag"


@dataclass
class Served:
    fake: FakeJira
    base_url: str
    admin: FakeUser
    jira: Jira


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    fake = FakeJira()
    async with serve(fake.app) as base_url:
        site = fake.add_site(base_url, name="interop")
        admin = site.add_user(is_admin=True, display_name="Site admin")
        site.add_api_token(EMAIL, API_TOKEN, admin.account_id)
        session = requests.Session()
        # Ignore proxy settings and .netrc, so every request goes straight to 127.0.0.1.
        session.trust_env = False
        jira = Jira(url=base_url, username=EMAIL, password=API_TOKEN, cloud=True, session=session)
        try:
            yield Served(fake, base_url, admin, jira)
        finally:
            session.close()


def logged(
    served: Served,
    method: str,
    path: str,
    status: int,
    query: dict[str, str],
    body: object = None,
) -> LoggedRequest:
    return LoggedRequest(
        base_url=served.base_url,
        method=method,
        path=path,
        query=query,
        status=status,
        auth="basic",
        account_id=served.admin.account_id,
        body=body,
    )


async def test_serve_binds_loopback(served: Served) -> None:
    assert served.base_url.startswith("http://127.0.0.1:")


async def test_issue_property_roundtrip(served: Served) -> None:
    site = served.fake.sites[0]
    issue = site.add_issue()
    path = f"/rest/api/2/issue/{issue.key}/properties"
    jira = served.jira

    set_result = await asyncio.to_thread(jira.set_issue_property, issue.key, KEY, {"on": True})

    assert set_result is None
    assert issue.properties == {KEY: {"on": True}}
    assert served.fake.request_log[-1] == logged(
        served, "PUT", f"{path}/{KEY}", 201, query={}, body={"on": True}
    )

    value = await asyncio.to_thread(jira.get_issue_property, issue.key, KEY)

    assert value == {"key": KEY, "value": {"on": True}}
    assert served.fake.request_log[-1] == logged(served, "GET", f"{path}/{KEY}", 200, query={})

    keys = await asyncio.to_thread(jira.get_issue_property_keys, issue.key)

    assert keys == {"keys": [{"self": f"{served.base_url}{path}/{KEY}", "key": KEY}]}
    assert served.fake.request_log[-1] == logged(served, "GET", path, 200, query={})

    deleted = await asyncio.to_thread(jira.delete_issue_property, issue.key, KEY)

    assert deleted is None
    assert issue.properties == {}
    assert site.properties() == []
    assert served.fake.request_log[-1] == logged(served, "DELETE", f"{path}/{KEY}", 204, query={})
    assert len(served.fake.request_log) == 4


async def test_user_property_roundtrip(served: Served) -> None:
    site = served.fake.sites[0]
    user = site.add_user(display_name="Member")
    account = {"accountId": user.account_id}
    path = "/rest/api/2/user/properties"
    jira = served.jira

    await asyncio.to_thread(
        jira.user_set_property,
        account_id=user.account_id,
        key_property=KEY,
        value_property={"compact": True},
    )

    assert user.properties == {KEY: {"compact": True}}
    assert served.fake.request_log[-1] == logged(
        served, "PUT", f"{path}/{KEY}", 201, query=account, body={"compact": True}
    )

    value = await asyncio.to_thread(
        jira.user_property, account_id=user.account_id, key_property=KEY
    )

    assert value == {"key": KEY, "value": {"compact": True}}
    assert served.fake.request_log[-1] == logged(served, "GET", f"{path}/{KEY}", 200, query=account)

    keys = await asyncio.to_thread(jira.user_properties, account_id=user.account_id)

    self_url = f"{served.base_url}{path}/{KEY}?accountId={user.account_id}"
    assert keys == {"keys": [{"self": self_url, "key": KEY}]}
    assert served.fake.request_log[-1] == logged(served, "GET", path, 200, query=account)

    await asyncio.to_thread(jira.user_delete_property, account_id=user.account_id, key_property=KEY)

    assert user.properties == {}
    assert site.properties() == []
    assert served.fake.request_log[-1] == logged(
        served, "DELETE", f"{path}/{KEY}", 204, query=account
    )
    assert len(served.fake.request_log) == 4


async def test_missing_property_raises(served: Served) -> None:
    issue = served.fake.sites[0].add_issue()

    with pytest.raises(requests.HTTPError, match="does not exist"):
        await asyncio.to_thread(served.jira.get_issue_property, issue.key, KEY)

    assert served.fake.request_log[-1].status == 404


async def test_wrong_api_token_raises(served: Served) -> None:
    session = requests.Session()
    session.trust_env = False
    jira = Jira(url=served.base_url, username=EMAIL, password="wrong", cloud=True, session=session)
    issue = served.fake.sites[0].add_issue()

    with pytest.raises(requests.HTTPError, match=f"No API token of '{EMAIL}' matches"):
        await asyncio.to_thread(jira.get_issue_property_keys, issue.key)
    session.close()

    assert served.fake.request_log[-1].status == 401
    assert served.fake.request_log[-1].auth is None
