"""FakeJira's routes for scans: project and user listings, the issue count."""

from __future__ import annotations

import httpx
import pytest
from tests.scan.conftest import APP_KEY, SHARED_SECRET

from propledger.connect import encode_app_token
from propledger.testing import FakeJira, FakeSite

EMAIL = "admin@example.com"
API_TOKEN = "fake-routes-token"


class AppAuth(httpx.Auth):
    def __init__(self, base_url):
        self.base_url = base_url

    def auth_flow(self, request):
        token = encode_app_token(
            app_key=APP_KEY,
            shared_secret=SHARED_SECRET,
            method=request.method,
            url=str(request.url),
            base_url=self.base_url,
        )
        request.headers["Authorization"] = f"JWT {token}"
        yield request


@pytest.fixture
async def as_app(fake: FakeJira, site: FakeSite):
    async with httpx.AsyncClient(
        transport=fake.transport(), base_url=site.base_url, auth=AppAuth(site.base_url)
    ) as client:
        yield client


@pytest.fixture
async def as_admin(fake: FakeJira, site: FakeSite):
    admin = site.add_user(is_admin=True, display_name="Site admin")
    site.add_api_token(EMAIL, API_TOKEN, admin.account_id)
    async with httpx.AsyncClient(
        transport=fake.transport(), base_url=site.base_url, auth=(EMAIL, API_TOKEN)
    ) as client:
        yield client


async def test_users_search_403_for_app(as_app):
    response = await as_app.get("/rest/api/3/users/search")

    assert response.status_code == 403
    assert response.json() == {
        "errorMessages": [
            "Connect apps cannot access this resource. Call it with a user's API token."
        ],
        "errors": {},
    }


async def test_users_search_pages(site, as_admin):
    for index in range(4):
        site.add_user(display_name=f"User {index}")

    first = await as_admin.get("/rest/api/3/users/search", params={"maxResults": "2"})
    rest = await as_admin.get(
        "/rest/api/3/users/search", params={"startAt": "2", "maxResults": "5000"}
    )
    past_end = await as_admin.get("/rest/api/3/users/search", params={"startAt": "5"})

    assert [user["displayName"] for user in first.json()] == ["Site admin", "User 0"]
    assert [user["displayName"] for user in rest.json()] == ["User 1", "User 2", "User 3"]
    assert past_end.json() == []


async def test_project_search_caps_page(site, as_app):
    for number in range(120):
        site.add_project(f"P{number:03d}")

    response = await as_app.get("/rest/api/3/project/search", params={"maxResults": "500"})

    body = response.json()
    assert (body["maxResults"], len(body["values"]), body["total"], body["isLast"]) == (
        100,
        100,
        120,
        False,
    )
    assert body["values"][0] == {
        "self": f"{site.base_url}/rest/api/3/project/{site.find_project('P000').id}",
        "id": site.find_project("P000").id,
        "key": "P000",
        "name": "Project P000",
        "projectTypeKey": "software",
        "simplified": False,
        "style": "classic",
        "isPrivate": False,
    }


@pytest.mark.parametrize("params", [{"startAt": "x"}, {"maxResults": "-1"}])
async def test_paging_invalid_400(as_app, params):
    response = await as_app.get("/rest/api/3/project/search", params=params)

    assert response.status_code == 400
    assert response.json()["errorMessages"][0].startswith("startAt and maxResults must")


async def test_count_excludes_hidden(site, as_app):
    for _ in range(5):
        site.add_issue("ACME")
    site.hidden_issue_ids.add("10001")

    counted = await as_app.post(
        "/rest/api/3/search/approximate-count", json={"jql": "project = ACME"}
    )
    unbounded = await as_app.post("/rest/api/3/search/approximate-count", json={"jql": ""})

    assert counted.json() == {"count": 4}
    assert unbounded.status_code == 400
    assert unbounded.json()["errorMessages"] == [
        "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
    ]
